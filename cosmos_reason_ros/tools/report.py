"""What an offline evaluation produced: the decisions with their scores, and the numbers.

Scoring against a scenario's labels (``PHASE_RULE``): a decision is *after* the event when the
newest frame it saw is later than the event time, else *before* it; a decision exactly at the
event time saw no change yet. Before the event the expected actions are
``expected_actions_before_event``, and any other action is a *false alarm*; after it they are
``expected_actions``, and any other action is a *miss*. ``report_html`` renders it all.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from cosmos_reason_ros.core.decision import Decision
from cosmos_reason_ros.tools.alert_scoring import RuleScore

THUMBNAIL_MAX_SIDE = 160
BEFORE, AFTER = "before", "after"
PHASE_RULE = (
    "a decision is after the event when its newest frame is later than the event time, else "
    "before it (one exactly at the event time saw no change yet)"
)


@dataclass(frozen=True)
class Phases:
    """The labels as scoring uses them.

    Attributes:
        event: Event name.
        start_ns: Stamp of the bag's first frame.
        event_ns: Event time (bag stamp).
        expected_before: Sensible actions before the event (empty: not scored there).
        expected_after: Sensible actions after it.
        actions: The action vocabulary (plot rows), in order.
    """

    event: str
    start_ns: int
    event_ns: int
    expected_before: tuple[str, ...]
    expected_after: tuple[str, ...]
    actions: tuple[str, ...] = ()

    def phase(self, stamp_ns: int) -> str:
        """``AFTER`` when ``stamp_ns`` is later than the event, else ``BEFORE`` (PHASE_RULE)."""
        return AFTER if stamp_ns > self.event_ns else BEFORE

    def expected(self, phase: str) -> tuple[str, ...]:
        return self.expected_after if phase == AFTER else self.expected_before

    def score(self, decision: Decision) -> tuple[str, tuple[str, ...], bool | None]:
        """(phase, expected actions, correct); correct is None where nothing is expected."""
        phase = self.phase(decision.stamp_ns)
        expected = self.expected(phase)
        return phase, expected, (decision.action in expected) if expected else None


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
        phase: ``BEFORE`` or ``AFTER`` the event; "" without labels.
        expected: The actions the labels expect in that phase.
    """

    decision: Decision
    thumbnails: tuple[Thumbnail, ...]
    correct: bool | None = None
    phase: str = ""
    expected: tuple[str, ...] = ()


@dataclass(frozen=True)
class EvalRunFacts:
    """What an evaluation ran on and read.

    Attributes:
        bag: The bag evaluated.
        model: Model id or folder.
        backend: Backend name.
        topics: Image topics used, one window each.
        questions: The questions asked at every decision time.
        every_s: Bag seconds between decision times.
        backend_errors: Decisions where the backend failed (fallback recorded).
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
    backend_errors: int
    frames_read: int
    frames_decoded: int
    decode_errors: int
    out_dir: str
    wall_s: float


@dataclass(frozen=True)
class EvalSummary:
    """The numbers of one evaluation: what it ran on (``run``) and what it counted. Written
    to ``summary.json`` by ``to_dict``, one flat object.

    Attributes:
        run: What the evaluation ran on and read.
        decisions: Decisions made (all questions together).
        valid: Decisions whose answer parsed and validated.
        validity_rate: ``valid / decisions`` (0 when there are none).
        latency_p50_s: Median decision latency.
        latency_p95_s: 95th percentile decision latency.
        latency_max_s: Longest decision latency.
        actions: How often each action was decided, as (action, count) pairs.
        scored: Decisions scored against the labels, both phases.
        correct: Scored decisions whose action is expected in their phase.
        accuracy: ``correct / scored``; None without labels or without scored decisions.
        correct_valid: Scored decisions that are correct and valid (an invalid decision
            carries the fallback action, which may happen to be an expected one).
        accuracy_valid: ``correct_valid / scored``; None as ``accuracy``.
        scored_before: Decisions scored before the event.
        false_alarms: Of those, decisions whose action is not expected before the event.
        scored_after: Decisions scored after the event.
        misses: Of those, decisions whose action is not expected after the event.
        confusion: Decisions per (phase, action), as (phase, action, count) triples.
        alerts: The alert rules' scores, in rule order (() when no rules were judged).
    """

    run: EvalRunFacts
    decisions: int
    valid: int
    validity_rate: float
    latency_p50_s: float
    latency_p95_s: float
    latency_max_s: float
    actions: tuple[tuple[str, int], ...]
    scored: int
    correct: int
    accuracy: float | None
    correct_valid: int
    accuracy_valid: float | None
    scored_before: int
    false_alarms: int
    scored_after: int
    misses: int
    confusion: tuple[tuple[str, str, int], ...]
    alerts: tuple[RuleScore, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: the run's facts and the counts side by side, one level deep
        (the alert rules' scores as a list of dicts under ``alerts``, when there are rules)."""
        fields = (f.name for f in dataclasses.fields(self) if f.name not in ("run", "alerts"))
        d = {**dataclasses.asdict(self.run), **{name: getattr(self, name) for name in fields}}
        d["actions"] = dict(self.actions)
        d["confusion"] = {
            p: {a: n for q, a, n in self.confusion if q == p} for p in (BEFORE, AFTER)
        }
        d["false_alarm_rate"] = _rate(self.false_alarms, self.scored_before)
        d["miss_rate"] = _rate(self.misses, self.scored_after)
        d["phase_rule"] = PHASE_RULE
        d["topics"], d["questions"] = list(self.run.topics), list(self.run.questions)
        if self.alerts:
            d["alerts"] = [score.to_dict() for score in self.alerts]
        return d


def summarize(
    entries: Sequence[ReportEntry],
    latencies_s: Sequence[float],
    *,
    scored: bool,
    run: EvalRunFacts,
) -> EvalSummary:
    """Count ``entries`` into an ``EvalSummary``.

    Args:
        entries: The decisions, with ``correct`` set where they were scored.
        latencies_s: Latencies of the decisions the model made (fallbacks left out).
        scored: Whether labels were given (else accuracy is None).
        run: What the evaluation ran on and read.
    """
    decisions = [e.decision for e in entries]
    latencies = np.array(latencies_s, float)
    judged = [e for e in entries if e.correct is not None]
    correct = sum(bool(e.correct) for e in judged)
    correct_valid = sum(bool(e.correct) and e.decision.valid for e in judged)
    has_scores = scored and bool(judged)
    valid = sum(d.valid for d in decisions)
    counts: dict[str, int] = {}
    confusion: dict[tuple[str, str], int] = {}
    for e in entries:
        counts[e.decision.action] = counts.get(e.decision.action, 0) + 1
        if e.phase:
            key = (e.phase, e.decision.action)
            confusion[key] = confusion.get(key, 0) + 1
    before = [e for e in judged if e.phase == BEFORE]
    after = [e for e in judged if e.phase == AFTER]
    return EvalSummary(
        run=run,
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
        scored_before=len(before),
        false_alarms=sum(not e.correct for e in before),
        scored_after=len(after),
        misses=sum(not e.correct for e in after),
        confusion=tuple((p, a, n) for (p, a), n in sorted(confusion.items())),
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


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None
