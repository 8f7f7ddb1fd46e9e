"""Importing TensorRT-LLM for the ``tensorrt_llm`` backend, and what the installed release offers.

``import_tensorrt_llm`` says in one sentence what is missing (the package, torch, a CUDA GPU).
Tests only: with the stand-in (``cosmos_reason_ros.testing.tensorrt_llm_standin``) installed
as ``tensorrt_llm`` and ``COSMOS_REASON_TRTLLM_STANDIN=1`` (both done by its ``installed()``),
the CUDA check is skipped; nothing else reads that variable, and a real ``tensorrt_llm`` never
carries the stand-in's marker.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import logging
import os
import sys
from typing import Any

from cosmos_reason_ros.core.errors import BackendUnavailableError

__all__ = ["STANDIN_SWITCH_ENV", "has_one_call", "import_tensorrt_llm"]

logger = logging.getLogger(__name__)

STANDIN_SWITCH_ENV = "COSMOS_REASON_TRTLLM_STANDIN"
_UNAVAILABLE = (
    "The tensorrt_llm backend needs NVIDIA TensorRT-LLM (>= 1.0, PyTorch backend) and a CUDA "
    "GPU; {missing}."
)


def has_one_call(trtllm: Any) -> bool:
    """The release has ``SamplingParams.thinking_token_budget`` and structural tags."""
    try:
        sampling = {f.name for f in dataclasses.fields(trtllm.SamplingParams)}
        guided = {f.name for f in dataclasses.fields(trtllm.llmapi.GuidedDecodingParams)}
    except TypeError:  # not dataclasses: an unknown shape, so the proven path
        return False
    return "thinking_token_budget" in sampling and "structural_tag" in guided


def import_tensorrt_llm() -> Any:
    """``tensorrt_llm`` with ``llmapi`` loaded, or one clear sentence about what is missing."""
    if importlib.util.find_spec("tensorrt_llm") is None:
        raise BackendUnavailableError(
            _UNAVAILABLE.format(missing="the tensorrt_llm package is not installed here")
        )
    standin = sys.modules.get("tensorrt_llm")
    if os.environ.get(STANDIN_SWITCH_ENV) == "1" and hasattr(
        standin, "STANDS_IN_FOR_TENSORRT_LLM"
    ):
        logger.warning("tensorrt_llm is the test stand-in: no GPU, scripted output")
        return standin
    try:
        import torch
    except ImportError as err:
        missing = "torch is not installed here"
        raise BackendUnavailableError(_UNAVAILABLE.format(missing=missing)) from err
    if not torch.cuda.is_available():
        raise BackendUnavailableError(_UNAVAILABLE.format(missing="torch sees no CUDA GPU here"))
    try:
        import tensorrt_llm
        import tensorrt_llm.llmapi
    except (ImportError, OSError) as err:
        raise BackendUnavailableError(
            _UNAVAILABLE.format(missing=f"importing tensorrt_llm failed ({err})")
        ) from err
    return tensorrt_llm
