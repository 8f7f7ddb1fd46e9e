"""The soak's arithmetic, free of ROS: RSS slopes, slot fill, ages and latencies by trigger.
Each function is small enough to check by hand (test/bench/test_soak.py).

RSS: a decision's working set (video tensors, vision-tower activations, the KV cache) comes and
goes, so RSS sampled once a second swings by a few hundred MB; a line fitted through those
samples measures where the last decisions happened to be. What leaks stays: so the verdict is on
the least-squares slope of RSS sampled inside the node at the end of every decision, after its
working set was freed and given back (``bench/soak_node.py``), after warm-up, in MB per 10
minutes. The plateau test fits the same slope over the last half only. Without such samples
(an old node), each 30 s window's 10th percentile of the once-a-second samples stands in.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

WINDOW_S = 30.0
FLOOR_QUANTILE = 10.0
PER_10_MIN = 600.0


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100.0 * len(ordered)) - 1))]


def slope_per_10_min(points: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MB) points, in MB per 10 minutes; NaN below 2 points."""
    return _fit(points)[0]


def _fit(points: Sequence[tuple[float, float]]) -> tuple[float, float]:
    """(slope, its standard error), both in MB per 10 minutes; NaN where undefined."""
    n = len(points)
    nan = float("nan")
    if n < 2:
        return nan, nan
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    if var == 0:
        return nan, nan
    slope = sum((t - mean_t) * (v - mean_v) for t, v in points) / var
    if n < 3:
        return slope * PER_10_MIN, nan
    residual = sum((v - mean_v - slope * (t - mean_t)) ** 2 for t, v in points) / (n - 2)
    return slope * PER_10_MIN, math.sqrt(residual / var) * PER_10_MIN


def floors(
    samples: Sequence[tuple[float, float]], start_s: float, window_s: float = WINDOW_S
) -> list[tuple[float, float]]:
    """(window centre, floor) of each whole ``window_s`` window of samples from ``start_s``."""
    out: list[tuple[float, float]] = []
    if not samples:
        return out
    k = 0
    end = samples[-1][0]
    while start_s + (k + 1) * window_s <= end + 1e-9:
        lo, hi = start_s + k * window_s, start_s + (k + 1) * window_s
        values = [v for t, v in samples if lo <= t < hi]
        if values:
            out.append(((lo + hi) / 2.0, percentile(values, FLOOR_QUANTILE)))
        k += 1
    return out


@dataclass(frozen=True)
class MemoryTrend:
    """RSS after warm-up: the samples the slopes are fitted to, and the slopes."""

    source: str  # "decision ends" or "30 s floors"
    points: tuple[tuple[float, float], ...]  # (s since start, MB)
    slope_mb_per_10_min: float
    slope_se_mb_per_10_min: float  # the fit's standard error: how far chance alone moves it
    last_half_slope_mb_per_10_min: float
    raw_slope_mb_per_10_min: float  # through the once-a-second samples, for comparison

    def plateau(self, max_slope: float) -> bool:
        return self.last_half_slope_mb_per_10_min < max_slope

    def per_minute(self) -> list[tuple[float, float]]:
        """(minute, median MB) of the points, for printing RSS over time."""
        minutes: dict[int, list[float]] = {}
        for t, v in self.points:
            minutes.setdefault(int(t // 60), []).append(v)
        return [(m + 0.5, percentile(vs, 50)) for m, vs in sorted(minutes.items())]


def memory_trend(
    decision_ends: Sequence[tuple[float, float]],
    samples: Sequence[tuple[float, float]],
    warmup_s: float,
) -> MemoryTrend:
    """Slopes of RSS (seconds, MB) after ``warmup_s``: through ``decision_ends`` where there
    are at least three, else through the 30 s floors of the once-a-second ``samples``."""
    after = [(t, v) for t, v in samples if t >= warmup_s]
    ends = [(t, v) for t, v in decision_ends if t >= warmup_s]
    source, points = ("decision ends", ends) if len(ends) >= 3 else ("30 s floors", [])
    if not points:
        points = floors(after, warmup_s)
    return MemoryTrend(
        source,
        tuple(points),
        *_fit(points),
        slope_per_10_min(points[len(points) // 2 :]),
        slope_per_10_min(after),
    )


def slot_fill(kept_delta: int, seconds: float, sample_fps: float) -> float:
    """Share of the window's sampling slots (``sample_fps`` per second) that got a frame."""
    slots = seconds * sample_fps
    return kept_delta / slots if slots > 0 else float("nan")


@dataclass(frozen=True)
class DecisionSeen:
    """A decision as the soak saw it on ``~/reasoning``."""

    decision_id: int
    latency_s: float
    published_ns: int  # the publisher's source timestamp (the node's clock)
    newest_frame_ns: int  # header.stamp: the newest frame the decision used
    received_s: float  # soak monotonic clock
    generated_tokens: int = 0
    time_to_first_token_s: float = 0.0

    @property
    def age_at_start_s(self) -> float:
        """Newest frame's age when inference started (when the node began taking the
        snapshot): published - latency - frame stamp, at least 0 (a frame that arrived while
        the snapshot was being taken is as fresh as can be). Publishing follows the decision
        by a few ms, so this errs on the old side."""
        return max(0.0, (self.published_ns - self.newest_frame_ns) * 1e-9 - self.latency_s)


@dataclass(frozen=True)
class Spread:
    n: int
    p50: float
    p95: float
    max: float

    @staticmethod
    def of(values: Sequence[float]) -> Spread:
        return Spread(
            len(values),
            percentile(values, 50),
            percentile(values, 95),
            max(values, default=math.nan),
        )

    def text(self, unit: str = "s") -> str:
        return (
            f"n={self.n} p50 {self.p50:.3f} {unit}, p95 {self.p95:.3f} {unit}, "
            f"max {self.max:.3f} {unit}"
        )


def steady(spread: Spread, ratio: float = 2.0) -> bool:
    """p95 at most ``ratio`` x p50 (and something measured)."""
    return spread.n > 0 and spread.p95 <= ratio * spread.p50
