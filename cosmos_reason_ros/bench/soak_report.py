"""What ``make soak`` measures and how it is judged: settings, per-camera results, verdicts,
the report, its printed form and its JSON."""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cosmos_reason_ros.bench.soak_figures import MemoryTrend, Spread

CAMERAS = (  # (topic, encoding)
    ("/soak/cam0/image_raw", "rgb8"),
    ("/soak/cam1/image_raw", "bgr8"),
    ("/soak/cam2/image_raw/compressed", "jpeg"),
    ("/soak/cam3/image_raw/compressed", "jpeg"),
)


@dataclass(frozen=True)
class SoakSettings:
    """What to run and the targets (issue 16). ``warmup_s`` None: 20 % of the run, at most
    60 s. ``fast``: short answers (200 new tokens, thinking 4) instead of the node's default
    token budgets, for tests and quick looks; the default soak runs the node's defaults."""

    minutes: float = 10.0
    width: int = 1280
    height: int = 720
    rate_hz: float = 30.0
    decision_period_s: float = 2.0
    ask_period_s: float = 5.0
    warmup_s: float | None = None
    fast: bool = False
    max_rss_slope_mb_per_10_min: float = 5.0
    min_slot_fill: float = 0.95
    max_frame_age_s: float = 0.25
    max_latency_ratio: float = 2.0
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
    kept_after_warmup: int  # frames the window kept between the first and last report used
    seconds_after_warmup: float  # the node's clock between those two reports
    slot_fill: float  # kept / (seconds x sample_fps): share of the 4 fps slots holding a frame
    window_fill: str  # lowest "fill/capacity" reported after warm-up


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
    load_average: tuple[float, float]  # 1-minute load average at the start and at the end
    cpu_node: float  # CPU seconds per second (1.0 = one core) after warm-up
    cpu_soak: float  # this process: publishers, listeners
    rss_samples: tuple[tuple[float, float], ...]  # (s since start, MB), one a second
    rss: MemoryTrend
    rss_peak_mb: float
    threads_end: int
    threads_max: int
    heap: dict[str, dict[str, Any]]  # the node's probe: first and last row after warm-up
    decisions_made: int
    decisions_skipped: int
    decisions_failed: int
    decisions_invalid: int
    cameras: tuple[CameraResult, ...]
    periodic_latency: Spread
    ask_latency: Spread
    ask_round_trip: Spread  # ask sent -> answer received: queue wait included
    frame_age: Spread  # newest frame's age at inference start, every decision after warm-up
    # (id, trigger, latency_s, age_s, generated_tokens, time_to_first_token_s)
    decisions: tuple[tuple[int, str, float, float, int, float], ...]
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


