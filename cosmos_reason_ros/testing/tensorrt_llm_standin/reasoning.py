"""What a configured ``reasoning_parser`` does to a request in TensorRT-LLM main (>= 1.3).

- ``forced_token``: ``ThinkingBudgetLogitsProcessor._forced_token`` of
  ``tensorrt_llm/llmapi/thinking_budget.py`` (commit 17c14473a813b16410700c8ce90ec36f7100b82a):
  the budget is matched on **token-id sequences** of the parser's start and end strings
  (``tokenizer.encode(s, add_special_tokens=False)``), searched in the request's tokens. When the
  start string's ids do not occur (Qwen2.5's BPE spells ``<think>\\n`` as ``<``, ``think``,
  ``>\\n``, not as ``<think>``'s ``<``, ``think``, ``>``), the budget never fires.
- ``adapt_guided_decoding_for_reasoning_parser``: TensorRT-LLM main's ``llmapi`` guided-decoding
  helper (same tree): a ``json``, ``json_object``, ``regex`` or ``grammar`` guide of a request
  to an LLM with a reasoning parser becomes a structural tag ``sequence`` of a free
  ``<think>…</think>`` tag and the guide, so the guided text must open a reasoning block first;
  a ``structural_tag`` guide is left as it is.
"""

from __future__ import annotations

import json
from typing import Any

from cosmos_reason_ros.testing.tensorrt_llm_standin.sampling import GuidedDecodingParams

__all__ = ["REASONING_TAGS", "adapt_guided_decoding_for_reasoning_parser", "forced_token"]

REASONING_TAGS = {"qwen3": ("<think>", "</think>"), "deepseek-r1": ("<think>", "</think>")}
"""``reasoning_start`` / ``reasoning_end`` of the parsers the stand-in knows."""


def _last_index(token_ids: list[int], sequence: list[int]) -> int:
    if not sequence or len(sequence) > len(token_ids):
        return -1
    for idx in range(len(token_ids) - len(sequence), -1, -1):
        if token_ids[idx : idx + len(sequence)] == sequence:
            return idx
    return -1


def _suffix_prefix_len(token_ids: list[int], sequence: list[int]) -> int:
    for length in range(min(len(token_ids), len(sequence) - 1), 0, -1):
        if token_ids[-length:] == sequence[:length]:
            return length
    return 0


def forced_token(
    token_ids: list[int], budget: int, start_ids: list[int], end_ids: list[int]
) -> int | None:
    """The token the budget forces next, or None (upstream's ``_forced_token``)."""
    start_idx = _last_index(token_ids, start_ids)
    if start_idx == -1:
        return None
    if _last_index(token_ids, end_ids) > start_idx:
        return None
    counted = len(token_ids) - (start_idx + len(start_ids))
    partial = _suffix_prefix_len(token_ids, end_ids)
    if partial > 0 and counted - partial >= budget:
        return end_ids[partial]
    if counted >= budget:
        return end_ids[0]
    return None


def _content(guided: GuidedDecodingParams) -> dict[str, Any] | None:
    if guided.json is not None:
        schema = json.loads(guided.json) if isinstance(guided.json, str) else guided.json
        return {"type": "json_schema", "json_schema": schema}
    if guided.json_object:
        return {"type": "json_schema", "json_schema": {"type": "object"}}
    if guided.regex is not None:
        return {"type": "regex", "pattern": guided.regex}
    if guided.grammar is not None:
        return {"type": "grammar", "grammar": guided.grammar}
    return None


def adapt_guided_decoding_for_reasoning_parser(
    guided: GuidedDecodingParams | None, reasoning_parser: str | None
) -> GuidedDecodingParams | None:
    """Upstream's adaptation (see the module docstring)."""
    if guided is None or reasoning_parser is None or guided.structural_tag is not None:
        return guided
    content = _content(guided)
    if content is None:
        return guided
    start, end = REASONING_TAGS[reasoning_parser.lower()]
    thinking = {"type": "tag", "begin": start, "content": {"type": "any_text"}, "end": end}
    fmt = {"type": "sequence", "elements": [thinking, content]}
    tag = {"type": "structural_tag", "format": fmt}
    return GuidedDecodingParams(structural_tag=json.dumps(tag, separators=(",", ":")))


def required_opening(guided: GuidedDecodingParams | None) -> str:
    """The text a structural-tag guide makes the output begin with ("" if none): the ``begin``
    of a ``sequence``'s first ``tag`` (the stand-in's helper)."""
    if guided is None or not guided.structural_tag:
        return ""
    fmt = json.loads(guided.structural_tag).get("format", {})
    elements = fmt.get("elements", []) if fmt.get("type") == "sequence" else [fmt]
    first = elements[0] if elements else {}
    return str(first.get("begin", "")) if first.get("type") == "tag" else ""
