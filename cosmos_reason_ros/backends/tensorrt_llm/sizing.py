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
"""

from __future__ import annotations

import dataclasses
import math

from cosmos_reason_ros.backends.config import BackendConfig
from cosmos_reason_ros.core.errors import ConfigError
from cosmos_reason_ros.core.prompt_bound import PromptBound

__all__ = ["computed_max_num_tokens", "size_for_window"]

TENSORRT_LLM_DEFAULT_MAX_NUM_TOKENS = 8192


def computed_max_num_tokens(bound: PromptBound) -> int:
    """``bound.total`` rounded up to a multiple of 1024, at least TensorRT-LLM's 8192."""
    return max(TENSORRT_LLM_DEFAULT_MAX_NUM_TOKENS, math.ceil(bound.total / 1024) * 1024)


def size_for_window(backend: BackendConfig, bound: PromptBound) -> BackendConfig:
    """``backend`` with ``max_num_tokens`` computed (when 0) and checked; other backends as is.

    Raises:
        ConfigError: ``max_num_tokens`` is set below the worst-case prompt and chunked prefill
            is off; the sentence names both parameters and the bound.
    """
    if backend.backend != "tensorrt_llm":
        return backend
    if backend.max_num_tokens == 0:
        return dataclasses.replace(backend, max_num_tokens=computed_max_num_tokens(bound))
    if backend.max_num_tokens < bound.total and not backend.enable_chunked_prefill:
        raise ConfigError(
            f"max_num_tokens {backend.max_num_tokens} is below the worst-case prompt of this "
            f"configuration, {bound.total} tokens ({bound.describe()}); raise max_num_tokens "
            f"to at least {bound.total}, set it to 0 to have it computed, or set "
            "enable_chunked_prefill"
        )
    return backend