def format_report(r: SoakReport) -> list[str]:
    """The printed report, one line per fact; verdict lines start with ``VERDICT``."""
    s = r.settings
    answers = "short answers (--fast)" if s.fast else "the node's default token budgets"
    lines = [
        f"soak: {s.minutes:g} min ({r.ran_s:.0f} s measured, warm-up {s.effective_warmup_s:.0f}"
        f" s), {len(CAMERAS)} cameras x {s.rate_hz:g} Hz at {s.width}x{s.height} "
        f"({', '.join(e for _, e in CAMERAS)}), decision_period_s={s.decision_period_s:g}, "
        f"ask every {s.ask_period_s:g} s, {answers}, ROS_DOMAIN_ID={s.domain_id}",
        f"machine: load average {r.load_average[0]:.2f} at start, {r.load_average[1]:.2f} at "
        f"end; CPU after warm-up: node {r.cpu_node:.2f} cores, soak {r.cpu_soak:.2f} cores",
        f"startup: node ready after {r.startup_s:.1f} s",
        f"rss over time ({r.rss.source}, median per minute, MB): "
        + " ".join(f"{m:.1f}m:{v:.0f}" for m, v in r.rss.per_minute()),
        f"rss: slope after warm-up {r.rss.slope_mb_per_10_min:+.1f} MB/10 min (standard "
        f"error {r.rss.slope_se_mb_per_10_min:.1f}) through "
        f"{len(r.rss.points)} {r.rss.source} (once-a-second samples: "
        f"{r.rss.raw_slope_mb_per_10_min:+.1f}), peak {r.rss_peak_mb:.0f} MB",
        f"rss plateau test: slope over the last half {r.rss.last_half_slope_mb_per_10_min:+.1f}"
        f" MB/10 min: {'plateau' if r.rss.plateau(s.max_rss_slope_mb_per_10_min) else 'rising'}",
        "heap (node, after warm-up -> end): "
        + ", ".join(
            f"{k} {r.heap['first'].get(k, 0):.0f}->{v:.0f}"
            for k, v in sorted(r.heap.get("last", {}).items())
            if k != "t" and isinstance(v, (int, float))
        ),
        *(f"python heap growth: {line}" for line in r.heap.get("last", {}).get("py_growth", [])),
        f"threads: {r.threads_end} at end (max {r.threads_max})",
        f"decisions: made {r.decisions_made}, skipped {r.decisions_skipped}, "
        f"failed {r.decisions_failed}, invalid {r.decisions_invalid}",
    ]
    for c in r.cameras:
        lines.append(
            f"camera {c.topic} ({c.encoding}): published {c.published} "
            f"({c.published / max(r.publish_s, 1e-9):.1f} Hz), received {c.received}, "
            f"invalid {c.invalid}; slots filled {100 * c.slot_fill:.1f} % "
            f"({c.kept_after_warmup} kept in {c.seconds_after_warmup:.0f} s); lowest window "
            f"fill {c.window_fill}"
        )
    lines += [
        f"newest-frame age at inference start: {r.frame_age.text()}",
        f"latency periodic: {r.periodic_latency.text()}",
        f"latency ask: {r.ask_latency.text()}; round trip with queue wait: "
        f"{r.ask_round_trip.text()}",
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


def write_json(report: SoakReport, path: Path) -> None:
    """The whole report as JSON (floats as numbers, NaN as null)."""
    data = dataclasses.asdict(report)
    data["passed"] = report.passed
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_finite(data), indent=1) + "\n", encoding="utf-8")


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def judge(r: SoakReport) -> tuple[Verdict, ...]:
    """The verdicts: issue 16's targets, then the node's own promises."""
    s = r.settings
    slope, ratio = r.rss.slope_mb_per_10_min, s.max_latency_ratio
    worst = min(r.cameras, key=lambda c: -1.0 if math.isnan(c.slot_fill) else c.slot_fill)
    n_actions = r.actions_valid + r.actions_fallback + len(r.actions_bad)
    return (
        Verdict(
            "rss_slope",
            slope < s.max_rss_slope_mb_per_10_min,
            f"{slope:+.1f} MB/10 min after warm-up through {len(r.rss.points)} {r.rss.source} "
            f"(target < {s.max_rss_slope_mb_per_10_min:g})",
        ),
        Verdict(
            "slots_filled",
            all(c.slot_fill >= s.min_slot_fill for c in r.cameras),
            f"lowest {100 * worst.slot_fill:.1f} % ({worst.topic}; target >= "
            f"{100 * s.min_slot_fill:g} % for every camera)",
        ),
        Verdict(
            "frame_age",
            r.frame_age.n > 0 and r.frame_age.p95 <= s.max_frame_age_s,
            f"p95 {r.frame_age.p95:.3f} s over {r.frame_age.n} decisions (target <= "
            f"{s.max_frame_age_s:g} s)",
        ),
        *(
            Verdict(
                f"latency_{name}",
                spread.n > 0 and spread.p95 <= ratio * spread.p50,
                f"p95 {spread.p95:.2f} s = {spread.p95 / spread.p50 if spread.p50 else 0:.2f} x "
                f"p50 {spread.p50:.2f} s, n={spread.n} (target p95 <= {ratio:g} x p50)",
            )
            for name, spread in (("periodic", r.periodic_latency), ("ask", r.ask_latency))
        ),
        Verdict(
            "asks_answered",
            r.asks_ok > 0 and r.asks_failed == 0,
            f"{r.asks_ok} answered, {r.asks_failed} failed",
        ),
        Verdict(
            "no_crash",
            r.alive_at_end and r.exit_code == 0,
            f"alive at end: {r.alive_at_end}; exit code after SIGINT: {r.exit_code}",
        ),
        Verdict(
            "decisions_valid",
            n_actions > 0 and not r.actions_bad,
            f"{n_actions - len(r.actions_bad)} of {n_actions} NextAction valid or an "
            "explained fallback",
        ),
    )
