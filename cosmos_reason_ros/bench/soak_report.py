"""What ``make soak`` measures and how it is judged: settings, per-camera results, verdicts,
the report and its printed form."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

_MB = 2**20

CAMERAS = (  # (topic, encoding)
    ("/soak/cam0/image_raw", "rgb8"),
    ("/soak/cam1/image_raw", "bgr8"),
    ("/soak/cam2/image_raw/compressed", "jpeg"),
    ("/soak/cam3/image_raw/compressed", "jpeg"),
)


@dataclass(frozen=True)
class SoakSettings:
    """What to run. ``warmup_s`` None: 20 % of the run or 60 s, whichever is smaller."""

    minutes: float = 10.0
    width: int = 1280
    height: int = 720
    rate_hz: float = 30.0
    decision_period_s: float = 2.0
    ask_period_s: float = 5.0
    warmup_s: float | None = None
    max_rss_growth_mb: float = 20.0
    domain_id: int = 101 + os.getpid() % 100  # tests use 1..100 (test/conftest.py)
    model_dir: str = ""  # "" = build the tiny model into a temporary folder
    startup_timeout_s: float = 300.0

    @property
    def duration_s(self) -> float:
        return self.minutes * 60.0

    @property
    def effective_warmup_s(self) -> float:
        return self.warmup_s if self.warmup_s is not None else min(0.2 * self.duration_s, 60.0)


@dataclass(frozen=True)
class CameraResult:
    topic: str
    encoding: str
    published: int
    received: int  # by the node, from its last /diagnostics
    invalid: int


@dataclass(frozen=True)
class Verdict:
    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class SoakReport:
    """Everything measured. Counters named ``decisions_*`` come from the node's diagnostics."""

    settings: SoakSettings
    startup_s: float
    ran_s: float
    publish_s: float
    rss_warmup_mb: float
    rss_end_mb: float
    rss_peak_mb: float
    threads_end: int
    threads_max: int
    decisions_made: int
    decisions_skipped: int
    decisions_failed: int
    decisions_invalid: int
    cameras: tuple[CameraResult, ...]
    latencies_s: tuple[float, ...]
    asks_ok: int
    asks_failed: int
    ask_errors: tuple[str, ...]
    actions_valid: int
    actions_fallback: int
    actions_bad: tuple[str, ...]
    alive_at_end: bool
    exit_code: int | None
    verdicts: tuple[Verdict, ...]
    node_log_tail: tuple[str, ...] = ()  # kept when the node did not exit cleanly

    @property
    def passed(self) -> bool:
        return all(v.passed for v in self.verdicts)


def classify(action: Any, allowed: set[str], fallback: str) -> str:
    """``valid``, ``fallback`` (valid=false, explained, the fallback action) or a complaint."""
    if action.valid:
        return "valid" if action.action in allowed else f"valid but not allowed: {action.action!r}"
    if action.action == fallback and action.reason.strip():
        return "fallback"
    return f"invalid, action={action.action!r} reason={action.reason!r}"


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100.0 * len(ordered)) - 1))]


def format_report(r: SoakReport) -> list[str]:
    """The printed report, one line per fact; verdict lines start with ``VERDICT``."""
    s, lat = r.settings, r.latencies_s
    lines = [
        f"soak: {s.minutes:g} min ({r.ran_s:.0f} s measured), {len(CAMERAS)} cameras x "
        f"{s.rate_hz:g} Hz at {s.width}x{s.height} ({', '.join(e for _, e in CAMERAS)}), "
        f"decision_period_s={s.decision_period_s:g}, ask every {s.ask_period_s:g} s, "
        f"ROS_DOMAIN_ID={s.domain_id}",
        f"startup: node ready after {r.startup_s:.1f} s",
        f"rss: {r.rss_warmup_mb:.1f} MB after warm-up ({s.effective_warmup_s:.0f} s), "
        f"{r.rss_end_mb:.1f} MB at end (medians of windows), "
        f"growth {r.rss_end_mb - r.rss_warmup_mb:+.1f} MB, peak {r.rss_peak_mb:.1f} MB",
        f"threads: {r.threads_end} at end (max {r.threads_max})",
        f"decisions: made {r.decisions_made}, skipped {r.decisions_skipped}, "
        f"failed {r.decisions_failed}, invalid {r.decisions_invalid}",
    ]
    for c in r.cameras:
        lines.append(
            f"camera {c.topic} ({c.encoding}): published {c.published} "
            f"({c.published / max(r.publish_s, 1e-9):.1f} Hz), received {c.received}, "
            f"invalid {c.invalid}"
        )
    published = sum(c.published for c in r.cameras)
    dropped = sum(max(0, c.published - c.received) for c in r.cameras)
    lines += [
        f"frames dropped: {dropped} of {published} ({100.0 * dropped / max(published, 1):.1f} %)",
        f"latency: n={len(lat)} p50 {percentile(lat, 50):.3f} s, p95 {percentile(lat, 95):.3f} s, "
        f"max {max(lat, default=float('nan')):.3f} s",
        f"asks: {r.asks_ok} succeeded, {r.asks_failed} failed"
        + (f" (e.g. {r.ask_errors[0]!r})" if r.ask_errors else ""),
        f"next_action: {r.actions_valid} valid, {r.actions_fallback} explained fallbacks, "
        f"{len(r.actions_bad)} neither" + (f" (e.g. {r.actions_bad[0]})" if r.actions_bad else ""),
    ]
    lines += [
        f"VERDICT {v.name}: {'PASS' if v.passed else 'FAIL'} ({v.detail})" for v in r.verdicts
    ]
    lines += [f"node log: {line}" for line in r.node_log_tail]
    lines.append(f"soak: {'PASS' if r.passed else 'FAIL'}")
    return lines
