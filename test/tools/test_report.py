"""Scoring before and after the event, and the report that shows it; the rendering is checked
in a real headless Chromium (from the distribution's packages, installed by ``make setup``
where it can install system packages), which also saves a screenshot under the test's tmp."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from cosmos_reason_ros.core.alerts import AlertState
from cosmos_reason_ros.core.decision import Decision
from cosmos_reason_ros.tools.alert_scoring import RuleJudgment, RuleTimeline, score_rule
from cosmos_reason_ros.tools.report import (
    AFTER,
    BEFORE,
    EvalRunFacts,
    Phases,
    ReportEntry,
    summarize,
    thumbnail,
)
from cosmos_reason_ros.tools.report_html import render_report

S = 1_000_000_000
START = 1_700_000_000 * S
PHASES = Phases(
    event="ball_rolling",
    start_ns=START,
    event_ns=START + 2 * S,
    expected_before=("continue", "slow_down"),
    expected_after=("stop", "move_back"),
    actions=("continue", "slow_down", "stop", "move_back", "wait"),
)


def entry(t_s: float, action: str, valid: bool = True, decision_id: int = 1) -> ReportEntry:
    stamp = START + round(t_s * S)
    d = Decision(
        decision_id=decision_id,
        action=action,
        valid=valid,
        reason="r",
        question="q",
        stamp_ns=stamp,
        window_start_ns=stamp - S,
        frame_count=2,
    )
    d = dataclasses.replace(d, timings=dataclasses.replace(d.timings, latency_s=0.1 * decision_id))
    frames = tuple(
        thumbnail("/cam", s, np.full((48, 64, 3), 80, np.uint8)) for s in (stamp - S, stamp)
    )
    phase, expected, correct = PHASES.score(d)
    return ReportEntry(d, frames, correct, phase, expected)


def entries() -> list[ReportEntry]:
    plan = [
        (1.0, "continue", True),  # before, correct
        (2.0, "stop", True),  # exactly at the event: before, so a false alarm
        (2.5, "continue", True),  # after: a miss
        (3.0, "stop", True),  # after, correct
        (3.5, "stop", False),  # after, fallback: correct but invalid
    ]
    return [entry(t, a, v, i + 1) for i, (t, a, v) in enumerate(plan)]


def summary(items: list[ReportEntry]) -> dict[str, object]:
    s = summarize(
        items,
        [e.decision.timings.latency_s for e in items],
        scored=True,
        run=EvalRunFacts(
            bag="/tmp/x/ball",
            model="/tmp/cosmos_tiny_abc/model",
            backend="transformers",
            topics=("/cam",),
            questions=("q",),
            every_s=0.5,
            backend_errors=0,
            frames_read=10,
            frames_decoded=10,
            decode_errors=0,
            out_dir="/tmp/x/eval",
            wall_s=1.234567,
        ),
    )
    return {**s.to_dict(), "labels": {"event": "ball_rolling", "event_time_from_start_s": 2.0}}


def test_a_decision_exactly_at_the_event_counts_before_it_and_each_phase_is_scored() -> None:
    items = entries()
    assert [e.phase for e in items] == [BEFORE, BEFORE, AFTER, AFTER, AFTER]
    s = summary(items)
    assert (s["scored_before"], s["false_alarms"], s["false_alarm_rate"]) == (2, 1, 0.5)
    assert (s["scored_after"], s["misses"]) == (3, 1)
    assert (s["scored"], s["correct"], s["correct_valid"]) == (5, 3, 2)
    assert s["confusion"] == {
        BEFORE: {"continue": 1, "stop": 1},
        AFTER: {"continue": 1, "stop": 2},
    }
    assert "exactly at the event time" in str(s["phase_rule"])


def test_the_report_shows_verdicts_expected_actions_and_frames_after_the_event() -> None:
    html = render_report(entries(), summary(entries()), "Eval", PHASES)
    classes = re.findall(r'<section class="decision ([a-z]+)" id="decision-(\d+)">', html)
    verdicts = ["correct", "wrong", "wrong", "correct", "invalid"]
    assert classes == [(v, str(i + 1)) for i, v in enumerate(verdicts)]
    assert "(expected continue or slow_down)" in html and "(expected stop or move_back)" in html
    # Frames (newest - 1 s, newest) later than 2.0 s: 2.5 | 3.0 | 2.5, 3.5.
    assert html.count('<figure class="after-event">') == 4
    assert "/tmp/" not in html, "no temporary paths in the report"
    assert "1.23 s" in html and "1.234567" not in html
    assert 'id="summary-table"' in html and 'id="confusion-table"' in html
    assert html.count("<svg") == 2


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    pytest.skip("no Chromium here: `make setup` installs it where it can install system packages")


def _render(
    browser: str, html: str, out: Path, selectors: list[str], rows_of: str
) -> tuple[list[tuple[int, int]], int]:
    """Render ``html`` in headless Chromium (a screenshot beside ``out``): the size of each of
    ``selectors`` as laid out, and the number of rows of table ``rows_of``."""
    probe = (
        "<script>window.addEventListener('load', () => {"
        "const box = s => { const e = document.querySelector(s);"
        " if (!e) return '0x0'; const r = e.getBoundingClientRect();"
        " return Math.round(r.width) + 'x' + Math.round(r.height); };"
        f"document.body.dataset.probe = {json.dumps(selectors)}.map(box).join(',');"
        f"document.body.dataset.rows = document.querySelectorAll('{rows_of} tr').length;"
        "});</script>"
    )
    out.write_text(html.replace("</body>", probe + "</body>"), encoding="utf-8")
    flags = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    flags += ["--window-size=1300,2600", "--virtual-time-budget=5000"]
    dom = subprocess.run(
        [*flags, "--dump-dom", out.as_uri()],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    probe_values = re.search(r'data-probe="([^"]*)"', dom.stdout)
    assert probe_values, "the page's script ran and wrote what it measured"
    sizes = [tuple(map(int, v.split("x"))) for v in probe_values.group(1).split(",")]
    rows = re.search(r'data-rows="(\d+)"', dom.stdout)
    assert rows, "the page's script counted the table's rows"
    shot = out.with_suffix(".png")
    subprocess.run(
        [*flags, f"--screenshot={shot}", out.as_uri()],
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert shot.stat().st_size > 10_000
    print(f"screenshot: {shot}")
    return [(w, h) for w, h in sizes], int(rows.group(1))


def test_the_report_renders_in_headless_chromium_with_its_table_and_both_plots(
    tmp_path: Path,
) -> None:
    browser = _chromium()
    html = render_report(entries(), summary(entries()), "Eval", PHASES)
    selectors = ["#summary-table", "#timeline-plot svg", "#latency-plot svg", "#confusion-table"]
    sizes, rows = _render(browser, html, tmp_path / "report.html", selectors, "#summary-table")
    assert all(w > 100 and h > 50 for w, h in sizes), sizes
    assert rows >= 20


def alert_timelines() -> list[RuleTimeline]:
    """Two rules judged every 0.5 s: ``fall`` raised 0.5 s into its event and cleared after it,
    ``smoke`` raised once with no event (a false alarm)."""
    states = {
        "fall": {3.0: AlertState.RAISED, 4.5: AlertState.CLEARED},
        "smoke": {1.5: AlertState.RAISED},
    }
    events = {"fall": ((START + int(2.5 * S), START + 4 * S),), "smoke": ()}
    return [
        RuleTimeline(
            rule,
            tuple(
                RuleJudgment(
                    START + int(t * S),
                    None if t == 2.0 else t in (1.0, 1.5, 3.0, 3.5),
                    states[rule].get(t),
                )
                for t in np.arange(0.5, 5.01, 0.5).tolist()
            ),
            events[rule],
        )
        for rule in ("fall", "smoke")
    ]


def test_the_alert_section_renders_its_table_and_timeline_in_headless_chromium(
    tmp_path: Path,
) -> None:
    browser = _chromium()
    timelines = alert_timelines()
    scores = [score_rule(t.rule, t.judgments, t.events, start_ns=START) for t in timelines]
    assert (scores[0].detected, scores[0].delays_s, scores[0].false_alarms) == (1, (0.5,), 0)
    assert (scores[1].raises, scores[1].false_alarms, scores[1].precision) == (1, 1, 0.0)
    items = entries()
    data = {**summary(items), "alerts": [s.to_dict() for s in scores], "alert_judgments": 10}
    html = render_report(items, data, "Eval", PHASES, alerts=timelines)
    assert "false alarms per hour" in html and "alert judgments" in html
    selectors = ["#alert-table", "#alert-timeline-plot svg"]
    sizes, rows = _render(browser, html, tmp_path / "alerts.html", selectors, "#alert-table")
    assert all(w > 100 and h > 30 for w, h in sizes), sizes
    assert rows == 3  # the header and one row per rule
