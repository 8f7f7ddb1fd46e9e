"""Which ``LLM`` argument makes TensorRT-LLM apply repetition and presence penalties.

Every family's recipe has a penalty in one of its modes (Reason1: ``repetition_penalty`` 1.05;
Reason2 and Cosmos 3 without reasoning: ``presence_penalty`` 1.5), and penalties are live
parameters, so the backend sets at load what the installed release needs for them.

The PyTorch backend's default sampler, TorchSampler, ignores penalties until the
2026 sources; only the TRT-LLM sampler applies them there (NVIDIA/TensorRT-LLM):

- 1.0: ``LLM(enable_trtllm_sampler=True)`` (``TorchLlmArgs.enable_trtllm_sampler``,
  default False; ``docs/source/1.0/features/sampling.md``: "To use the feature: Enable the
  ``enable_trtllm_sampler`` option in the ``LLM`` class").
- 1.2: ``LLM(sampler_type="TRTLLMSampler")``; the default ``auto`` picks TorchSampler unless
  beam search is asked for (``_torch/pyexecutor/_util.py`` ``instantiate_sampler`` at commit
  b35ac1b64368, 1.2.0rc2).
- From ``TORCH_SAMPLER_PENALTIES``: TorchSampler applies ``repetition_penalty``,
  ``presence_penalty`` and ``frequency_penalty`` (``docs/source/features/sampling.md`` at
  commit 05ce57bcac5b); nothing to set. The version is a research note's, not checked
  release by release; a release in between gets the TRT-LLM sampler, which applies them too.

A release whose LLM arguments have neither setting is refused at load.
"""

from __future__ import annotations

import importlib
from collections.abc import Collection
from typing import Any

from packaging.version import InvalidVersion, Version

from cosmos_reason_ros.core.errors import BackendError

__all__ = ["TORCH_SAMPLER_PENALTIES", "llm_arg_names", "penalty_sampler"]

TORCH_SAMPLER_PENALTIES = Version("1.3.0rc26")
"""The first release taken to apply penalties in TorchSampler (see the module docstring)."""


def llm_arg_names() -> set[str]:
    """Field names of the installed ``tensorrt_llm.llmapi.llm_args.TorchLlmArgs``; empty
    where that class cannot be found."""
    try:
        module = importlib.import_module("tensorrt_llm.llmapi.llm_args")
        return set(module.TorchLlmArgs.model_fields)
    except (ImportError, AttributeError):
        return set()


def penalty_sampler(arg_names: Collection[str], version: str) -> dict[str, Any]:
    """The ``LLM`` arguments under which the release applies penalties (maybe none).

    Args:
        arg_names: The release's ``TorchLlmArgs`` field names (``llm_arg_names``).
        version: ``tensorrt_llm.__version__``.

    Raises:
        BackendError: The release shows neither sampler setting, or ``sampler_type`` with a
            version that cannot be read.
    """
    if "sampler_type" in arg_names:
        try:
            torch_sampler_applies = Version(version) >= TORCH_SAMPLER_PENALTIES
        except InvalidVersion:
            torch_sampler_applies = None
        if torch_sampler_applies is not None:
            return {} if torch_sampler_applies else {"sampler_type": "TRTLLMSampler"}
    elif "enable_trtllm_sampler" in arg_names:
        return {"enable_trtllm_sampler": True}
    raise BackendError(
        f"TensorRT-LLM {version or '(unknown version)'} shows no sampler setting this backend "
        "knows, so repetition_penalty and presence_penalty could be ignored: use a release "
        "that takes LLM(enable_trtllm_sampler=True) (1.0) or "
        "LLM(sampler_type='TRTLLMSampler') (1.2), or 1.3 or later, where the default "
        "sampler applies them"
    )
