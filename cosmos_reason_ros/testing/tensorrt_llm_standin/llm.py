"""``LLM``: the stand-in for ``tensorrt_llm.LLM`` (PyTorch backend).

Mirrors ``tensorrt_llm/llmapi/llm.py`` (``BaseLLM``, ``_TorchLLM``, ``LLM``), ≈ 1.1 and main:

- the constructor's signature; any other keyword must be a ``TorchLlmArgs`` field, else
  ``ValueError("LLM got invalid argument: <key>")``, checked before pydantic validates;
- ``generate_async`` does its work in the call, before any result exists: "LLM is shutting
  down" after ``shutdown``; stop strings tokenised (``_setup``); ``thinking_token_budget``
  needs a ``reasoning_parser`` (main); the multimodal input processor (``inputs.py``); and a
  prompt longer than ``max_num_tokens`` refused without chunked prefill, with upstream's
  message (``ValueError`` on 1.0/1.2, ``RequestError`` on main); on main, a plain guide of an
  LLM with a ``reasoning_parser`` is adapted to open a reasoning block first
  (``reasoning.adapt_guided_decoding_for_reasoning_parser``);
- a guided request on an LLM without ``guided_decoding_backend`` fails with the C++ executor's
  message (upstream's PyTorch backend may instead ignore the guide: not verified; the
  stand-in is strict so that a missing backend shows); a structural tag is compiled by the
  installed xgrammar, as upstream's ``GrammarMatcherFactory`` does; errors of the request
  reach the client as ``RequestError`` from the iteration;
- penalties: ``repetition_penalty`` / ``presence_penalty`` reach the sampler only where the
  release's default sampler applies them or the LLM picked the TRT-LLM sampler
  (``releases.py``, ``penalty_sampler``); otherwise they are dropped without a word, as
  TorchSampler did before 2026. ``CallRecord.applied_penalties`` says what the sampler used;
- ``shutdown()`` is idempotent; ``LLM`` is a context manager and cannot be pickled.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, ClassVar

from cosmos_reason_ros.core.architecture import detect_architecture
from cosmos_reason_ros.testing.tensorrt_llm_standin.args import TorchLlmArgs
from cosmos_reason_ros.testing.tensorrt_llm_standin.inputs import process_videos
from cosmos_reason_ros.testing.tensorrt_llm_standin.reasoning import (
    adapt_guided_decoding_for_reasoning_parser,
)
from cosmos_reason_ros.testing.tensorrt_llm_standin.releases import Release
from cosmos_reason_ros.testing.tensorrt_llm_standin.result import RequestError, RequestOutput
from cosmos_reason_ros.testing.tensorrt_llm_standin.runtime import CallRecord, Runtime

__all__ = ["LLM"]

VIDEO_PLACEHOLDER = "<|video_pad|>"
_TEXT_TOKEN = re.compile(r"<\|[a-z_]+\|>|\w+|[^\w\s]|\s+")
_NO_GUIDED_DECODER = (
    "Request is specified with GuidedDecodingParams, but GuidedDecoder is not setup. Please "
    "provide a valid GuidedDecodingConfig to setup GuidedDecoder."
)


def _architecture_name(model_type: str) -> str:
    """The ``architectures[0]`` a checkpoint of ``model_type`` names in its config.json."""
    return {
        "cosmos3_omni": "Cosmos3ForConditionalGeneration",
        "cosmos3_edge": "Cosmos3EdgeForConditionalGeneration",
    }.get(model_type, model_type)


class LLM:
    """A scripted ``tensorrt_llm.LLM``; ``installed()`` binds a release and a ``Runtime``."""

    _release: ClassVar[Release]
    _runtime: ClassVar[Runtime]
    _sampling_class: ClassVar[type[Any]]
    _args_class: ClassVar[type[TorchLlmArgs]]

    def __init__(  # noqa: PLR0917 (upstream's signature)
        self,
        model: str | Path,
        tokenizer: Any = None,
        tokenizer_mode: str = "auto",
        skip_tokenizer_init: bool = False,
        trust_remote_code: bool = False,
        tensor_parallel_size: int = 1,
        dtype: str = "auto",
        revision: str | None = None,
        tokenizer_revision: str | None = None,
        **kwargs: Any,
    ) -> None:
        self._executor: Runtime | None = None
        valid_keys = set(self._args_class.model_fields) | {"_mpi_session", "backend"}
        for key in kwargs:
            if key not in valid_keys:
                raise ValueError(f"{self.__class__.__name__} got invalid argument: {key}")
        self.args = self._args_class(
            model=model,
            tokenizer=tokenizer,
            tokenizer_mode=tokenizer_mode,  # type: ignore[arg-type]
            skip_tokenizer_init=skip_tokenizer_init,
            trust_remote_code=trust_remote_code,
            tensor_parallel_size=tensor_parallel_size,
            dtype=dtype,
            revision=revision,
            tokenizer_revision=tokenizer_revision,
            **kwargs,
        )
        self._model_type = detect_architecture(str(model)).model_type or "qwen2_5_vl"
        if self._model_type not in self._release.architectures:
            # upstream: _torch/models/modeling_auto.py, AutoModelForCausalLM.from_config
            raise ValueError(
                "Unknown architecture for AutoModelForCausalLM: "
                f"{_architecture_name(self._model_type)}"
            )
        self._executor = self._runtime
        given = ", ".join(f"{k}={v!r}" for k, v in sorted(kwargs.items()))
        self._runtime.note(f"LLM(model={str(model)!r}, dtype={dtype!r}, {given})")

    # -- generation ----------------------------------------------------------------------------
    def generate_async(  # noqa: PLR0917 (upstream's signature)
        self,
        inputs: Any,
        sampling_params: Any = None,
        lora_request: Any = None,
        prompt_adapter_request: Any = None,
        streaming: bool = False,
        kv_cache_retention_config: Any = None,
        disaggregated_params: Any = None,
        _postproc_params: Any = None,
        scheduling_params: Any = None,
        cache_salt: str | None = None,
    ) -> RequestOutput:
        if self._executor is None:
            raise RuntimeError("LLM is shutting down")
        runtime = self._runtime
        params = sampling_params if sampling_params is not None else self._sampling_class()
        if params.end_id is None:
            params._setup(runtime.encode)
        budget = getattr(params, "thinking_token_budget", None)
        if budget is not None and budget != -1 and not self.args.reasoning_parser:
            raise ValueError("thinking_token_budget requires a configured reasoning_parser")
        if self._release.thinking_budget:  # main: a reasoning parser adapts plain guides
            params.guided_decoding = adapt_guided_decoding_for_reasoning_parser(
                params.guided_decoding, self.args.reasoning_parser
            )
        prompt_inputs: dict[str, Any] = (
            {"prompt": inputs} if isinstance(inputs, str) else dict(inputs)
        )
        mm_data = prompt_inputs.get("multi_modal_data", {})
        mm_kwargs = prompt_inputs.get("mm_processor_kwargs", {})
        videos = []
        if mm_data.get("video"):
            videos = process_videos(mm_data["video"], mm_kwargs, self._release, self._model_type)
        prompt = str(prompt_inputs.get("prompt", ""))
        prompt_token_ids = self._tokenize(prompt, [v.tokens for v in videos])
        self._check_arguments(len(prompt_token_ids))
        request_id = runtime.new_request_id()
        record = CallRecord(
            request_id,
            prompt_inputs,
            params,
            prompt_token_ids,
            videos,
            applied_penalties=self._applied_penalties(params),
        )
        output = RequestOutput._create(
            request_id, prompt, prompt_token_ids, params, runtime, self._release
        )
        runtime.note(f"generate_async(request {request_id}, streaming={streaming})")
        thinking_budget = budget if self.args.reasoning_parser else None
        runtime.start(record, output._post, thinking_budget, self._request_error(params))
        return output

    def shutdown(self) -> None:
        if self._executor is not None:
            self._runtime.note("LLM.shutdown()")
            self._executor = None

    def __enter__(self) -> LLM:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    def __getstate__(self) -> Any:
        raise RuntimeError("LLM object can not be pickled.")

    # -- internals -----------------------------------------------------------------------------
    def _tokenize(self, prompt: str, video_tokens: list[int]) -> list[int]:
        parts = prompt.split(VIDEO_PLACEHOLDER)
        if len(parts) - 1 != len(video_tokens):
            raise ValueError(
                f"the prompt has {len(parts) - 1} video placeholders but {len(video_tokens)} "
                "videos were given"
            )
        pad = self._runtime.token_id(VIDEO_PLACEHOLDER)
        ids: list[int] = []
        for index, part in enumerate(parts):
            if self._runtime.tokenizer is not None:
                ids.extend(self._runtime.encode(part))
            else:
                ids.extend(self._runtime.token_id(t) for t in _TEXT_TOKEN.findall(part))
            if index < len(video_tokens):
                ids.extend([pad] * video_tokens[index])
        return ids

    def _applied_penalties(self, params: Any) -> dict[str, float]:
        """The penalties the sampler uses: none where TorchSampler cannot apply them."""
        wanted = self._release.penalty_sampler
        if wanted is not None and getattr(self.args, self._release.sampler_arg) != wanted:
            return {}
        named = {
            "repetition_penalty": params.repetition_penalty,
            "presence_penalty": params.presence_penalty,
        }
        return {k: float(v) for k, v in named.items() if v is not None}

    def _check_arguments(self, prompt_len: int) -> None:
        max_num_tokens = self.args.max_num_tokens
        if self.args.enable_chunked_prefill or not max_num_tokens:
            return
        cp_size, query_len = 1, 0  # context parallelism and queries: not used here
        if prompt_len / cp_size + query_len > max_num_tokens:
            message = (
                f"The sum of prompt length ({prompt_len / cp_size}), query length "
                f"({query_len}) should not "
                f"exceed max_num_tokens ({max_num_tokens})"
            )
            if self._release.long_prompt_error == "RequestError":
                raise RequestError(message)
            raise ValueError(message)

    def _request_error(self, params: Any) -> str | None:
        guide = params.guided_decoding.guide() if params.guided_decoding else None
        if guide is None:
            return None
        kind, text = guide
        if self.args.guided_decoding_backend is None:
            return _NO_GUIDED_DECODER
        if kind == "structural_tag" and self.args.guided_decoding_backend != "xgrammar":
            return "Unsupported guide type: GuideType.STRUCTURAL_TAG."
        try:
            if kind == "structural_tag":
                import xgrammar

                xgrammar.Grammar.from_structural_tag(text)
            elif kind == "json":
                json.loads(text)
        except Exception as err:  # whatever the grammar compiler says reaches the client
            return f"the {kind} guide cannot be compiled: {err}"
        return None
