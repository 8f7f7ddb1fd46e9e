"""The soak tool: a few seconds of the real thing (node in a child process, real DDS, tiny model).

No timing asserts: the machine may be busy. What must hold anyway: the report has every
section, decisions were made, and every NextAction was valid or an explained fallback.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

pytest.importorskip("rclpy", reason="rclpy is not importable: run `make setup` / `make test`")

from cosmos_reason_ros.bench.soak import run_soak
from cosmos_reason_ros.bench.soak_report import (
    CAMERAS,
    SoakSettings,
    classify,
    format_report,
    percentile,
)


def test_classify_accepts_valid_allowed_actions_and_explained_fallbacks_only() -> None:
    allowed = {"stop", "wait"}
    act = SimpleNamespace
    assert classify(act(valid=True, action="wait", reason=""), allowed, "stop") == "valid"
    assert classify(act(valid=False, action="stop", reason="stale"), allowed, "stop") == "fallback"
    assert "not allowed" in classify(act(valid=True, action="fly", reason="x"), allowed, "stop")
    assert "invalid" in classify(act(valid=False, action="stop", reason=" "), allowed, "stop")
    assert "invalid" in classify(act(valid=False, action="wait", reason="x"), allowed, "stop")


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 95), percentile(values, 100)) == (
        50.0,
        95.0,
        100.0,
    )
    assert percentile([], 50) != percentile([], 50)  # NaN


@pytest.mark.slow
@pytest.mark.ros
def test_short_soak_reports_every_section_and_makes_decisions(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    settings = SoakSettings(
        minutes=0.25,
        width=160,
        height=120,
        rate_hz=10.0,
        decision_period_s=1.0,
        ask_period_s=2.0,
        model_dir=str(tiny_model_dir),
    )
    report = run_soak(settings, log_dir=tmp_path)

    assert report.alive_at_end and report.exit_code == 0, report.node_log_tail
    assert report.decisions_made > 0
    assert report.actions_valid + report.actions_fallback > 0
    assert report.actions_bad == ()
    assert report.latencies_s and all(lat >= 0.0 for lat in report.latencies_s)
    assert report.rss_end_mb > 0 and report.threads_end > 0
    assert [c.topic for c in report.cameras] == [t for t, _ in CAMERAS]
    assert all(c.published > 0 and c.received > 0 for c in report.cameras)
    assert report.asks_ok + report.asks_failed > 0
    assert [v.name for v in report.verdicts] == ["rss_growth", "no_crash", "decisions_valid"]
    lines = format_report(report)
    sections = ["rss:", "threads:", "decisions:", "frames dropped:", "latency:", "asks:"]
    sections += ["next_action:", "VERDICT no_crash: PASS", "VERDICT decisions_valid: PASS"]
    for prefix in sections:
        assert any(line.startswith(prefix) for line in lines), (prefix, lines)
    assert lines[-1] in ("soak: PASS", "soak: FAIL")
    assert (tmp_path / "node.log").exists()
