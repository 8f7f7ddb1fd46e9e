"""Parameters, part of ``config.specs``: the model and its backend
(change through deactivate, cleanup, set, configure)."""

from __future__ import annotations

from cosmos_reason_ros.backends.config import (
    BACKENDS,
    COMPILE_MODES,
    DEVICES,
    DTYPES,
    KV_CACHE_DTYPES,
    MAX_NUM_TOKENS_LIMIT,
    QUANTIZATIONS,
    STRUCTURED_OUTPUT_MODES,
    VIDEO_TRANSPORTS,
)
from cosmos_reason_ros.config.param import ParamSpec

MODEL: tuple[ParamSpec, ...] = (
    ParamSpec(
        "model",
        "nvidia/Cosmos-Reason1-7B",
        "Hub id or local folder of the checkpoint (openai backend: the served model name); "
        "fixed at launch while trust_remote_code is true",
    ),
    ParamSpec(
        "backend",
        "transformers",
        "Inference backend (openai: frames go to base_url)",
        choices=BACKENDS,
        launch_only=True,
    ),
    ParamSpec(
        "profile",
        "auto",
        "Prompt profile; auto picks it from the checkpoint's "
        "architecture (qwen2_5_vl: reason1, qwen3_vl: reason2)",
        choices=("auto", "reason1", "reason2"),
        to="reasoner.profile",
    ),
    ParamSpec(
        "dtype",
        "auto",
        "Weights dtype (auto: bf16 on CUDA, fp32 on CPU)",
        choices=DTYPES,
    ),
    ParamSpec("device", "auto", "Device for in-process backends", choices=DEVICES),
    ParamSpec(
        "quantization",
        "none",
        "bitsandbytes weight quantization (transformers)",
        choices=QUANTIZATIONS,
    ),
    ParamSpec(
        "trust_remote_code",
        False,
        "Run Python code shipped with the checkpoint. Off unless you trust the checkpoint; "
        "while on, model cannot change at run time and a local checkpoint folder must not be "
        "writable by others",
        launch_only=True,
    ),
    ParamSpec(
        "kv_cache_free_gpu_memory_fraction",
        0.6,
        "TensorRT-LLM: share of free GPU memory for the KV cache",
        low=0.05,
        high=1.0,
    ),
    ParamSpec(
        "kv_cache_dtype",
        "auto",
        "TensorRT-LLM: KV cache dtype",
        choices=KV_CACHE_DTYPES,
    ),
    ParamSpec(
        "max_num_tokens",
        0,
        "TensorRT-LLM: most tokens prefilled in one step; 0 = computed at configure from the "
        "cameras, window, question length and max_new_tokens",
        low=0,
        high=MAX_NUM_TOKENS_LIMIT,
    ),
    ParamSpec(
        "enable_chunked_prefill",
        False,
        "TensorRT-LLM: prefill prompts longer than max_num_tokens in chunks instead of "
        "refusing them",
    ),
    ParamSpec(
        "base_url",
        "http://localhost:8000/v1",
        "openai: the server's base URL; camera frames and the API key go there and only "
        "there (redirects are not followed)",
        launch_only=True,
    ),
    ParamSpec(
        "api_key_env",
        "OPENAI_API_KEY",
        "openai: NAME of the environment variable that "
        "holds the API key (the key itself is never a parameter)",
        launch_only=True,
    ),
    ParamSpec(
        "timeout_s",
        60.0,
        "openai: per-request timeout, seconds",
        low=0.1,
        high=3600.0,
    ),
    ParamSpec(
        "max_retries",
        2,
        "openai: retries on connection errors and 5xx",
        low=0,
        high=10,
    ),
    ParamSpec(
        "jpeg_quality",
        85,
        "openai: JPEG quality of frames sent",
        low=1,
        high=100,
    ),
    ParamSpec(
        "video_transport",
        "video",
        "openai: send each camera's clip as one video with its fps (as upstream does) or as "
        "separate images",
        choices=VIDEO_TRANSPORTS,
    ),
    ParamSpec(
        "structured_output",
        "auto",
        "openai: how the answer schema is sent as response_format: auto (a second request "
        "continues the thinking), after_reasoning (with the first, for servers with a "
        "reasoning parser), off (never)",
        choices=STRUCTURED_OUTPUT_MODES,
    ),
    ParamSpec("compile", "auto", "transformers: compiled decoding", choices=COMPILE_MODES),
)
