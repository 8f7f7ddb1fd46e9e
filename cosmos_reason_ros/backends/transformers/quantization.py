"""bitsandbytes quantization for the transformers backend, checked before any model loads.

A bitsandbytes build can import and still lack working kernels for the GPU at hand: the index's
aarch64 wheels are built for server ARM, so on Jetson Orin ``import bitsandbytes`` succeeds and
the first kernel fails (``Error named symbol not found ... ops.cu``; bitsandbytes issue 1930).
So on CUDA one tiny kernel runs first, and its failure becomes one sentence, before a 7B load.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import torch

from cosmos_reason_ros.core.errors import BackendUnavailableError

__all__ = ["SKIP_QUANTIZATION_MODULES", "check_kernels", "quantization_config"]

# Modules bitsandbytes must leave in full precision: the vision tower (small, and sensitive to
# quantization) and the output head. Qwen2.5-VL and Qwen3-VL both name them so in
# transformers >= 4.52 (and 5.x), whose patterns match from the start of the module name.
SKIP_QUANTIZATION_MODULES = ("lm_head", "model.visual")


def quantization_config(quantization: str, device: str) -> Any:
    try:
        import bitsandbytes  # noqa: F401
    except ImportError as exc:
        raise BackendUnavailableError(
            f"quantization {quantization} needs the bitsandbytes package, which is not installed"
        ) from exc
    if device == "cuda":
        check_kernels(quantization)
    bits_and_bytes_config: Any = importlib.import_module("transformers").BitsAndBytesConfig
    skip = list(SKIP_QUANTIZATION_MODULES)
    if quantization == "8bit":
        return bits_and_bytes_config(load_in_8bit=True, llm_int8_skip_modules=skip)
    return bits_and_bytes_config(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_compute_dtype=torch.bfloat16,
        bnb_4bit_use_double_quant=True,
        llm_int8_skip_modules=skip,
    )


def check_kernels(quantization: str, kernel: Callable[[], Any] | None = None) -> None:
    """Run one tiny bitsandbytes kernel on the GPU; its failure becomes one sentence.

    Args:
        quantization: ``8bit`` or ``4bit`` (named in the message).
        kernel: The kernel to try (tests pass their own); default: 4-bit quantization of a
            16x16 half-precision tensor on the current CUDA device.

    Raises:
        BackendUnavailableError: The kernel failed: this bitsandbytes build has no working
            kernels for this GPU.
    """
    try:
        (kernel or _tiny_kernel)()
    except Exception as exc:  # any kernel failure: say so in one sentence, before the load
        lines = str(exc).strip().splitlines()
        first = lines[0][:160] if lines else type(exc).__name__
        name = torch.cuda.get_device_name() if torch.cuda.is_available() else "this device"
        raise BackendUnavailableError(
            f"quantization {quantization} needs bitsandbytes kernels for {name}, and this "
            f"bitsandbytes build has none that work ({first}); on Jetson build bitsandbytes "
            "on the device or serve the model (backend openai, config/jetson_orin.yaml)"
        ) from None


def _tiny_kernel() -> Any:
    functional: Any = importlib.import_module("bitsandbytes.functional")
    sample = torch.randn(16, 16, dtype=torch.float16, device="cuda")
    result = functional.quantize_4bit(sample)
    torch.cuda.synchronize()
    return result
