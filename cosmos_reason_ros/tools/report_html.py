"""The evaluation report: one self-contained HTML file (inline thumbnails and SVG plots).

From the top: a summary table (rounded numbers, names rather than temporary paths, the event
time in seconds from the first frame), the scores before and after the event with a confusion
table of decisions per phase and action, a timeline plot of the decisions against the event, a
latency plot, then one section per decision with the frames it used (those after the event
marked), the question, the action and its verdict (what was expected, where it was wrong), the
reason, the thinking and the raw output. With alert rules, a table of every rule's scores
against its labelled events (``alert_scoring``) and a timeline of its states against them come
after the decisions' plots. Every piece of model or bag text is HTML-escaped:
model output is untrusted.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from cosmos_reason_ros.tools.alert_scoring import ALERT_RULE, RuleTimeline
from cosmos_reason_ros.tools.report import AFTER, BEFORE, PHASE_RULE, Phases, ReportEntry
from cosmos_reason_ros.tools.report_plots import alert_timeline_svg, latency_svg, timeline_svg

_NS = 1_000_000_000
esc = html.escape


def render_report(
    entries: Sequence[ReportEntry],
    summary: Mapping[str, Any],
    title: str = "Evaluation",
    phases: Phases | None = None,
    *,
    alerts: Sequence[RuleTimeline] = (),
) -> str:
    """The whole report as one HTML document (UTF-8 text); ``alerts``: every alert rule's
    judgments and labelled events, scored in ``summary["alerts"]``."""
    start_ns = (
        phases.start_ns
        if phases is not None
        else min(
            [e.decision.window_start_ns for e in entries]
            + [j.stamp_ns for t in alerts for j in t.judgments[:1]],
            default=0,
        )
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{esc(title)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
        "<h2>Summary</h2>",
        summary_table(summary),
    ]
    if phases is not None:
        parts += [
            "<h2>Before and after the event</h2>",
            f'<p class="rule">Rule: {esc(PHASE_RULE)}.</p>',
            confusion_table(entries, phases),
        ]
    parts += [
        '<h2>Plots</h2><figure class="plot" id="timeline-plot">',
        timeline_svg(entries, phases, start_ns),
        '</figure><figure class="plot" id="latency-plot">',
        latency_svg(entries),
        "</figure>",
    ]
    if alerts:
        parts += [
            "<h2>Alert rules</h2>",
            f'<p class="rule">Scoring: {esc(ALERT_RULE)}.</p>',
            alert_table(summary.get("alerts") or []),
            '<figure class="plot" id="alert-timeline-plot">',
            alert_timeline_svg(alerts, start_ns),
            "</figure>",
        ]
    parts += [f"<h2>Decisions ({len(entries)})</h2>"]
    parts.extend(_section(entry, start_ns, phases) for entry in entries)
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_report(
    path: str | Path,
    entries: Sequence[ReportEntry],
    summary: Mapping[str, Any],
    title: str = "Evaluation",
    phases: Phases | None = None,
    *,
    alerts: Sequence[RuleTimeline] = (),
) -> Path:
    """Write ``render_report(...)`` to ``path`` and return the path."""
    out = Path(path)
    out.write_text(render_report(entries, summary, title, phases, alerts=alerts), encoding="utf-8")
    return out


def _seconds(v: Any) -> str:
    return f"{v:.2f} s"


def _percent(v: Any) -> str:
    return f"{100 * v:.0f} %"


def _name(v: Any) -> str:
    """A path as its last part (a temporary folder means nothing to a reader); ids as given."""
    text = str(v)
    return Path(text).name + " (local folder)" if text.startswith(("/", "~", ".")) else text


def _listed(v: Any) -> str:
    return ", ".join(str(x) for x in v) if isinstance(v, (list, tuple)) else str(v)


_ROWS: tuple[tuple[str, str, Callable[[Any], str]], ...] = (
    ("bag", "bag", _name),
    ("model", "model", _name),
    ("backend", "backend", str),
    ("image topics", "topics", _listed),
    ("questions", "questions", _listed),
    ("decision every", "every_s", _seconds),
    ("decisions", "decisions", str),
    ("valid", "valid", str),
    ("validity rate", "validity_rate", _percent),
    ("backend errors", "backend_errors", str),
    ("latency median", "latency_p50_s", _seconds),
    ("latency p95", "latency_p95_s", _seconds),
    ("latency max", "latency_max_s", _seconds),
    ("scored decisions", "scored", str),
    ("correct", "correct", str),
    ("accuracy", "accuracy", _percent),
    ("correct and valid", "correct_valid", str),
    ("accuracy, valid only", "accuracy_valid", _percent),
    ("scored before the event", "scored_before", str),
    ("false alarms before it", "false_alarms", str),
    ("false alarm rate", "false_alarm_rate", _percent),
    ("scored after the event", "scored_after", str),
    ("misses after it", "misses", str),
    ("miss rate", "miss_rate", _percent),
    ("alert judgments", "alert_judgments", str),
    ("valid alert judgments", "alert_judgments_valid", str),
    ("alert judgment every", "alert_period_s", _seconds),
    ("alert grace after an event", "alert_grace_s", _seconds),
    ("frames read", "frames_read", str),
    ("frames decoded", "frames_decoded", str),
    ("decode errors", "decode_errors", str),
    ("wall time", "wall_s", _seconds),
)
_HIDDEN = {"out_dir", "actions", "confusion", "phase_rule", "labels", "interrupted", "alerts"}
_ALERT_COLUMNS: tuple[tuple[str, str, Callable[[Any], str]], ...] = (
    ("rule", "rule", str),
    ("labelled events", "events", str),
    ("detected", "detected", str),
    ("raised", "raises", str),
    ("false alarms", "false_alarms", str),
    ("precision", "precision", _percent),
    ("recall", "recall", _percent),
    ("mean delay", "mean_delay_s", _seconds),
    ("max delay", "max_delay_s", _seconds),
    ("false alarms per hour", "false_alarms_per_hour", lambda v: f"{v:.1f}"),
    ("judgments", "judgments", str),
    ("positive", "positives", str),
    ("no verdict", "unusable", str),
)


def summary_table(summary: Mapping[str, Any]) -> str:
    """The summary as a two-column table; values rounded, unknown keys shown as JSON."""
    rows: list[tuple[str, str]] = []
    labels = summary.get("labels")
    if isinstance(labels, Mapping):
        rows.append(
            (
                "event",
                f"{labels.get('event', '')} at "
                f"{float(labels.get('event_time_from_start_s', math.nan)):.2f} s",
            )
        )
    for label, key, show in _ROWS:
        value = summary.get(key)
        if value is not None:
            rows.append((label, show(value)))
    if summary.get("actions"):
        rows.append(
            ("actions decided", _listed([f"{a}: {n}" for a, n in summary["actions"].items()]))
        )
    if summary.get("interrupted"):
        rows.append(("interrupted", "yes: the decisions made before Ctrl-C"))
    known = {key for _, key, _ in _ROWS} | _HIDDEN
    rows += [(k, json.dumps(v, default=str)) for k, v in summary.items() if k not in known]
    body = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows)
    return f'<table class="summary" id="summary-table">{body}</table>'


def alert_table(scores: Sequence[Mapping[str, Any]]) -> str:
    """One row per rule (``RuleScore.to_dict``); a score that is undefined (nothing to divide
    by, or the rule not labelled) shows as a dash."""
    head = "".join(f"<th>{esc(label)}</th>" for label, _, _ in _ALERT_COLUMNS)
    rows = []
    for score in scores:
        cells = []
        for _, key, show in _ALERT_COLUMNS:
            value = score.get(key)
            cells.append(f"<td>{esc('–' if value is None else show(value))}</td>")
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return f'<table class="confusion" id="alert-table"><tr>{head}</tr>{"".join(rows)}</table>'


def confusion_table(entries: Sequence[ReportEntry], phases: Phases) -> str:
    """Decisions per phase (rows) and action (columns); expected cells green, others red."""
    actions = list(phases.actions)
    actions += sorted({e.decision.action for e in entries} - set(actions))
    head = "".join(f"<th>{esc(a)}</th>" for a in actions)
    body = []
    for phase in (BEFORE, AFTER):
        expected = phases.expected(phase)
        cells = []
        for action in actions:
            n = sum(e.phase == phase and e.decision.action == action for e in entries)
            kind = "exp" if action in expected else ("bad" if n else "")
            cells.append(f'<td class="{kind}">{n}</td>')
        label = f"{phase} the event (expected: {', '.join(expected) or 'not scored'})"
        body.append(f"<tr><th>{esc(label)}</th>{''.join(cells)}</tr>")
    return (
        f'<table class="confusion" id="confusion-table"><tr><th>phase / action</th>{head}</tr>'
        + "".join(body)
        + "</table>"
    )


def _section(entry: ReportEntry, start_ns: int, phases: Phases | None) -> str:
    d = entry.decision
    verdict = {True: "correct", False: "wrong", None: ""}[entry.correct]
    kind = "invalid" if not d.valid else (verdict or "valid")
    t_s = (d.stamp_ns - start_ns) / _NS if d.stamp_ns else math.nan
    thumbs = "".join(_figure(t, start_ns, phases) for t in entry.thumbnails)
    params = ", ".join(f"{esc(k)}={esc(v)}" for k, v in d.parameters)
    confidence = "" if math.isnan(d.confidence) else f"{d.confidence:.2f}"
    judged = f' <span class="{verdict}">{verdict}</span>' if verdict else ""
    if entry.correct is False:
        judged += f" (expected {esc(' or '.join(entry.expected))})"
    where = f" ({entry.phase} the event)" if entry.phase else ""
    rows = [
        ("question", esc(d.question)),
        ("action", f"<b>{esc(d.action)}</b> ({'valid' if d.valid else 'invalid'}){judged}"),
        ("target", esc(d.target)),
        ("parameters", params),
        ("confidence", confidence),
        ("reason", esc(d.reason)),
        ("latency", f"{d.timings.latency_s:.3f} s, {d.generated_tokens} tokens"),
    ]
    table = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    return (
        f'<section class="decision {kind}" id="decision-{d.decision_id}">'
        f"<h3>#{d.decision_id} at {t_s:.2f} s{where}: {esc(d.action)}{judged}</h3>"
        f'<div class="frames">{thumbs}</div><table>{table}</table>'
        f"<details><summary>thinking</summary><pre>{esc(d.thinking)}</pre></details>"
        f"<details><summary>raw output</summary><pre>{esc(d.raw_text)}</pre></details>"
        "</section>"
    )


def _figure(t: Any, start_ns: int, phases: Phases | None) -> str:
    after = phases is not None and phases.phase(t.stamp_ns) == AFTER
    mark = "<br><b>after event</b>" if after else ""
    return (
        f'<figure class="{"after-event" if after else "before-event"}">'
        f'<img alt="{esc(t.camera)} {t.stamp_ns}" src="data:image/jpeg;base64,{t.jpeg_b64}">'
        f"<figcaption>{esc(t.camera)}<br>{(t.stamp_ns - start_ns) / _NS:.2f} s{mark}"
        "</figcaption></figure>"
    )


_CSS = (
    "body{font-family:sans-serif;margin:1em 2em;max-width:1400px}"
    "table.summary td,table.summary th{padding:2px 10px;border-bottom:1px solid #eee}"
    "table.confusion{border-collapse:collapse}"
    "table.confusion td,table.confusion th{border:1px solid #ccc;padding:2px 8px;"
    "text-align:center}"
    "td.exp{background:#c8e6c9}td.bad{background:#ffcdd2}"
    "figure.plot{margin:1em 0}figure.plot svg{max-width:100%;height:auto}"
    "section.decision{border:2px solid #ccc;border-radius:6px;padding:.5em 1em;margin:1em 0}"
    "section.correct{border-color:#2e7d32}section.wrong{border-color:#c62828}"
    "section.invalid{border-color:#8e0000;border-style:dashed}"
    "section.correct h3{color:#1b5e20}section.wrong h3,section.invalid h3{color:#b71c1c}"
    ".frames{display:flex;flex-wrap:wrap;gap:4px}"
    "figure{margin:0;font-size:70%;text-align:center}"
    "figure.after-event img{outline:3px solid #ef6c00}"
    "th{text-align:left;vertical-align:top;padding-right:1em}"
    "pre{white-space:pre-wrap;background:#f6f6f6;padding:.5em}"
    ".correct{color:#2e7d32}.wrong{color:#c62828}p.rule{color:#555}"
)
