"""Typed settings for every backend; each node parameter among them is declared on its field
(``core.params``)."""

from __future__ import annotations

from dataclasses import dataclass

from cosmos_reason_ros.core.errors import ConfigError
from cosmos_reason_ros.core.params import check_fields, param

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
    """Settings a backend is built from. Validated on construction.

    Attributes:
        cache_tokens: Tokens a decision's prompt and answer need at most (set by
            ``build_config`` from the cameras and the window; 0 = unknown): sizes the static
            cache of compiled decoding so one compiled graph serves every decision.
    """

    model: str = param(
        "nvidia/Cosmos3-Nano",
        "Hub id or local folder of the checkpoint (openai backend: the served model name); "
        "fixed at launch while trust_remote_code is true",
    )
    backend: str = param(
        "transformers",
        "Inference backend (openai: frames go to base_url)",
        choices=BACKENDS,
        launch_only=True,
    )
    dtype: str = param(
        "auto",
        "Weights dtype (auto: bf16 on CUDA, fp32 on CPU)",
        choices=DTYPES,
        backends=("transformers", "tensorrt_llm"),
    )
    device: str = param(
        "auto", "Device for in-process backends", choices=DEVICES, backends=("transformers",)
    )
    quantization: str = param(
        "none",
        "bitsandbytes weight quantization",
        choices=QUANTIZATIONS,
        backends=("transformers",),
    )
    trust_remote_code: bool = param(
        False,
        "Run Python code shipped with the checkpoint. Off unless you trust the checkpoint; "
        "while on, model cannot change at run time and a local checkpoint folder must not be "
        "writable by others",
        launch_only=True,
        backends=("transformers", "tensorrt_llm"),
    )
    kv_cache_free_gpu_memory_fraction: float = param(
        0.6,
        "Share of free GPU memory for the KV cache",
        low=0.05,
        high=1.0,
        backends=("tensorrt_llm",),
    )
    kv_cache_dtype: str = param(
        "auto", "KV cache dtype", choices=KV_CACHE_DTYPES, backends=("tensorrt_llm",)
    )
    max_num_tokens: int = param(
        0,
        "Most tokens prefilled in one step; 0 = computed at configure from the cameras, window, "
        "question length and max_new_tokens (a config made in code with 0 leaves "
        "TensorRT-LLM's own default, 8192)",
        low=0,
        high=MAX_NUM_TOKENS_LIMIT,
        backends=("tensorrt_llm",),
    )
    enable_chunked_prefill: bool = param(
        False,
        "Prefill prompts longer than max_num_tokens in chunks instead of refusing them",
        backends=("tensorrt_llm",),
    )
    base_url: str = param(
        "http://localhost:8000/v1",
        "The server's base URL; camera frames and the API key go there and only there "
        "(redirects are not followed)",
        launch_only=True,
        backends=("openai",),
    )
    api_key_env: str = param(
        "OPENAI_API_KEY",
        "NAME of the environment variable that holds the API key (the key itself is never a "
        "parameter)",
        launch_only=True,
        backends=("openai",),
    )
    timeout_s: float = param(
        60.0, "Per-request timeout, seconds", low=0.1, high=3600.0, backends=("openai",)
    )
    max_retries: int = param(
        2, "Retries on connection errors and 5xx", low=0, high=10, backends=("openai",)
    )
    jpeg_quality: int = param(
        85, "JPEG quality of frames sent", low=1, high=100, backends=("openai",)
    )
    video_transport: str = param(
        "video",
        "Send each camera's clip as one video with its fps (as upstream does) or as separate "
        "images",
        choices=VIDEO_TRANSPORTS,
        backends=("openai",),
    )
    structured_output: str = param(
        "auto",
        "How the answer schema is sent as response_format: auto (a second request continues "
        "the thinking), after_reasoning (with the first, for servers with a reasoning parser), "
        "off (never)",
        choices=STRUCTURED_OUTPUT_MODES,
        backends=("openai",),
    )
    compile: str = param(
        "auto",
        "Compiled decoding (static KV cache + torch.compile): auto (on with CUDA), on, off",
        choices=COMPILE_MODES,
        backends=("transformers",),
    )
    cache_tokens: int = 0

    def __post_init__(self) -> None:
        check_fields(self)
        if not self.model.strip():
            raise ConfigError("model must name a hub id or a local folder, got ''")
        if self.api_key_env and not self.api_key_env.replace("_", "").isalnum():
            raise ConfigError(
                f"api_key_env must be an environment variable name, got {self.api_key_env!r}"
            )
