"""The report's plots, drawn with matplotlib and embedded as inline SVG (the file travels alone).

No pyplot and no global backend: each plot is its own ``Figure``, so nothing here changes how
other code in the process draws. Text stays text in the SVG (``svg.fonttype: none``).
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from matplotlib import rc_context
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from cosmos_reason_ros.tools.alert_scoring import RuleTimeline, raised_spans
from cosmos_reason_ros.tools.report import AFTER, BEFORE, Phases, ReportEntry

_NS = 1_000_000_000
COLORS = {True: "#2e7d32", False: "#c62828", None: "#607d8b"}
"""Marker colour by verdict: correct, wrong, not scored."""
EXPECTED_FILL = "#c8e6c9"
AFTER_FILL = "#fff3e0"


def timeline_svg(entries: Sequence[ReportEntry], phases: Phases | None, start_ns: int) -> str:
    """Each decision's action against its time (newest frame, seconds from ``start_ns``): the
    event as a dashed line, the expected actions of each phase as green bands, correct decisions
    green, wrong ones red, invalid ones as crosses."""
    rows = _rows(entries, phases)
    fig = Figure(figsize=(9.0, 1.6 + 0.38 * len(rows)), layout="constrained")
    ax = fig.add_subplot()
    times = [(e.decision.stamp_ns - start_ns) / _NS for e in entries]
    t_max = max([*times, 1.0]) * 1.05
    if phases is not None:
        event_s = (phases.event_ns - start_ns) / _NS
        t_max = max(t_max, event_s * 1.1)
        ax.axvspan(event_s, t_max, color=AFTER_FILL, zorder=0)
        for phase, (left, right) in ((BEFORE, (0.0, event_s)), (AFTER, (event_s, t_max))):
            for action in phases.expected(phase):
                ax.barh(
                    rows.index(action),
                    right - left,
                    left=left,
                    height=0.7,
                    color=EXPECTED_FILL,
                    zorder=1,
                )
        ax.axvline(event_s, color="#424242", linestyle="--", linewidth=1.2, zorder=2)
        ax.annotate(
            f"event: {phases.event}",
            (event_s, len(rows) - 0.5),
            xytext=(4, 0),
            textcoords="offset points",
            fontsize=9,
            va="top",
        )
    for entry, t in zip(entries, times, strict=True):
        valid = entry.decision.valid
        ax.scatter(
            [t],
            [rows.index(entry.decision.action)],
            s=60 if valid else 80,
            marker="o" if valid else "X",
            color=COLORS[entry.correct],
            edgecolors="black",
            linewidths=0.5,
            zorder=3,
        )
    ax.set_yticks(range(len(rows)), rows)
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.set_xlim(0.0, t_max)
    ax.set_xlabel("time of the newest frame used (s from the first frame)")
    ax.set_title("Decisions against the event")
    ax.legend(handles=_legend(phases is not None), loc="upper left", fontsize=8, framealpha=0.9)
    return _svg(fig)


def latency_svg(entries: Sequence[ReportEntry]) -> str:
    """Latency of each decision (bars, coloured by verdict), with the median and p95 lines."""
    fig = Figure(figsize=(9.0, 3.0), layout="constrained")
    ax = fig.add_subplot()
    ids = [e.decision.decision_id for e in entries]
    latencies = [e.decision.timings.latency_s for e in entries]
    ax.bar(ids, latencies, color=[COLORS[e.correct] for e in entries], width=0.8)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if latencies:  # the percentiles of the summary (numpy's, linear interpolation)
        p50, p95 = (float(np.percentile(latencies, q)) for q in (50, 95))
        ax.axhline(p50, color="#1565c0", linewidth=1, label=f"median {p50:.2f} s")
        ax.axhline(p95, color="#6a1b9a", linewidth=1, linestyle=":", label=f"p95 {p95:.2f} s")
        ax.legend(loc="upper right", fontsize=8)
    ax.set_xlabel("decision")
    ax.set_ylabel("latency (s)")
    ax.set_title("Latency per decision")
    return _svg(fig)


EVENT_FILL = "#ffcc80"
RAISED_COLOR = "#c62828"


def alert_timeline_svg(timelines: Sequence[RuleTimeline], start_ns: int) -> str:
    """One row per alert rule against time (s from ``start_ns``): its labelled events as wide
    orange bands, the spans it was raised as narrow red bars (open to the end while still
    raised), and each judgment's verdict (filled: positive, hollow: negative, cross: none)."""
    fig = Figure(figsize=(9.0, 1.4 + 0.6 * len(timelines)), layout="constrained")
    ax = fig.add_subplot()
    ends = [j.stamp_ns for t in timelines for j in t.judgments[-1:]]
    ends += [e[1] for t in timelines for e in t.events or ()]
    t_max = max([(n - start_ns) / _NS for n in ends] + [1.0]) * 1.05

    def secs(ns: int) -> float:
        return (ns - start_ns) / _NS

    for row, timeline in enumerate(timelines):
        for begin, end in timeline.events or ():
            ax.barh(
                row,
                secs(end) - secs(begin),
                left=secs(begin),
                height=0.8,
                color=EVENT_FILL,
                zorder=1,
            )
        for raised, cleared in raised_spans(timeline.judgments):
            right = t_max if cleared is None else secs(cleared)
            ax.barh(
                row,
                right - secs(raised),
                left=secs(raised),
                height=0.3,
                color=RAISED_COLOR,
                zorder=2,
            )
        for judged in timeline.judgments:
            positive = judged.positive
            ax.scatter(
                [secs(judged.stamp_ns)],
                [row],
                s=36,
                marker="X" if positive is None else "o",
                facecolors="black" if positive is None else RAISED_COLOR if positive else "white",
                edgecolors="black",
                linewidths=0.6,
                zorder=3,
            )
    names = [t.rule if t.events is not None else f"{t.rule} (no labels)" for t in timelines]
    ax.set_yticks(range(len(timelines)), names)
    ax.set_ylim(-0.6, len(timelines) - 0.4)
    ax.set_xlim(0.0, t_max)
    ax.set_xlabel("time of the newest frame judged (s from the first frame)")
    ax.set_title("Alert rules: states against the labelled events")
    legend = [
        Line2D([], [], color=EVENT_FILL, linewidth=8, label="labelled event"),
        Line2D([], [], color=RAISED_COLOR, linewidth=3, label="raised"),
        Line2D([], [], marker="o", linestyle="", color=RAISED_COLOR, label="positive verdict"),
        Line2D(
            [],
            [],
            marker="o",
            linestyle="",
            markerfacecolor="white",
            color="black",
            label="negative verdict",
        ),
        Line2D([], [], marker="X", linestyle="", color="black", label="no verdict"),
    ]
    ax.legend(handles=legend, loc="upper left", fontsize=8, framealpha=0.9, ncols=3)
    return _svg(fig)


def _rows(entries: Sequence[ReportEntry], phases: Phases | None) -> list[str]:
    """The actions on the y axis: the labels' vocabulary in order, then any other decided."""
    rows = list(phases.actions) if phases is not None else []
    for action in (
        *(phases.expected_before if phases else ()),
        *(phases.expected_after if phases else ()),
        *sorted({e.decision.action for e in entries}),
    ):
        if action not in rows:
            rows.append(action)
    return rows or ["(none)"]


def _legend(scored: bool) -> list[Line2D]:
    def marker(label: str, color: str, shape: str = "o") -> Line2D:
        return Line2D([], [], marker=shape, linestyle="", color=color, label=label)

    if not scored:
        return [marker("valid", COLORS[None]), marker("invalid", COLORS[None], "X")]
    return [
        marker("correct", COLORS[True]),
        marker("wrong", COLORS[False]),
        marker("invalid", COLORS[False], "X"),
        Line2D([], [], color=EXPECTED_FILL, linewidth=6, label="expected"),
    ]


def _svg(fig: Figure) -> str:
    buf = io.StringIO()
    with rc_context({"svg.fonttype": "none", "svg.hashsalt": "cosmos_reason_report"}):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    text = buf.getvalue()
    return text[text.index("<svg") :]
