"""``max_num_tokens`` for TensorRT-LLM, sized from the configuration before anything loads.

Without chunked prefill, TensorRT-LLM's PyTorch backend refuses a prompt longer than
``max_num_tokens`` when ``generate_async`` is called (``tensorrt_llm/llmapi/llm.py``,
``_check_arguments``: "The sum of prompt length (…), query length (…) should not exceed
max_num_tokens (…)"); the default is 8192. A constrained request's answer phase prefills the
prompt again with the thinking appended, so what must fit is the longest prompt the configured
cameras and window can produce plus the tokens generated before the answer.

``core.prompt_bound`` is that bound, from the configuration alone (see there).


``size_for_window`` fills ``max_num_tokens = 0`` with the bound rounded up to 1024 (never below
TensorRT-LLM's 8192), and refuses an explicit value below the bound unless chunked prefill is on.

Chunked prefill is refused for Qwen2-VL and Qwen2.5-VL (Reason1): TensorRT-LLM's multimodal
feature support matrix lists their chunked prefill as unsupported
(``docs/source/reference/multimodal-feature-support-matrix.md`` at commit 1b9d33620f6e, PyTorch
backend). ``check_chunked_prefill`` says so in one sentence, at configure.
"""

from __future__ import annotations

import dataclasses
import math

from cosmos_reason_ros.backends.config import BackendConfig
from cosmos_reason_ros.core.errors import ConfigError
from cosmos_reason_ros.core.prompt_bound import PromptBound

__all__ = [
    "NO_CHUNKED_PREFILL",
    "check_chunked_prefill",
    "computed_max_num_tokens",
    "size_for_window",
]

TENSORRT_LLM_DEFAULT_MAX_NUM_TOKENS = 8192
NO_CHUNKED_PREFILL = {"qwen2_vl": "Qwen2-VL", "qwen2_5_vl": "Qwen2.5-VL"}
"""``model_type`` -> name, where TensorRT-LLM's multimodal matrix says chunked prefill: No."""


def check_chunked_prefill(backend: BackendConfig, model_type: str) -> None:
    """Refuse ``enable_chunked_prefill`` on TensorRT-LLM for a model that cannot chunk.

    Raises:
        ConfigError: Chunked prefill is on for a Qwen2-VL / Qwen2.5-VL checkpoint.
    """
    name = NO_CHUNKED_PREFILL.get(model_type)
    if backend.backend == "tensorrt_llm" and backend.enable_chunked_prefill and name:
        raise ConfigError(
            f"enable_chunked_prefill is not supported for {name} ({backend.model}) on "
            "TensorRT-LLM (its multimodal feature support matrix lists it as unsupported); "
            "turn it off and let max_num_tokens be computed (0) to fit the longest prompt"
        )


def computed_max_num_tokens(bound: PromptBound) -> int:
    """``bound.total`` rounded up to a multiple of 1024, at least TensorRT-LLM's 8192."""
    return max(TENSORRT_LLM_DEFAULT_MAX_NUM_TOKENS, math.ceil(bound.total / 1024) * 1024)


def size_for_window(
    backend: BackendConfig, bound: PromptBound, model_type: str = ""
) -> BackendConfig:
    """``backend`` with ``max_num_tokens`` computed (when 0) and checked; other backends as is.

    Args:
        backend: The backend settings.
        bound: The worst-case prompt of the configuration.
        model_type: The checkpoint's ``model_type`` (for ``check_chunked_prefill``).

    Raises:
        ConfigError: ``max_num_tokens`` is set below the worst-case prompt and chunked prefill
            is off, or chunked prefill is on for a model that cannot chunk; the sentence names
            the parameters.
    """
    if backend.backend != "tensorrt_llm":
        return backend
    check_chunked_prefill(backend, model_type)
    if backend.max_num_tokens == 0:
        return dataclasses.replace(backend, max_num_tokens=computed_max_num_tokens(bound))
    if backend.max_num_tokens < bound.total and not backend.enable_chunked_prefill:
        raise ConfigError(
            f"max_num_tokens {backend.max_num_tokens} is below the worst-case prompt of this "
            f"configuration, {bound.total} tokens ({bound.describe()}); raise max_num_tokens "
            f"to at least {bound.total} or set it to 0 to have it computed"
            + ("" if model_type in NO_CHUNKED_PREFILL else ", or set enable_chunked_prefill")
        )
    return backend
