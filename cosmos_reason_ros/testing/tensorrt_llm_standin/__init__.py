"""A stand-in for NVIDIA TensorRT-LLM's LLM API, for tests: TensorRT-LLM cannot run here.

TensorRT-LLM needs an NVIDIA GPU and its own wheels, neither of which this machine has. So the
``tensorrt_llm`` backend is exercised on CPU against this package, installed under the name
``tensorrt_llm`` (``installed()``). It is not TensorRT-LLM: it generates scripted token pieces
(``Reply``), with per-step delays, from a thread that plays the executor, and it logs every call
(``Runtime.log``, ``Runtime.calls``). What it copies is the API surface the backend touches,
with upstream's names, signatures, checks and messages:

- ``LLM``: keyword checking, ``max_num_tokens`` without chunked prefill, guided decoding
  needing its backend, ``thinking_token_budget`` needing a reasoning parser, ``shutdown``
  (``llm.py``; upstream ``tensorrt_llm/llmapi/llm.py``);
- ``KvCacheConfig`` and the LLM arguments, strict, with each release's sampler argument, in
  ``tensorrt_llm.llmapi.llm_args`` (``args.py``; ``llmapi/llm_args.py``); penalties dropped
  where the release's default sampler ignores them (``llm.py``, ``releases.py``);
- ``SamplingParams``, ``GuidedDecodingParams``: keyword-only, slotted, validated
  (``sampling.py``; ``tensorrt_llm/sampling_params.py``);
- ``RequestOutput``/``CompletionOutput``: cumulative ``text``/``token_ids``, ``text_diff``,
  ``finish_reason``, async iteration that needs a running loop, ``abort()`` with a late
  ``cancelled`` response, stop strings matched on the text by the client (the text is trimmed;
  on main the runtime is not stopped) and on token ids by the runtime (``result.py``;
  ``tensorrt_llm/executor/result.py``);
- ``VideoData`` in each of its homes and what the Qwen-VL input processors read (``inputs.py``;
  ``tensorrt_llm/inputs/utils.py``, ``tensorrt_llm/inputs/multimodal_data.py``,
  ``tensorrt_llm/_torch/models/modeling_qwen2vl.py``, ``modeling_qwen3vl.py``).

Sources, read in NVIDIA/TensorRT-LLM (no release tag could be checked out; see
``docs/serving.md``): commit 000a01de66f0eab4ab05640711f0253f50f5209c (version 1.0.0rc4),
commit b35ac1b64368513d215c57d2ed01d62d910df8da (1.2.0rc2), and main as of early 2026
(``llmapi/thinking_budget.py`` at 17c14473, ``inputs/multimodal_data.py`` at 0142b193,
``llmapi/llm_args.py`` at 00043967). ``releases.py`` lists what differs between the three
shapes the stand-in can take (``1.0``, ``1.2``, ``main``).

Usage::

    with installed("main") as runtime:
        runtime.push(Reply.of("<think>", "ok", "</think>"))
        backend.load()   # imports the stand-in as tensorrt_llm; no CUDA needed
"""

from __future__ import annotations

import importlib.machinery
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from cosmos_reason_ros.backends.tensorrt_llm.imports import substitute_tensorrt_llm
from cosmos_reason_ros.testing.tensorrt_llm_standin.args import KvCacheConfig, llm_args_for
from cosmos_reason_ros.testing.tensorrt_llm_standin.inputs import VideoData
from cosmos_reason_ros.testing.tensorrt_llm_standin.llm import LLM
from cosmos_reason_ros.testing.tensorrt_llm_standin.releases import RELEASES, Release
from cosmos_reason_ros.testing.tensorrt_llm_standin.replies import decision_replies, pieces_of
from cosmos_reason_ros.testing.tensorrt_llm_standin.result import (
    CompletionOutput,
    RequestError,
    RequestOutput,
)
from cosmos_reason_ros.testing.tensorrt_llm_standin.runtime import CallRecord, Reply, Runtime
from cosmos_reason_ros.testing.tensorrt_llm_standin.sampling import (
    GuidedDecodingParams,
    SamplingParams,
    SamplingParamsWithThinkingBudget,
)

