"""What differs between the TensorRT-LLM releases the stand-in can pretend to be.

Sources (the research notes cite index ids and commits; see the package docstring):

- ``1.0``: ``tensorrt_llm/version.py`` = 1.0.0rc4 at commit 000a01de66f0. No ``VideoData``:
  ``multi_modal_data["video"]`` is a list of frame lists (``_torch/models/modeling_qwen2vl.py``
  reads ``videos[0][0]``).
- ``1.2``: after PR 8528 (≈ Oct 2025), ``VideoData`` in ``tensorrt_llm.inputs.utils``; the Qwen
  input processors read ``video_data.frames`` and drop its metadata; no
  ``SamplingParams.thinking_token_budget`` (``sampling_params.py`` at 1.2.0rc2, commit
  b35ac1b64368). A prompt over ``max_num_tokens`` raises ``ValueError``; a text-level stop
  string makes the client trim the text and ``abort()`` the request (PR 5948).
- ``main``: 2026 sources. ``VideoData`` in ``tensorrt_llm.inputs.multimodal_data`` (also
  ``tensorrt_llm.inputs.VideoData``); Qwen3-VL takes timing from ``VideoData.metadata``;
  ``thinking_token_budget`` with a ``reasoning_parser`` (``llmapi/thinking_budget.py``, commit
  17c14473); ``RequestError`` for a prompt over ``max_num_tokens``; a text-level stop string
  trims the text and ends the iteration but does not stop the runtime. Cosmos 3: the model
  registry knows ``Cosmos3ForConditionalGeneration`` (``model_type`` ``cosmos3_omni``, the
  Nano / Super reasoner tower only: ``_torch/models/modeling_cosmos3.py`` and
  ``checkpoints/hf/cosmos3_weight_mapper.py``, PR "Cosmos3 reasoner only support", June 2026),
  first released in the 1.3.0 release candidates (NVIDIA/cosmos
  ``cookbooks/cosmos3/reasoner/run_with_tensorrt_llm.ipynb`` uses one); 1.0 and 1.2 refuse the
  architecture. Cosmos3-Edge (``cosmos3_edge``) is in no TensorRT-LLM release (NVIDIA serves
  it with TensorRT Edge-LLM on Jetson).

Penalties (``penalty_sampler``): the PyTorch backend's default sampler, TorchSampler, applies
``repetition_penalty`` / ``presence_penalty`` only from the 2026 sources on; before that it
ignores them without a word and only the TRT-LLM sampler applies them.

- ``1.0``: ``TorchLlmArgs.enable_trtllm_sampler`` (default False) picks the TRT-LLM sampler
  (``llmapi/llm_args.py``; ``docs/source/1.0/features/sampling.md``: "To use the feature:
  Enable the ``enable_trtllm_sampler`` option in the ``LLM`` class").
- ``1.2``: ``sampler_type`` replaces it: ``auto`` (the default) picks TorchSampler unless beam
  search is asked for, ``TRTLLMSampler`` the TRT-LLM sampler (``_torch/pyexecutor/_util.py``
  ``instantiate_sampler`` at b35ac1b64368); no conflict rule with guided decoding there.
- ``main``: TorchSampler applies repetition, presence and frequency penalties itself
  (``docs/source/features/sampling.md`` at 05ce57bcac5b, "Occurrence penalties are
  supported"); nothing to set. ``version`` 1.3.0rc26 is where a research note places that
  change; the boundary was not checked release by release.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["COSMOS3_FIRST_RELEASE", "RELEASES", "Release"]


@dataclass(frozen=True)
class Release:
    """One TensorRT-LLM release's API shape, as far as the backend touches it.

    Attributes:
        name: ``1.0``, ``1.2`` or ``main``.
        video_data_homes: Modules (under ``tensorrt_llm``) that export ``VideoData``.
        thinking_budget: ``SamplingParams.thinking_token_budget`` exists.
        long_prompt_error: Class name raised for a prompt over ``max_num_tokens``.
        client_stop_aborts: A stop string found in the text makes the client call ``abort()``.
        video_metadata_reaches_qwen3: Qwen3-VL's processor gets ``VideoData.metadata``.
        architectures: ``model_type`` values its model registry loads.
        version: ``tensorrt_llm.__version__`` of the release modelled.
        sampler_arg: The ``LLM`` argument that picks the sampler (``enable_trtllm_sampler``
            or ``sampler_type``).
        penalty_sampler: The value of ``sampler_arg`` under which penalties are applied;
            None: the default sampler applies them.
    """

    name: str
    video_data_homes: tuple[str, ...]
    thinking_budget: bool
    long_prompt_error: str
    client_stop_aborts: bool
    video_metadata_reaches_qwen3: bool
    architectures: tuple[str, ...] = ("qwen2_5_vl", "qwen2_vl", "qwen3_vl")
    version: str = ""
    sampler_arg: str = "sampler_type"
    penalty_sampler: bool | str | None = None


COSMOS3_FIRST_RELEASE = "1.3.0rc"
"""The first TensorRT-LLM release line whose registry has ``Cosmos3ForConditionalGeneration``."""

RELEASES = {
    "1.0": Release(
        "1.0",
        (),
        False,
        "ValueError",
        True,
        False,
        version="1.0.0rc4",
        sampler_arg="enable_trtllm_sampler",
        penalty_sampler=True,
    ),
    "1.2": Release(
        "1.2",
        ("inputs.utils",),
        False,
        "ValueError",
        True,
        False,
        version="1.2.0rc2",
        penalty_sampler="TRTLLMSampler",
    ),
    "main": Release(
        "main",
        ("inputs.multimodal_data", "inputs"),
        True,
        "RequestError",
        False,
        True,
        ("qwen2_5_vl", "qwen2_vl", "qwen3_vl", "cosmos3_omni"),
        version="1.3.0rc26",
    ),
}
