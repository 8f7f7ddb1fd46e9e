"""Figures of ``make bench``: one measured number with its baseline, and the printed table.

Each ratio interleaves the candidate and its baseline, alternating which goes first, repeats,
and reports the median of the per-round ratios; raw per-round figures go to the JSON.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Figure:
    """One measured figure, as printed and as written to the JSON.

    Attributes:
        name: Dotted name, e.g. ``ingest.per_received_frame``.
        value: The figure; None when skipped.
        unit: ``x`` for ratios, ``s``, ``tokens/s``, ``share``.
        target: ``<= 0.2`` style bound, or None when only reported.
        baseline: What the figure is measured against.
        raw: The raw numbers behind the figure (per-round times, counts, sizes).
        skipped: Why the figure was not measured; "" when it was.
    """

    name: str
    value: float | None
    unit: str
    target: str | None
    baseline: str
    raw: dict[str, Any] = field(default_factory=dict)
    skipped: str = ""

    @property
    def met(self) -> bool | None:
        """Whether ``value`` meets ``target``; None without a target or a value."""
        if self.target is None or self.value is None:
            return None
        op, bound = self.target.split()
        return self.value <= float(bound) if op == "<=" else self.value >= float(bound)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "met": self.met}


def skipped(name: str, unit: str, target: str | None, baseline: str, reason: str) -> Figure:
    return Figure(name, None, unit, target, baseline, skipped=reason)


def interleaved(
    candidate: Callable[[], float], baseline: Callable[[], float], rounds: int
) -> dict[str, Any]:
    """Per-round seconds of each function (one warm-up each), alternating which runs first."""
    candidate(), baseline()
    cand, base = [], []
    for i in range(rounds):
        if i % 2 == 0:
            cand.append(candidate())
            base.append(baseline())
        else:
            base.append(baseline())
            cand.append(candidate())
    return {
        "candidate_s": cand,
        "baseline_s": base,
        "ratios": [c / b for c, b in zip(cand, base, strict=True)],
    }


def ratio_figure(name: str, target: str, baseline: str, runs: dict[str, Any]) -> Figure:
    value = statistics.median(runs["ratios"])
    runs["candidate_median_s"] = statistics.median(runs["candidate_s"])
    runs["baseline_median_s"] = statistics.median(runs["baseline_s"])
    return Figure(name, value, "x", target, baseline, runs)


def per_item(run: Callable[[], None], items: int) -> Callable[[], float]:
    def timed() -> float:
        start = time.perf_counter()
        run()
        return (time.perf_counter() - start) / items

    return timed


def render_table(figures: Iterable[Figure]) -> str:
    """The figures as a fixed-width text table."""
    rows = [("figure", "value", "target", "met", "baseline / note")]
    for f in figures:
        if f.value is None:
            value, note = "skipped", f.skipped
        else:
            value, note = _format(f.value, f.unit), f.baseline
        met = {True: "yes", False: "NO", None: "-"}[f.met]
        rows.append((f.name, value, f.target or "-", met, note))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(r[:4], widths, strict=True)) + "  " + r[4]
        for r in rows
    ]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def _format(value: float, unit: str) -> str:
    if unit == "x":
        return f"{value:.3f}x"
    if unit == "share":
        return f"{100 * value:.1f} %" if value >= 0.01 else f"{100 * value:.3f} %"
    if unit == "s":
        return f"{value * 1000:.2f} ms" if value < 1 else f"{value:.3f} s"
    return f"{value:.1f} {unit}"