__all__ = [
    "RELEASES",
    "CallRecord",
    "Release",
    "Reply",
    "Runtime",
    "decision_replies",
    "installed",
    "modules_for",
    "pieces_of",
]


def _module(name: str, **attributes: Any) -> types.ModuleType:
    module = types.ModuleType(name, f"Stand-in for {name} (cosmos_reason_ros.testing).")
    module.__spec__ = importlib.machinery.ModuleSpec(name, None, is_package=True)
    module.__path__ = []  # a package: a missing submodule is ModuleNotFoundError, as upstream
    for key, value in attributes.items():
        setattr(module, key, value)
    return module


def modules_for(release: Release, runtime: Runtime) -> dict[str, types.ModuleType]:
    """The ``tensorrt_llm`` modules of ``release``, their ``LLM`` bound to ``runtime``."""
    sampling = SamplingParamsWithThinkingBudget if release.thinking_budget else SamplingParams
    args = llm_args_for(release.sampler_arg)
    llm = type(
        "LLM",
        (LLM,),
        {
            "_release": release,
            "_runtime": runtime,
            "_sampling_class": sampling,
            "_args_class": args,
        },
    )
    api = {
        "LLM": llm,
        "SamplingParams": sampling,
        "GuidedDecodingParams": GuidedDecodingParams,
        "KvCacheConfig": KvCacheConfig,
        "RequestOutput": RequestOutput,
        "CompletionOutput": CompletionOutput,
        "RequestError": RequestError,
    }
    homes = release.video_data_homes
    video = {"VideoData": VideoData}
    llm_args = _module(
        "tensorrt_llm.llmapi.llm_args", TorchLlmArgs=args, KvCacheConfig=KvCacheConfig
    )
    llmapi = _module("tensorrt_llm.llmapi", llm_args=llm_args, **api)
    utils = _module("tensorrt_llm.inputs.utils", **(video if "inputs.utils" in homes else {}))
    inputs = _module("tensorrt_llm.inputs", utils=utils, **(video if "inputs" in homes else {}))
    modules = {
        "tensorrt_llm": _module(
            "tensorrt_llm",
            LLM=llm,
            SamplingParams=sampling,
            llmapi=llmapi,
            inputs=inputs,
            __version__=f"{release.version}+standin",
            STANDS_IN_FOR_TENSORRT_LLM=release.name,
        ),
        "tensorrt_llm.llmapi": llmapi,
        "tensorrt_llm.llmapi.llm_args": llm_args,
        "tensorrt_llm.inputs": inputs,
        "tensorrt_llm.inputs.utils": utils,
    }
    if "inputs.multimodal_data" in homes:
        data = _module("tensorrt_llm.inputs.multimodal_data", **video)
        inputs.multimodal_data = data  # type: ignore[attr-defined]
        modules["tensorrt_llm.inputs.multimodal_data"] = data
    return modules


@contextmanager
def installed(release: str = "main", runtime: Runtime | None = None) -> Iterator[Runtime]:
    """Install the stand-in as ``tensorrt_llm``: in ``sys.modules`` (the backend imports some
    submodules by name) and as the backend's substitute (``substitute_tensorrt_llm``), so that
    ``load()`` needs no CUDA.

    Args:
        release: ``1.0``, ``1.2`` or ``main`` (see ``releases.py``).
        runtime: The engine to use; None: a new one.

    Yields:
        The engine: queue replies on it, read its calls and log.
    """
    runtime = runtime if runtime is not None else Runtime()
    modules = modules_for(RELEASES[release], runtime)
    names = set(modules) | {n for n in sys.modules if n.startswith("tensorrt_llm.")}
    saved = {name: sys.modules.get(name) for name in names | {"tensorrt_llm"}}
    for name in names:
        sys.modules.pop(name, None)
    sys.modules.update(modules)
    try:
        with substitute_tensorrt_llm(modules["tensorrt_llm"]):
            yield runtime
    finally:
        runtime.join()
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
