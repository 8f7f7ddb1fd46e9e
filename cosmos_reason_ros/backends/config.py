"""Typed settings for every backend, validated in one place."""

from __future__ import annotations

from dataclasses import dataclass

from cosmos_reason_ros.core.errors import ConfigError

BACKENDS = ("transformers", "tensorrt_llm", "openai")
DTYPES = ("auto", "bf16", "fp16", "fp32")
DEVICES = ("auto", "cuda", "cpu")
QUANTIZATIONS = ("none", "8bit", "4bit")
KV_CACHE_DTYPES = ("auto", "fp8")
VIDEO_TRANSPORTS = ("images", "video")
STRUCTURED_OUTPUT_MODES = ("auto", "after_reasoning", "off")
COMPILE_MODES = ("auto", "on", "off")
MAX_NUM_TOKENS_LIMIT = 1_000_000


@dataclass(frozen=True)
class BackendConfig:
    """Settings a backend is built from.

    Attributes:
        backend: Which backend: ``transformers``, ``tensorrt_llm`` or ``openai``.
        model: Hub id or local folder (``openai``: the served model name).
        dtype: ``auto``, ``bf16``, ``fp16`` or ``fp32`` (in-process backends).
        device: ``auto``, ``cuda`` or ``cpu`` (transformers).
        quantization: ``none``, ``8bit`` or ``4bit`` (transformers, bitsandbytes).
        trust_remote_code: Allow a checkpoint's own Python code. Off unless set.
        kv_cache_free_gpu_memory_fraction: TensorRT-LLM KV cache share of free GPU memory.
        kv_cache_dtype: TensorRT-LLM KV cache dtype, ``auto`` or ``fp8``.
        max_num_tokens: TensorRT-LLM: most tokens one step takes in (a whole prompt, without
            chunked prefill). 0 = computed: ``build_config`` sizes it to the worst-case prompt
            of the configured cameras and window (``backends.trtllm_sizing``); a config made
            by hand with 0 leaves TensorRT-LLM's own default (8192).
        enable_chunked_prefill: TensorRT-LLM: prefill prompts longer than ``max_num_tokens``
            in chunks instead of refusing them.
        base_url: ``openai``: the server's base URL, e.g. ``http://gpu-server:8000/v1``.
        api_key_env: ``openai``: name of the environment variable holding the API key.
        timeout_s: ``openai``: per-request timeout.
        max_retries: ``openai``: retries on connection errors and 5xx answers.
        jpeg_quality: ``openai``: JPEG quality of frames sent to the server.
        video_transport: ``openai``: send each clip as ``images`` or as one ``video``.
        compile: ``transformers``: compiled decoding (static KV cache + torch.compile):
            ``auto`` (on with CUDA, off on the CPU), ``on`` or ``off``.
        cache_tokens: Tokens a decision's prompt and answer need at most (set by
            ``build_config`` from the cameras and the window; 0 = unknown): sizes the static
            cache of compiled decoding so one compiled graph serves every decision.
        structured_output: ``openai``: how the answer's JSON schema is sent as
            ``response_format`` (``auto``: in a second request after the thinking;
            ``after_reasoning``: with the first, for servers that constrain only after a
            reasoning parser; ``off``: never).
    """

    backend: str = "transformers"
    model: str = "nvidia/Cosmos-Reason1-7B"
    dtype: str = "auto"
    device: str = "auto"
    quantization: str = "none"
    trust_remote_code: bool = False
    kv_cache_free_gpu_memory_fraction: float = 0.6
    kv_cache_dtype: str = "auto"
    max_num_tokens: int = 0
    enable_chunked_prefill: bool = False
    base_url: str = "http://localhost:8000/v1"
    api_key_env: str = "OPENAI_API_KEY"
    timeout_s: float = 60.0
    max_retries: int = 2
    jpeg_quality: int = 85
    video_transport: str = "video"
    structured_output: str = "auto"
    compile: str = "auto"
    cache_tokens: int = 0

    def __post_init__(self) -> None:
        _one_of("backend", self.backend, BACKENDS)
        _one_of("dtype", self.dtype, DTYPES)
        _one_of("device", self.device, DEVICES)
        _one_of("quantization", self.quantization, QUANTIZATIONS)
        _one_of("kv_cache_dtype", self.kv_cache_dtype, KV_CACHE_DTYPES)
        _one_of("video_transport", self.video_transport, VIDEO_TRANSPORTS)
        _one_of("structured_output", self.structured_output, STRUCTURED_OUTPUT_MODES)
        _one_of("compile", self.compile, COMPILE_MODES)
        if not self.model.strip():
            raise ConfigError("model must name a hub id or a local folder, got ''")
        if not 0.0 < self.kv_cache_free_gpu_memory_fraction <= 1.0:
            raise ConfigError(
                "kv_cache_free_gpu_memory_fraction must be in (0, 1], got "
                f"{self.kv_cache_free_gpu_memory_fraction}"
            )
        if not 0 <= self.max_num_tokens <= MAX_NUM_TOKENS_LIMIT:
            raise ConfigError(
                f"max_num_tokens must be in [0, {MAX_NUM_TOKENS_LIMIT}] (0 = computed), "
                f"got {self.max_num_tokens}"
            )
        if not self.timeout_s > 0:
            raise ConfigError(f"timeout_s must be > 0, got {self.timeout_s}")
        if not 0 <= self.max_retries <= 10:
            raise ConfigError(f"max_retries must be in [0, 10], got {self.max_retries}")
        if not 1 <= self.jpeg_quality <= 100:
            raise ConfigError(f"jpeg_quality must be in [1, 100], got {self.jpeg_quality}")
        if self.api_key_env and not self.api_key_env.replace("_", "").isalnum():
            raise ConfigError(
                f"api_key_env must be an environment variable name, got {self.api_key_env!r}"
            )


def _one_of(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")
