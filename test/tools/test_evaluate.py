"""Offline evaluation: the real engine and the tiny checkpoint over a real scenario bag."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from cosmos_reason_ros.core.alerts import AlertState
from cosmos_reason_ros.core.decision import Decision
from cosmos_reason_ros.tools.alert_scoring import RuleJudgment, score_rule
from cosmos_reason_ros.tools.eval_cli import load_questions, main
from cosmos_reason_ros.tools.evaluate import EvalError, evaluate
from cosmos_reason_ros.tools.report import EvalRunFacts, ReportEntry, summarize, thumbnail
from cosmos_reason_ros.tools.report_html import render_report
from cosmos_reason_ros.tools.scenario import ACTIONS, START_NS, load_labels, write_scenario

pytest.importorskip("transformers", reason="the transformers backend needs transformers")


def test_eval_on_a_scenario_bag_writes_decisions_summary_and_report_that_agree(
    tmp_path: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 11 frames at 5 Hz (0.0 .. 2.0 s) on a raw and a JPEG topic; event at 0.8 s.
    info = write_scenario(
        tmp_path / "ball.mcap",
        duration_s=2.2,
        rate_hz=5.0,
        width=160,
        height=120,
        compressed=True,
    )
    questions = tmp_path / "questions.yaml"
    questions.write_text('- What should the robot do next?\n- "Is <b>it</b> safe & clear?"\n')
    out = tmp_path / "eval"
    status = main(
        [
            str(tmp_path / "ball.mcap"),
            "--model",
            str(tiny_model_dir),
            "--questions",
            str(questions),
            "--decision-period-s",
            "1.0",
            "--labels",
            str(info.labels_path),
            "--out",
            str(out),
            "--device",
            "cpu",
            "--max-new-tokens",
            "160",
            "--set",
            "max_thinking_tokens=4",
            "--seed",
            "1",
            "--no-progress",
        ]
    )
    assert status == 0, capsys.readouterr().err
    assert "4 decisions" in capsys.readouterr().out

    lines = (out / "decisions.jsonl").read_text().splitlines()
    decisions = [json.loads(ln) for ln in lines]
    summary = json.loads((out / "summary.json").read_text())
    report = (out / "report.html").read_text()

    # Two decision times (1.0 s and 2.0 s of bag time) x two questions.
    assert [d["decision_id"] for d in decisions] == [1, 2, 3, 4]
    assert [d["stamp_ns"] for d in decisions] == [START_NS + 10**9] * 2 + [
        START_NS + 2 * 10**9
    ] * 2
    assert [d["question"] for d in decisions[:2]] == [
        "What should the robot do next?",
        "Is <b>it</b> safe & clear?",
    ]
    # The raw topic is used, its JPEG twin left out; frames at 4 fps from a 5 Hz camera.
    assert summary["topics"] == ["/camera/image_raw"]
    assert all(list(d["frame_stamps_ns"]) == ["/camera/image_raw"] for d in decisions)
    assert decisions[0]["frame_count"] == 4  # 5 kept; an even count goes to the model
    assert all(d["action"] in ACTIONS for d in decisions)

    valid = sum(d["valid"] for d in decisions)
    assert summary["decisions"] == len(decisions) == 4
    assert summary["valid"] == valid
    assert summary["validity_rate"] == pytest.approx(valid / 4)
    assert summary["actions"] == {
        a: sum(d["action"] == a for d in decisions) for a in {d["action"] for d in decisions}
    }
    latencies = sorted(d["timings"]["latency_s"] for d in decisions)
    assert summary["latency_max_s"] == pytest.approx(latencies[-1])
    assert latencies[0] <= summary["latency_p50_s"] <= summary["latency_p95_s"] <= latencies[-1]
    # Both decision times are after the event (0.8 s): every decision is scored.
    expected = set(summary["labels"]["expected_actions"])
    correct = sum(d["action"] in expected for d in decisions)
    assert summary["scored"] == 4
    assert summary["correct"] == correct
    assert summary["accuracy"] == pytest.approx(correct / 4)
    assert summary["correct_valid"] == sum(
        d["action"] in expected and d["valid"] for d in decisions
    )
    assert summary["frames_read"] == 11
    assert summary["frames_decoded"] == 9  # 4 fps over 2.0 s
    assert summary["decode_errors"] == 0

    sections = re.findall(r'<section class="decision [a-z]+" id="decision-(\d+)">', report)
    assert sections == ["1", "2", "3", "4"]
    frames_shown = sum(d["frame_count"] for d in decisions)
    assert report.count('src="data:image/jpeg;base64,') == frames_shown
    assert "Is &lt;b&gt;it&lt;/b&gt; safe &amp; clear?" in report
    assert "<b>it</b>" not in report


def test_report_escapes_model_output_and_shows_one_section_per_decision() -> None:
    import numpy as np

    hostile = Decision(
        decision_id=7,
        action="stop",
        valid=False,
        reason="<img src=x onerror=alert(1)>",
        thinking="</pre><script>alert('think')</script>",
        raw_text="<script>raw</script>",
        question="q",
        target="<i>box</i>",
        parameters=(("d<", "1&2"),),
        stamp_ns=START_NS,
        window_start_ns=START_NS,
        frame_count=1,
    )
    frame = np.zeros((120, 160, 3), np.uint8)
    entry = ReportEntry(hostile, (thumbnail("/cam<1>", START_NS, frame),), correct=True)
    html = render_report([entry, entry], {"note": "<b>summary</b>"}, title="T<itle>")
    assert "<script>" not in html and "<img src=x" not in html and "<i>box</i>" not in html
    assert "&lt;script&gt;alert(&#x27;think&#x27;)&lt;/script&gt;" in html
    assert "d&lt;=1&amp;2" in html and "/cam&lt;1&gt;" in html
    assert "&lt;b&gt;summary&lt;/b&gt;" in html and "<title>T&lt;itle&gt;</title>" in html
    assert html.count('<section class="decision invalid" id="decision-7">') == 2


def test_summary_of_no_decisions_is_zero_not_an_error() -> None:
    summary = summarize(
        [],
        [],
        scored=True,
        run=EvalRunFacts(
            bag="b",
            model="m",
            backend="transformers",
            topics=("/c",),
            questions=("q",),
            every_s=1.0,
            backend_errors=0,
            frames_read=0,
            frames_decoded=0,
            decode_errors=0,
            out_dir="o",
            wall_s=0.0,
        ),
    )
    assert (summary.decisions, summary.valid, summary.validity_rate) == (0, 0, 0.0)
    assert summary.accuracy is None and summary.accuracy_valid is None
    assert not math.isnan(summary.latency_p50_s)
    assert json.dumps(summary.to_dict())


def test_questions_come_from_a_yaml_list_or_one_per_line(tmp_path: Path) -> None:
    listed = tmp_path / "q.yaml"
    listed.write_text("- What now?\n- 'Is the path clear: yes or no?'\n")
    assert load_questions(listed) == ("What now?", "Is the path clear: yes or no?")
    lines = tmp_path / "q.txt"
    lines.write_text("# comment\nWhat now?\n\nDanger: what is it?\n")
    assert load_questions(lines) == ("What now?", "Danger: what is it?")
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n\n")
    with pytest.raises(EvalError, match="no questions in"):
        load_questions(empty)


def test_a_bad_topic_or_bag_fails_before_any_model_is_loaded(tmp_path: Path) -> None:
    write_scenario(tmp_path / "s.db3", duration_s=1.0, rate_hz=4.0, width=64, height=48)
    missing_model = str(tmp_path / "no_such_model")
    with pytest.raises(EvalError, match=r"not image topics of this bag: /lidar"):
        evaluate(tmp_path / "s", model=missing_model, out_dir=tmp_path / "o", topics=["/lidar"])
    with pytest.raises(EvalError, match="no rosbag2 directory"):
        evaluate(tmp_path / "nope", model=missing_model, out_dir=tmp_path / "o")
    with pytest.raises(EvalError, match=r"decision_period_s \(every_s\) must be > 0"):
        evaluate(tmp_path / "s", model=missing_model, out_dir=tmp_path / "o", every_s=0.0)
    with pytest.raises(EvalError, match="fallback"):
        evaluate(tmp_path / "s", model=missing_model, out_dir=tmp_path / "o", fallback="")
    assert not (tmp_path / "o").exists()


def test_eval_of_alert_rules_on_a_labelled_bag_writes_the_rule_table_and_timeline(
    tmp_path: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The tiny model's verdicts are noise: what is checked is that every judgment is recorded,
    each rule's states follow the tracker's rules, and the scores are those of its states."""
    info = write_scenario(
        tmp_path / "fall.mcap",
        event="person_falling",
        duration_s=3.2,
        rate_hz=5.0,
        width=160,
        height=120,
    )
    out = tmp_path / "eval"
    status = main(
        [
            str(info.bag_path),
            "--model",
            str(tiny_model_dir),
            "--labels",
            str(info.labels_path),
            "--alerts-from-labels",
            "--alert-period-s",
            "0.5",
            "--decision-period-s",
            "0",  # no decisions: only the rules are judged
            "--out",
            str(out),
            "--device",
            "cpu",
            "--max-new-tokens",
            "200",
            "--set",
            "max_thinking_tokens=4",
            "--set",
            "alerts.person_fallen.min_consecutive=1",
            "--set",
            "alerts.person_fallen.clear_after=1",
            "--no-progress",
        ]
    )
    printed = capsys.readouterr()
    assert status == 0, printed.err
    assert "alert person_fallen: precision" in printed.out
    assert "alert machine_smoke: precision" in printed.out
    lines = [json.loads(ln) for ln in (out / "alerts.jsonl").read_text().splitlines()]
    summary = json.loads((out / "summary.json").read_text())
    report = (out / "report.html").read_text()
    # Judged every 0.5 s of bag time (frames 0.0 .. 3.0 s): at 0.4, 1.0, 1.4, 2.0, 2.4, 3.0 s.
    assert len(lines) == summary["alert_judgments"] == 6
    assert summary["decisions"] == 0
    assert [ln["judgment_id"] for ln in lines] == list(range(1, 7))
    assert summary["alert_judgments_valid"] == sum(ln["valid"] for ln in lines)
    scores = {s["rule"]: s for s in summary["alerts"]}
    assert list(scores) == ["person_fallen", "machine_smoke"]
    labels = load_labels(info.labels_path)
    events = {a.rule: a.events for a in labels.alerts}
    assert events["person_fallen"] == ((START_NS + 10**9, START_NS + 3 * 10**9),)
    for rule, score in scores.items():
        judged = [
            RuleJudgment(
                ln["stamp_ns"],
                ln["verdicts"][rule]["verdict"] if rule in ln["verdicts"] else None,
                AlertState[ln["states"][rule]] if rule in ln["states"] else None,
            )
            for ln in lines
        ]
        expected = score_rule(
            rule, judged, events[rule], start_ns=START_NS, grace_ns=summary_grace(summary)
        )
        assert score == json.loads(json.dumps(expected.to_dict())), rule
        # min_consecutive=1, clear_after=1 and a 30 s cooldown: RAISED on the first positive,
        # CLEARED on the next negative, and never RAISED again within the 3 s of the bag.
        if rule == "person_fallen":
            verdicts = [j.positive for j in judged]
            first = next((i for i, v in enumerate(verdicts) if v), None)
            raised = [i for i, j in enumerate(judged) if j.state is AlertState.RAISED]
            assert raised == ([] if first is None else [first])
    assert 'id="alert-table"' in report
    assert re.search(r'id="alert-timeline-plot">\s*<svg', report)
    assert report.count("<tr><td>") >= 2  # a row per rule


def summary_grace(summary: dict[str, object]) -> int:
    return round(float(summary["alert_grace_s"]) * 10**9)  # type: ignore[arg-type]
