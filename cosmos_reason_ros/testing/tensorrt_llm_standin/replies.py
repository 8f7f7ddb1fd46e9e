"""Ready-made scripts: a model that thinks, closes its thinking and answers with a decision."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from cosmos_reason_ros.testing.tensorrt_llm_standin.runtime import CallRecord, Reply

__all__ = ["decision_replies", "pieces_of"]


def pieces_of(text: str, size: int = 4) -> tuple[str, ...]:
    """``text`` cut into pieces of ``size`` characters (one token each)."""
    return tuple(text[i : i + size] for i in range(0, len(text), size))


def decision_replies(
    answer: dict[str, Any],
    thinking: str = "\nA ball rolls toward the robot, so it should slow down.\n",
    step_s: float = 0.0,
) -> Callable[[CallRecord], Reply]:
    """A ``Runtime.respond`` that answers every request with ``answer``.

    A free call (no guide) thinks ``thinking`` inside ``<think>…</think>`` and goes on to an
    answer in Reason1's tags, as the model would; a JSON-guided call writes ``answer``; a
    structural-tag call writes the thinking, then ``answer`` between the tag's begin and end.
    """
    think = ("<think>", *pieces_of(thinking), "</think>")
    body = pieces_of(json.dumps(answer))

    def respond(call: CallRecord) -> Reply:
        guide = call.guide
        if guide is None:
            return Reply((*think, "\n\n<answer>\n", *body, "\n</answer>"), step_s=step_s)
        kind, text = guide
        if kind == "json":
            return Reply(body, step_s=step_s)
        answer_tag = json.loads(text)["format"]["elements"][-1]
        return Reply((*think, answer_tag["begin"], *body, answer_tag["end"]), step_s=step_s)

    return respond
