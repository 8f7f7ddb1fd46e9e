"""What an offline evaluation produced: its summary numbers and a self-contained HTML report.

The report has one section per decision.
Each section shows thumbnails of the frames the decision used (inline base64 JPEG, so the file
travels alone), the question, the chain of thought, the action and whether it was valid, and
the reason. Every piece of model or bag text is HTML-escaped: model output is untrusted.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from cosmos_reason_ros.core.decision import Decision

THUMBNAIL_MAX_SIDE = 160
_NS = 1_000_000_000


@dataclass(frozen=True)
class Thumbnail:
    """One frame of a decision, ready for the report.

    Attributes:
        camera: The camera (topic) the frame came from.
        stamp_ns: The frame's camera stamp.
        jpeg_b64: The thumbnail as base64-encoded JPEG.
    """

    camera: str
    stamp_ns: int
    jpeg_b64: str


@dataclass(frozen=True)
class ReportEntry:
    """One decision and the thumbnails of the frames it used.

    Attributes:
        decision: The decision.
        thumbnails: Its frames, camera by camera, oldest first.
        correct: Whether the action matched the labels (None: not scored).
    """

    decision: Decision
    thumbnails: tuple[Thumbnail, ...]
    correct: bool | None = None


@dataclass(frozen=True)
class EvalSummary:
    """The numbers of one evaluation (also written to ``summary.json``).

    Attributes:
        bag: The bag evaluated.
        model: Model id or folder.
        backend: Backend name.
        topics: Image topics used, one window each.
        questions: The questions asked at every decision time.
        every_s: Bag seconds between decision times.
        decisions: Decisions made (all questions together).
        valid: Decisions whose answer parsed and validated.
        validity_rate: ``valid / decisions`` (0 when there are none).
        backend_errors: Decisions where the backend failed (fallback recorded).
        latency_p50_s: Median decision latency.
        latency_p95_s: 95th percentile decision latency.
        latency_max_s: Longest decision latency.
        actions: How often each action was decided, as (action, count) pairs.
        scored: Decisions scored against the labels (newest frame at or after the event).
        correct: Scored decisions whose action is among the expected actions.
        accuracy: ``correct / scored``; None without labels or without scored decisions.
        correct_valid: Scored decisions that are correct and valid (an invalid decision
            carries the fallback action, which may happen to be an expected one).
        accuracy_valid: ``correct_valid / scored``; None as ``accuracy``.
        frames_read: Image messages read.
        frames_decoded: Frames the windows kept and decoded.
        decode_errors: Frames that failed to decode.
        out_dir: Where the outputs were written.
        wall_s: Wall time of the whole evaluation, model loading included.
    """

    bag: str
    model: str
    backend: str
    topics: tuple[str, ...]
    questions: tuple[str, ...]
    every_s: float
    decisions: int
    valid: int
    validity_rate: float
    backend_errors: int
    latency_p50_s: float
    latency_p95_s: float
    latency_max_s: float
    actions: tuple[tuple[str, int], ...]
    scored: int
    correct: int
    accuracy: float | None
    correct_valid: int
    accuracy_valid: float | None
    frames_read: int
    frames_decoded: int
    decode_errors: int
    out_dir: str
    wall_s: float

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        d = dataclasses.asdict(self)
        d["actions"] = dict(self.actions)
        d["topics"], d["questions"] = list(self.topics), list(self.questions)
        return d


def summarize(
    entries: Sequence[ReportEntry],
    latencies_s: Sequence[float],
    *,
    scored: bool,
    **fields: Any,
) -> EvalSummary:
    """Count ``entries`` into an ``EvalSummary``.

    Args:
        entries: The decisions, with ``correct`` set where they were scored.
        latencies_s: Latencies of the decisions the model made (fallbacks left out).
        scored: Whether labels were given (else accuracy is None).
        **fields: The remaining ``EvalSummary`` fields (bag, model, counters ...).
    """
    decisions = [e.decision for e in entries]
    latencies = np.array(latencies_s, float)
    judged = [e for e in entries if e.correct is not None]
    correct = sum(bool(e.correct) for e in judged)
    correct_valid = sum(bool(e.correct) and e.decision.valid for e in judged)
    has_scores = scored and bool(judged)
    valid = sum(d.valid for d in decisions)
    counts: dict[str, int] = {}
    for d in decisions:
        counts[d.action] = counts.get(d.action, 0) + 1
    return EvalSummary(
        decisions=len(decisions),
        valid=valid,
        validity_rate=valid / len(decisions) if decisions else 0.0,
        latency_p50_s=float(np.percentile(latencies, 50)) if latencies.size else 0.0,
        latency_p95_s=float(np.percentile(latencies, 95)) if latencies.size else 0.0,
        latency_max_s=float(latencies.max()) if latencies.size else 0.0,
        actions=tuple(sorted(counts.items())),
        scored=len(judged),
        correct=correct,
        accuracy=correct / len(judged) if has_scores else None,
        correct_valid=correct_valid,
        accuracy_valid=correct_valid / len(judged) if has_scores else None,
        **fields,
    )


def thumbnail(
    camera: str, stamp_ns: int, rgb: npt.NDArray[np.uint8], max_side: int = THUMBNAIL_MAX_SIDE
) -> Thumbnail:
    """Downscale an RGB frame to at most ``max_side`` pixels a side and JPEG-encode it.

    Raises:
        ValueError: The image cannot be encoded.
    """
    h, w = rgb.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        rgb = np.asarray(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA), np.uint8)
    ok, buf = cv2.imencode(
        ".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 80]
    )
    if not ok:
        raise ValueError(f"could not JPEG-encode a {w}x{h} frame of {camera}")
    return Thumbnail(camera, stamp_ns, base64.b64encode(buf.tobytes()).decode("ascii"))


def render_report(
    entries: Sequence[ReportEntry], summary: Mapping[str, Any], title: str = "Evaluation"
) -> str:
    """The whole report as one HTML document (UTF-8 text)."""
    esc = html.escape
    start_ns = min((e.decision.window_start_ns for e in entries), default=0)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{esc(title)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
        '<h2>Summary</h2><pre class="summary">',
        esc(json.dumps(summary, indent=2, sort_keys=False, default=str)),
        "</pre>",
        f"<h2>Decisions ({len(entries)})</h2>",
    ]
    parts.extend(_section(entry, start_ns) for entry in entries)
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_report(
    path: str | Path,
    entries: Sequence[ReportEntry],
    summary: Mapping[str, Any],
    title: str = "Evaluation",
) -> Path:
    """Write ``render_report(...)`` to ``path`` and return the path."""
    out = Path(path)
    out.write_text(render_report(entries, summary, title), encoding="utf-8")
    return out


def _section(entry: ReportEntry, start_ns: int) -> str:
    esc = html.escape
    d = entry.decision
    status = "valid" if d.valid else "invalid"
    verdict = {True: "correct", False: "wrong", None: ""}[entry.correct]
    t_s = (d.stamp_ns - start_ns) / _NS if d.stamp_ns else math.nan
    thumbs = "".join(
        f'<figure><img alt="{esc(t.camera)} {t.stamp_ns}" '
        f'src="data:image/jpeg;base64,{t.jpeg_b64}">'
        f"<figcaption>{esc(t.camera)}<br>{(t.stamp_ns - start_ns) / _NS:.2f} s</figcaption>"
        "</figure>"
        for t in entry.thumbnails
    )
    params = ", ".join(f"{esc(k)}={esc(v)}" for k, v in d.parameters)
    confidence = "" if math.isnan(d.confidence) else f"{d.confidence:.2f}"
    rows = [
        ("question", esc(d.question)),
        (
            "action",
            f'<b class="{status}">{esc(d.action)}</b> ({status})'
            + (f' <span class="{verdict}">{verdict}</span>' if verdict else ""),
        ),
        ("target", esc(d.target)),
        ("parameters", params),
        ("confidence", confidence),
        ("reason", esc(d.reason)),
        ("latency", f"{d.timings.latency_s:.3f} s, {d.generated_tokens} tokens"),
    ]
    table = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    return (
        f'<section class="decision {status}" id="decision-{d.decision_id}">'
        f"<h3>#{d.decision_id} at {t_s:.2f} s: {esc(d.action)}</h3>"
        f'<div class="frames">{thumbs}</div><table>{table}</table>'
        f"<details><summary>thinking</summary><pre>{esc(d.thinking)}</pre></details>"
        f"<details><summary>raw output</summary><pre>{esc(d.raw_text)}</pre></details>"
        "</section>"
    )


_CSS = (
    "body{font-family:sans-serif;margin:1em 2em;max-width:1400px}"
    "section.decision{border:1px solid #ccc;border-radius:6px;padding:.5em 1em;margin:1em 0}"
    "section.invalid{border-color:#c33}"
    ".frames{display:flex;flex-wrap:wrap;gap:4px}"
    "figure{margin:0;font-size:70%;text-align:center}"
    "th{text-align:left;vertical-align:top;padding-right:1em}"
    "pre{white-space:pre-wrap;background:#f6f6f6;padding:.5em}"
    ".valid{color:#060}.invalid{color:#a00}.correct{color:#060}.wrong{color:#a00}"
)
