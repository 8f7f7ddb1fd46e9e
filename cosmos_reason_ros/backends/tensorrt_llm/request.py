"""What the ``tensorrt_llm`` backend hands TensorRT-LLM, as plain data (testable anywhere).

``llm_kwargs`` are the ``LLM(...)`` arguments, ``sampling_kwargs`` the ``SamplingParams(...)``
ones; ``plan_phases`` splits a constrained request into free thinking and a guided answer;
``find_video_data`` finds ``VideoData`` wherever the installed release keeps it. The guides
(structural tags) are in ``backends.guides``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cosmos_reason_ros.backends.config import BackendConfig
from cosmos_reason_ros.backends.guides import opening_marker
from cosmos_reason_ros.core.errors import ConfigError
from cosmos_reason_ros.core.generation import AnswerFormat, GenerationRequest, SamplingSettings

__all__ = [
    "REASONING_PARSER",
    "VIDEO_DATA_HOMES",
    "Phase",
    "find_video_data",
    "llm_kwargs",
    "one_call_fits",
    "plan_phases",
    "sampling_kwargs",
    "split_one_call",
    "thinking_budget_fires",
    "without_opening",
]

_DTYPES = {"auto": "auto", "bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}

REASONING_PARSER = "qwen3"
"""TensorRT-LLM's reasoning parser for ``<think>…</think>`` (what ``thinking_token_budget``
counts and forces)."""

VIDEO_DATA_HOMES = (
    "tensorrt_llm.inputs.multimodal_data",  # main (2026)
    "tensorrt_llm.inputs",  # main re-exports it
    "tensorrt_llm.inputs.utils",  # PR 8528 (Oct 2025), the 1.2 releases
)
"""Where ``VideoData`` has lived, newest first. Before PR 8528 there is none: a video is a plain
list of frames."""


def llm_kwargs(
    config: BackendConfig,
    *,
    block_reuse: bool = False,
    one_call: bool = False,
    sampler: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Arguments of ``tensorrt_llm.LLM`` as plain data (``kv_cache_config`` as a dict).

    Args:
        config: The backend settings.
        block_reuse: Turn KV-cache block reuse on (only where the release hashes video
            content into the block keys, see ``TensorRTLLMBackend.load``).
        one_call: Configure the reasoning parser that ``thinking_token_budget`` needs.
        sampler: The sampler setting under which the release applies penalties
            (``penalties.penalty_sampler``).

    Raises:
        ConfigError: A setting that this backend cannot honour.
    """
    if config.quantization != "none":
        raise ConfigError(
            f"quantization {config.quantization!r} is bitsandbytes (transformers backend); "
            "for tensorrt_llm use quantization 'none' and a pre-quantized ModelOpt checkpoint "
            "(FP8, NVFP4 or W4A16 AWQ) as model"
        )
    if config.device == "cpu":
        raise ConfigError("the tensorrt_llm backend runs on CUDA only; device 'cpu' is invalid")
    kwargs: dict[str, Any] = {
        "model": config.model,
        "dtype": _DTYPES[config.dtype],
        "trust_remote_code": config.trust_remote_code,
        "guided_decoding_backend": "xgrammar",
        "enable_chunked_prefill": config.enable_chunked_prefill,
        "kv_cache_config": {
            "free_gpu_memory_fraction": config.kv_cache_free_gpu_memory_fraction,
            "dtype": "fp8" if config.kv_cache_dtype == "fp8" else "auto",
            "enable_block_reuse": block_reuse,
        },
    }
    if config.max_num_tokens > 0:  # 0: not sized by build_config; TensorRT-LLM's default
        kwargs["max_num_tokens"] = config.max_num_tokens
    if one_call:
        kwargs["reasoning_parser"] = REASONING_PARSER
    kwargs.update(sampler or {})
    return kwargs


