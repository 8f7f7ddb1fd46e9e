"""``KvCacheConfig`` and the LLM arguments: strict pydantic models, as upstream.

Mirrors ``tensorrt_llm/llmapi/llm_args.py`` (``StrictBaseModel``, ``KvCacheConfig``,
``BaseLlmArgs``/``TorchLlmArgs``): extra keys are forbidden, ``free_gpu_memory_fraction`` is in
[0, 1], and an explicit ``None`` for ``max_batch_size``, ``max_input_len``, ``max_beam_width``
or ``max_num_tokens`` falls back to the default. Only the fields the backend could touch are
declared; upstream has many more (an unknown one is refused here, accepted there).
``llm_args_for`` adds the sampler argument of a release: ``enable_trtllm_sampler`` (1.0) or
``sampler_type`` (1.2 and later; see ``releases.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

__all__ = ["KvCacheConfig", "TorchLlmArgs", "llm_args_for"]


class StrictBaseModel(BaseModel):
    """A base model that forbids arbitrary fields."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)


class KvCacheConfig(StrictBaseModel):
    """KV cache settings (upstream ``KvCacheConfig``; defaults as upstream)."""

    enable_block_reuse: bool = True
    max_tokens: int | None = None
    free_gpu_memory_fraction: float | None = Field(default=0.9, ge=0, le=1)
    enable_partial_reuse: bool = True
    copy_on_partial_reuse: bool = True
    event_buffer_max_size: int = 0
    dtype: str = "auto"
    tokens_per_block: int = 32


_NONE_MEANS_DEFAULT = {
    "max_batch_size": 2048,
    "max_input_len": 1024,
    "max_beam_width": 1,
    "max_num_tokens": 8192,
}


class TorchLlmArgs(StrictBaseModel):
    """The PyTorch-backend LLM arguments the backend uses (defaults as upstream)."""

    model: str | Path
    tokenizer: Any = None
    tokenizer_mode: Literal["auto", "slow"] = "auto"
    skip_tokenizer_init: bool = False
    trust_remote_code: bool = False
    tensor_parallel_size: int = 1
    dtype: str = "auto"
    revision: str | None = None
    tokenizer_revision: str | None = None
    kv_cache_config: KvCacheConfig = Field(default_factory=KvCacheConfig)
    enable_chunked_prefill: bool = False
    guided_decoding_backend: Literal["xgrammar", "llguidance"] | None = None
    max_batch_size: int | None = 2048
    max_input_len: int | None = 1024
    max_seq_len: int | None = None
    max_beam_width: int | None = 1
    max_num_tokens: int | None = 8192
    reasoning_parser: str | None = None
    backend: str | None = None

    @model_validator(mode="before")
    @classmethod
    def normalize_optional_fields_to_defaults(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name, default in _NONE_MEANS_DEFAULT.items():
                if name in data and data[name] is None:
                    data = {**data, name: default}
        return data


def llm_args_for(sampler_arg: str) -> type[TorchLlmArgs]:
    """``TorchLlmArgs`` with a release's sampler argument (``releases.Release.sampler_arg``).

    ``enable_trtllm_sampler: bool = False`` (1.0, ``llmapi/llm_args.py``) or
    ``sampler_type: SamplerType = auto`` (1.2 on; upstream's ``SamplerType`` values as strings).
    """
    if sampler_arg == "enable_trtllm_sampler":
        field: Any = (bool, False)
    else:
        field = (Literal["TRTLLMSampler", "TorchSampler", "auto"], "auto")
    model: type[TorchLlmArgs] = create_model(  # type: ignore[call-overload]
        "TorchLlmArgs", __base__=TorchLlmArgs, **{sampler_arg: field}
    )
    return model
