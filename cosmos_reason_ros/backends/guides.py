"""Structural tags (xgrammar's structural-tag format, as plain data) that constrain a reasoning
model's output: free thinking, then the JSON answer in the profile's layout, or the JSON answer
alone. TensorRT-LLM takes them in-process (``GuidedDecodingParams(structural_tag=…)``) and
trtllm-serve as ``response_format`` ``{"type": "structural_tag", "format": …}``
(NVIDIA/TensorRT-LLM ``tensorrt_llm/serve/openai_protocol.py`` @ 0076e939, ``ResponseFormat``);
with a reasoning parser both keep a structural tag as it is, while a plain JSON guide is
wrapped in a ``<think>`` block (``_response_format_to_guided_decoding_params``)."""

from __future__ import annotations

from typing import Any

from cosmos_reason_ros.core.generation import AnswerFormat

__all__ = ["answer_only_tag", "answer_structural_tag", "opening_marker"]


def opening_marker(think_end: str) -> str:
    """The marker that opens the thinking ``think_end`` closes: ``</think>`` -> ``<think>``."""
    return "<" + think_end[2:] if think_end.startswith("</") else ""


def answer_structural_tag(fmt: AnswerFormat, thinking_opened: bool) -> dict[str, Any]:
    """The one-call guide: free thinking up to ``think_end``, then the JSON answer.

    xgrammar's structural-tag format (``sequence`` of ``tag`` elements; the shape TensorRT-LLM
    main builds in ``llmapi/guided_decoding.py`` for reasoning models). The thinking opens with
    the ``<think>`` marker unless the prompt already did (``thinking_opened``), which also gives
    ``thinking_token_budget`` the marker it counts from.
    """
    rest = fmt.answer_prefix[len(fmt.think_end) :]
    thinking = {
        "type": "tag",
        "begin": "" if thinking_opened else opening_marker(fmt.think_end),
        "content": {"type": "any_text"},
        "end": fmt.think_end,
    }
    answer = {
        "type": "tag",
        "begin": rest,
        "content": {"type": "json_schema", "json_schema": fmt.json_schema},
        "end": fmt.answer_suffix,
    }
    return {
        "type": "structural_tag",
        "format": {"type": "sequence", "elements": [thinking, answer]},
    }


def answer_only_tag(json_schema: dict[str, Any]) -> dict[str, Any]:
    """A structural tag of the JSON schema alone: the answer call's guide on an LLM with a
    reasoning parser, which leaves structural tags as they are but wraps a ``json`` guide in a
    reasoning block (TensorRT-LLM main ``adapt_guided_decoding_for_reasoning_parser``)."""
    return {
        "type": "structural_tag",
        "format": {"type": "json_schema", "json_schema": json_schema},
    }