def sampling_kwargs(
    settings: SamplingSettings, max_tokens: int, stop: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Arguments of ``tensorrt_llm.SamplingParams`` as plain data (no guided decoding)."""
    kwargs: dict[str, Any] = {
        "max_tokens": max_tokens,
        "temperature": settings.temperature,
        "top_p": settings.top_p,
        "repetition_penalty": settings.repetition_penalty,
    }
    if settings.top_k > 0:
        kwargs["top_k"] = settings.top_k
    kwargs["presence_penalty"] = settings.presence_penalty
    if settings.seed is not None:
        kwargs["seed"] = settings.seed
    if stop:
        kwargs["stop"] = list(stop)
    return kwargs


@dataclass(frozen=True)
class Phase:
    """One generation call of a request.

    Attributes:
        max_tokens: Token budget of this call (for the answer phase: at most; the thinking
            actually used is subtracted at run time).
        stop: Stop strings (excluded from the output).
        guided_json: JSON schema to constrain this call to, or None.
        lead: Text emitted and appended to the prompt before this call (``answer_prefix``).
        tail: Text emitted after this call (``answer_suffix``).
        deadline_s: Seconds after generation starts at which this call is stopped; 0 = none.
    """

    max_tokens: int
    stop: tuple[str, ...] = ()
    guided_json: dict[str, Any] | None = None
    lead: str = ""
    tail: str = ""
    deadline_s: float = 0.0


def plan_phases(request: GenerationRequest) -> tuple[Phase, ...]:
    """One free call, or (constrained) free thinking then a schema-guided answer."""
    total = request.sampling.max_new_tokens
    fmt = request.answer_format
    if fmt is None or not request.constrained:
        return (Phase(max_tokens=total),)
    answer = Phase(
        max_tokens=total,
        guided_json=fmt.json_schema,
        lead=fmt.answer_prefix,
        tail=fmt.answer_suffix,
    )
    budget = min(fmt.max_thinking_tokens, total - 1)
    if budget <= 0:
        return (answer,)
    thinking = Phase(max_tokens=budget, stop=(fmt.think_end,), deadline_s=fmt.max_thinking_s)
    return (thinking, answer)


def without_opening(thinking: str, think_end: str) -> str:
    """``thinking`` without the opening marker it starts with (after any whitespace), if any."""
    opening = opening_marker(think_end)
    stripped = thinking.lstrip()
    if opening and stripped.startswith(opening):
        return stripped[len(opening) :]
    return thinking


def split_one_call(text: str, fmt: AnswerFormat) -> tuple[str, str]:
    """(thinking without its markers, answer JSON) of a one-call output laid out as ``fmt``.

    An output that never closed its thinking is all thinking, with an empty answer.
    """
    end = text.find(fmt.think_end)
    if end < 0:
        return without_opening(text, fmt.think_end), ""
    rest = text[end + len(fmt.think_end) :]
    lead = fmt.answer_prefix[len(fmt.think_end) :]
    if rest.startswith(lead):
        rest = rest[len(lead) :]
    if fmt.answer_suffix and rest.endswith(fmt.answer_suffix):
        rest = rest[: -len(fmt.answer_suffix)]
    return without_opening(text[:end], fmt.think_end), rest


def one_call_fits(fmt: AnswerFormat) -> bool:
    """Whether ``fmt`` can go through the one-call path (the ``<think>`` markers of the
    ``qwen3`` reasoning parser, and an answer prefix that starts by closing the thinking)."""
    return fmt.think_end == "</think>" and fmt.answer_prefix.startswith(fmt.think_end)


def _holds(ids: list[int], part: list[int]) -> bool:
    return any(ids[i : i + len(part)] == part for i in range(len(ids) - len(part) + 1))


def thinking_budget_fires(encode: Callable[[str], list[int]]) -> bool:
    """Whether TensorRT-LLM's ``thinking_token_budget`` can see the markers as the model writes
    them. It matches the token ids of ``<think>`` and ``</think>`` encoded alone
    (``llmapi/thinking_budget.py`` at 17c14473); Qwen2.5's BPE (Reason1) writes ``<think>\n``
    as ``<``, ``think``, ``>\n``, so there the budget never fires.

    Args:
        encode: The checkpoint tokenizer's ``encode`` without special tokens.
    """
    start, end = encode("<think>"), encode("</think>")
    return _holds(encode("<think>\n"), start) and _holds(encode("\n</think>\n\n"), end)


def find_video_data() -> tuple[Any, str]:
    """(``VideoData``, the module it came from), or (None, "") where the release has none."""
    for home in VIDEO_DATA_HOMES:
        try:
            module = importlib.import_module(home)
        except ImportError:
            continue
        video_data = getattr(module, "VideoData", None)
        if video_data is not None:
            return video_data, home
    return None, ""
