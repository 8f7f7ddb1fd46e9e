"""``Decision``: the core-side twin of NextAction + Reasoning."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class DecisionTimings:
    """Where a decision's time went, in seconds."""

    snapshot_s: float = 0.0
    preprocess_s: float = 0.0
    generation_s: float = 0.0
    parse_s: float = 0.0
    latency_s: float = 0.0
    time_to_first_token_s: float = 0.0
    thinking_s: float = 0.0


@dataclass(frozen=True)
class Decision:
    """A validated next action and the reasoning behind it.

    ``action`` is always an allowed action (or the fallback). ``valid`` is false when the
    model's output could not be used; then ``action`` is the fallback and ``reason`` says why.

    Attributes:
        decision_id: Sequence number, shared by the NextAction and Reasoning messages.
        action: One of the allowed actions, or the fallback action.
        target: What the action applies to; "" if none.
        parameters: Further arguments as (key, value) string pairs.
        confidence: 0..1; NaN when unknown.
        valid: Whether the model's answer parsed and validated.
        reason: One-sentence rationale, or what was wrong with the output.
        question: The question asked.
        choices: The choices the answer was restricted to (empty: the whole action space).
        thinking: The chain of thought.
        answer: The final answer text (the JSON object as generated).
        raw_text: Everything the model generated.
        model: Model id or folder.
        stamp_ns: Camera stamp of the newest frame used (0 when no frames).
        frame_id: ``frame_id`` of the newest frame used.
        window_start_ns: Camera stamp of the oldest frame used.
        frame_count: Frames used, all cameras together.
        frame_stamps_ns: Per camera, the stamps of the frames used.
        prompt_tokens: Prompt tokens, visual tokens included.
        generated_tokens: Generated tokens.
        thinking_ended_by: What ended the thinking: ``model``, ``tokens``, ``deadline``; "".
        timings: Where the time went (``thinking_s``: start of generation to end of thinking).
    """

    decision_id: int
    action: str
    valid: bool
    reason: str
    target: str = ""
    parameters: tuple[tuple[str, str], ...] = ()
    confidence: float = math.nan
    question: str = ""
    choices: tuple[str, ...] = ()
    thinking: str = ""
    answer: str = ""
    raw_text: str = ""
    model: str = ""
    stamp_ns: int = 0
    frame_id: str = ""
    window_start_ns: int = 0
    frame_count: int = 0
    frame_stamps_ns: tuple[tuple[str, tuple[int, ...]], ...] = ()
    prompt_tokens: int = 0
    generated_tokens: int = 0
    thinking_ended_by: str = ""
    timings: DecisionTimings = field(default_factory=DecisionTimings)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict whose keys are the NextAction / Reasoning field names."""
        d = asdict(self)
        d["parameters"] = dict(self.parameters)
        d["choices"] = list(self.choices)
        d["frame_stamps_ns"] = {cam: list(st) for cam, st in self.frame_stamps_ns}
        d["confidence"] = None if math.isnan(self.confidence) else self.confidence
        return d
