"""The soak tool: its arithmetic checked by hand, then a few seconds of the real thing (node in a
child process with its probe, real DDS, tiny model).

No timing asserts on the real run: the machine may be busy. What must hold anyway: the report has
every section and figure, decisions of both triggers were made and measured, every NextAction
was valid or an explained fallback, and the JSON report says the same as the printed one.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import pytest

from cosmos_reason_ros.bench.soak import _parser, settings_of
from cosmos_reason_ros.bench.soak_figures import (
    DecisionSeen,
    Spread,
    floors,
    memory_trend,
    percentile,
    slope_per_10_min,
    slot_fill,
)
from cosmos_reason_ros.bench.soak_report import CAMERAS, SoakSettings, classify
from cosmos_reason_ros.config import SPEC_BY_NAME


def test_classify_accepts_valid_allowed_actions_and_explained_fallbacks_only() -> None:
    allowed = {"stop", "wait"}
    act = SimpleNamespace
    assert classify(act(valid=True, action="wait", reason=""), allowed, "stop") == "valid"
    assert classify(act(valid=False, action="stop", reason="stale"), allowed, "stop") == "fallback"
    assert "not allowed" in classify(act(valid=True, action="fly", reason="x"), allowed, "stop")
    assert "invalid" in classify(act(valid=False, action="stop", reason=" "), allowed, "stop")
    assert "invalid" in classify(act(valid=False, action="wait", reason="x"), allowed, "stop")


def test_options_give_the_settings_and_the_node_parameters_default_to_the_nodes() -> None:
    settings = settings_of(_parser().parse_args(["--minutes", "2", "--fast"]))
    assert (settings.minutes, settings.fast) == (2.0, True)
    assert settings.decision_period_s == SPEC_BY_NAME["decision_period_s"].default
    assert settings.max_frame_age_s == SoakSettings().max_frame_age_s, "a target, not the node's"
    given = settings_of(_parser().parse_args(["--decision-period-s", "0.5"]))
    assert given.decision_period_s == 0.5


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert [percentile(values, q) for q in (50, 95, 100)] == [50.0, 95.0, 100.0]
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert math.isnan(percentile([], 50))


def test_slope_is_in_mb_per_10_minutes() -> None:
    assert slope_per_10_min([(0.0, 100.0), (600.0, 105.0)]) == pytest.approx(5.0)
    flat = [(float(t), 1000.0 + (3.0 if t % 2 else -3.0)) for t in range(0, 600, 3)]
    assert abs(slope_per_10_min(flat)) < 0.1
    assert math.isnan(slope_per_10_min([(1.0, 1.0)]))


def test_a_decisions_working_set_does_not_read_as_growth() -> None:
    """Once-a-second RSS swings by 400 MB with each decision's working set; the decision-end
    samples carry a 2 MB/10 min leak, and only that is measured."""
    seconds = range(0, 600)
    swinging = [(float(t), 1000.0 + (400.0 if (t % 7) < 3 else 0.0)) for t in seconds]
    ends = [(float(t), 1000.0 + t * 2.0 / 600) for t in range(60, 600, 7)]
    trend = memory_trend(ends, swinging, warmup_s=60.0)
    assert trend.source == "decision ends"
    assert trend.slope_mb_per_10_min == pytest.approx(2.0, abs=0.01)
    assert trend.plateau(5.0)
    leaking = memory_trend([(t, v + t * 10.0 / 600) for t, v in ends], swinging, 60.0)
    assert leaking.slope_mb_per_10_min == pytest.approx(12.0, abs=0.01)
    assert not leaking.plateau(5.0)
    assert [m for m, _ in trend.per_minute()] == [m + 0.5 for m in range(1, 10)]


def test_without_decision_ends_the_floors_of_30_s_windows_stand_in() -> None:
    samples = [(float(t), 1000.0 + (300.0 if t % 10 else 0.0) + t / 60) for t in range(301)]
    fl = floors(samples, start_s=0.0)
    assert [t for t, _ in fl] == [15.0 + 30.0 * k for k in range(10)]
    trend = memory_trend([], samples, warmup_s=0.0)
    assert trend.source == "30 s floors"
    assert trend.slope_mb_per_10_min == pytest.approx(10.0, abs=0.5)


def test_slot_fill_is_kept_frames_over_slots() -> None:
    assert slot_fill(2400, 600.0, 4.0) == 1.0
    assert slot_fill(2280, 600.0, 4.0) == pytest.approx(0.95)
    assert math.isnan(slot_fill(0, 0.0, 4.0))


def test_frame_age_at_start_is_published_minus_latency_minus_stamp() -> None:
    seen = DecisionSeen(
        decision_id=3,
        latency_s=2.0,
        published_ns=10_000_000_000,
        newest_frame_ns=7_900_000_000,
        received_s=0.0,
    )
    assert seen.age_at_start_s == pytest.approx(0.1)
    arrived_during_snapshot = DecisionSeen(3, 2.0, 10_000_000_000, 8_050_000_000, 0.0)
    assert arrived_during_snapshot.age_at_start_s == 0.0


def test_spread_and_its_steadiness() -> None:
    spread = Spread.of([1.0] * 19 + [3.0])
    assert (spread.n, spread.p50, spread.p95, spread.max) == (20, 1.0, 1.0, 3.0)
    assert "p95 1.000 s" in spread.text()
    assert Spread.of([]).n == 0


@pytest.mark.slow
@pytest.mark.ros
def test_short_soak_reports_every_figure_and_judges_it(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    pytest.importorskip("rclpy", reason="rclpy is not importable: run `make setup` / `make test`")
    from cosmos_reason_ros.bench.soak import run_soak
    from cosmos_reason_ros.bench.soak_report import format_report, write_json

    settings = SoakSettings(
        minutes=0.5,
        width=320,
        height=240,
        rate_hz=15.0,
        decision_period_s=1.0,
        ask_period_s=2.0,
        warmup_s=5.0,
        fast=True,
        model_dir=str(tiny_model_dir),
    )
    report = run_soak(settings, log_dir=tmp_path)

    assert report.alive_at_end and report.exit_code == 0, report.node_log_tail
    assert report.decisions_made > 0 and report.actions_bad == ()
    assert report.periodic_latency.n > 0 and report.ask_latency.n > 0
    assert report.frame_age.n == report.periodic_latency.n + report.ask_latency.n
    assert all(0.0 <= d[3] < 30.0 and d[4] > 0 for d in report.decisions)
    assert [c.topic for c in report.cameras] == [t for t, _ in CAMERAS]
    assert all(c.published > 0 and c.received > 0 for c in report.cameras)
    assert all(c.kept_after_warmup > 0 and 0 < c.slot_fill <= 1.05 for c in report.cameras)
    assert report.rss.source == "decision ends" and len(report.rss.points) >= 3
    assert report.heap["last"]["heap_in_use_mb"] > 0 and report.heap["last"]["gc_objects"] > 0
    assert len(report.rss_samples) >= 20 and report.threads_end > 0
    names = [v.name for v in report.verdicts]
    assert names == [
        "rss_slope",
        "slots_filled",
        "frame_age",
        "latency_periodic",
        "latency_ask",
        "asks_answered",
        "no_crash",
        "decisions_valid",
    ]
    assert {v.name for v in report.verdicts if v.passed} >= {"no_crash", "decisions_valid"}
    lines = format_report(report)
    for prefix in (
        "machine:",
        "rss over time (decision ends",
        "rss: slope after warm-up",
        "rss plateau test:",
        "heap (node",
        "newest-frame age at inference start:",
        "latency periodic:",
        "latency ask:",
        "asks:",
        "next_action:",
    ):
        assert any(line.startswith(prefix) for line in lines), (prefix, lines)
    assert sum("slots filled" in line for line in lines) == len(CAMERAS)
    assert lines[-1] == f"soak: {'PASS' if report.passed else 'FAIL'}"
    write_json(report, tmp_path / "soak.json")
    data = json.loads((tmp_path / "soak.json").read_text())
    assert data["passed"] == report.passed
    assert [v["name"] for v in data["verdicts"]] == names
    assert len(data["decisions"]) == report.frame_age.n
