"""The node's messages as JSON-ready dicts, for every tool that prints them (``ask``,
``watch``, ``demo``): one set of functions, so the tools show the same keys.

Keys are the message field names; a ``header`` becomes ``stamp`` (``sec.nanosec``) and
``frame_id``, a time ``SEC.NANOSEC``, ``parameters`` a dict and a NaN ``confidence`` None.
The long texts of a ``Reasoning`` (``thinking``, ``answer``, ``raw_text``) are given only when
asked for. Messages are typed loosely (``Any``): the generated types are not imported here.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = [
    "TEXT_FIELDS",
    "decision_dict",
    "next_action_dict",
    "reasoning_dict",
    "response_dict",
    "stamp_text",
]

TEXT_FIELDS = ("thinking", "answer", "raw_text")
"""The ``Reasoning`` fields left out unless ``text`` is asked for (they can be long)."""


def stamp_text(stamp: Any) -> str:
    """A ``builtin_interfaces/Time`` as ``SEC.NANOSEC`` (nine digits)."""
    return f"{stamp.sec}.{stamp.nanosec:09d}"


def next_action_dict(msg: Any) -> dict[str, Any]:
    """Every field of a ``NextAction``."""
    return {
        "decision_id": msg.decision_id,
        "stamp": stamp_text(msg.header.stamp),
        "frame_id": msg.header.frame_id,
        "action": msg.action,
        "target": msg.target,
        "parameters": {kv.key: kv.value for kv in msg.parameters},
        "confidence": None if math.isnan(msg.confidence) else round(float(msg.confidence), 4),
        "valid": msg.valid,
        "reason": msg.reason,
        "window_start": stamp_text(msg.window_start),
        "frame_count": msg.frame_count,
    }


def reasoning_dict(msg: Any, *, text: bool = False) -> dict[str, Any]:
    """Every field of a ``Reasoning``; the ``TEXT_FIELDS`` only with ``text``."""
    out: dict[str, Any] = {
        "decision_id": msg.decision_id,
        "stamp": stamp_text(msg.header.stamp),
        "frame_id": msg.header.frame_id,
        "question": msg.question,
        "model": msg.model,
        "latency_s": round(float(msg.latency_s), 3),
        "time_to_first_token_s": round(float(msg.time_to_first_token_s), 3),
        "prompt_tokens": msg.prompt_tokens,
        "generated_tokens": msg.generated_tokens,
        "thinking_s": round(float(msg.thinking_s), 3),
        "thinking_ended_by": msg.thinking_ended_by,
    }
    if text:
        out.update({name: getattr(msg, name) for name in TEXT_FIELDS})
    return out


def decision_dict(action: Any, reasoning: Any | None, *, text: bool = False) -> dict[str, Any]:
    """A ``NextAction`` and its ``Reasoning`` (same ``decision_id``; None: not received) as
    one dict, the NextAction's keys first."""
    out = next_action_dict(action)
    if reasoning is not None:
        out.update(reasoning_dict(reasoning, text=text))
    return out


def response_dict(res: Any, *, text: bool = False) -> dict[str, Any]:
    """An ``AskNextAction`` response or ``Reason`` result: ``success`` and ``message``, then,
    with a decision, ``decision_dict`` of its action and reasoning."""
    out: dict[str, Any] = {"success": res.success, "message": res.message}
    if res.success:
        out.update(decision_dict(res.action, res.reasoning, text=text))
    return out
