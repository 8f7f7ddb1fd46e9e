"""Importing TensorRT-LLM for the ``tensorrt_llm`` backend, and what the installed release offers.

``import_tensorrt_llm`` says in one sentence what is missing (the package, torch, a CUDA GPU).
``substitute_tensorrt_llm`` makes it return a given module instead, without those checks: the
tests inject the TensorRT-LLM stand-in (``cosmos_reason_ros.testing.tensorrt_llm_standin``,
whose ``installed()`` does it) this way. Nothing here reads the environment or looks for a
marker, so no setting outside the process can make the node take a stand-in for TensorRT-LLM.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from cosmos_reason_ros.core.errors import BackendUnavailableError

__all__ = ["has_one_call", "import_tensorrt_llm", "substitute_tensorrt_llm"]

logger = logging.getLogger(__name__)

_UNAVAILABLE = (
    "The tensorrt_llm backend needs NVIDIA TensorRT-LLM (>= 1.0, PyTorch backend) and a CUDA "
    "GPU; {missing}."
)
_substitutes: list[Any] = []  # substitute_tensorrt_llm's, innermost last


def has_one_call(trtllm: Any) -> bool:
    """The release has ``SamplingParams.thinking_token_budget`` and structural tags."""
    try:
        sampling = {f.name for f in dataclasses.fields(trtllm.SamplingParams)}
        guided = {f.name for f in dataclasses.fields(trtllm.llmapi.GuidedDecodingParams)}
    except TypeError:  # not dataclasses: an unknown shape, so the proven path
        return False
    return "thinking_token_budget" in sampling and "structural_tag" in guided


def import_tensorrt_llm() -> Any:
    """``tensorrt_llm`` with ``llmapi`` loaded, or one clear sentence about what is missing.

    Returns:
        The module; the one given to ``substitute_tensorrt_llm`` while a substitution is on.

    Raises:
        BackendUnavailableError: tensorrt_llm, torch or a CUDA GPU is missing here.
    """
    substitute = _substitutes[-1] if _substitutes else None
    if substitute is not None:
        version = getattr(substitute, "__version__", "?")
        logger.warning("tensorrt_llm is substituted (version %s): no GPU is used", version)
        return substitute
    if importlib.util.find_spec("tensorrt_llm") is None:
        raise BackendUnavailableError(
            _UNAVAILABLE.format(missing="the tensorrt_llm package is not installed here")
        )
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


@contextmanager
def substitute_tensorrt_llm(module: Any) -> Iterator[None]:
    """Within the block, ``import_tensorrt_llm`` returns ``module`` and checks nothing.

    For tests, which inject the TensorRT-LLM stand-in this way (see the module docstring).
    Substitutions nest; on exit the previous one (or none) is back. Not thread-safe: enter and
    leave it on one thread, before and after any backend loads.

    Args:
        module: What ``import_tensorrt_llm`` is to return; None: no substitute, the real
            package with its checks.
    """
    _substitutes.append(module)
    try:
        yield
    finally:
        _substitutes.pop()
