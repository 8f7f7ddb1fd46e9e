"""The ``tensorrt_llm`` backend: TensorRT-LLM's LLM API (``tensorrt_llm.LLM``, PyTorch backend).

Process: ``LLM(...)`` starts TensorRT-LLM's executor, which by default (one GPU, Linux) is a
worker process TensorRT-LLM spawns (mpi4py); this process holds the API client. Set
``TLLM_WORKER_USE_SINGLE_PROCESS=1`` in the environment before the node starts to keep the
worker in this process (TensorRT-LLM warns that this may slow streaming).

Checkpoints: a hub id or local folder, including pre-quantized NVIDIA ModelOpt checkpoints
(FP8, NVFP4, W4A16 AWQ), which TensorRT-LLM reads as they are (``hf_quant_config.json``). The
``quantization`` setting (bitsandbytes) does not apply here and is rejected.

Video: each clip goes in as one video, already decoded: a ``VideoData(frames, metadata)`` per
clip where the release has that class (``tensorrt_llm.inputs.multimodal_data`` and
``tensorrt_llm.inputs`` on main, ``tensorrt_llm.inputs.utils`` on the 1.2 releases), a plain
list of frames before it. Timing: the Qwen2.5-VL path (Reason1) reads ``fps`` from
``mm_processor_kwargs``, sent with ``do_sample_frames=False`` so nothing is re-sampled;
Qwen3-VL (Reason2) on main reads it from ``VideoData.metadata`` and drops ``fps`` when not
sampling; the 1.2 releases' Qwen3-VL processor drops that metadata, so there the backend also
passes ``video_metadata`` in ``mm_processor_kwargs`` (not run on a GPU).

KV-cache block reuse is on by default in TensorRT-LLM, with content hashes of multimodal items
in the block keys. This backend turns it on where the release hashes ``VideoData`` (the
releases that have it), so a constrained answer's second call reuses the prompt's blocks, and
off before that, where video hashing failed over to no hash and reuse could match another
video's blocks (video tokens are all one placeholder id).

Penalties: the recipes' ``repetition_penalty`` (Reason1 1.05) and ``presence_penalty``
(Reason2 / Cosmos 3 without reasoning, 1.5) need the TRT-LLM sampler before 1.3, which the
backend picks at load (``enable_trtllm_sampler`` on 1.0, ``sampler_type="TRTLLMSampler"`` on
1.2); a release with neither setting is refused (``tensorrt_llm.penalties``).

``max_num_tokens`` and ``enable_chunked_prefill`` are parameters (chunked prefill refused for
Reason1's Qwen2.5-VL, ``tensorrt_llm.sizing``): without chunked prefill a
prompt longer than ``max_num_tokens`` is refused, so ``build_config`` sizes it to the
worst-case prompt of the configured cameras and window (``tensorrt_llm.sizing``).

Constrained answers (``GuidedDecodingParams(json=…)`` alone would constrain the thinking too):

- one call where the release has ``SamplingParams.thinking_token_budget`` (main, >= 1.3) and
  the checkpoint's tokenizer writes ``<think>``/``</think>`` with the ids the budget matches
  (``request.thinking_budget_fires``: not Reason1's Qwen2.5 BPE, which spells ``<think>\n``
  with a ``>\n`` token, so the budget would never fire there; two calls then): the
  LLM gets ``reasoning_parser="qwen3"``, the request the thinking budget and a structural tag
  (free thinking up to ``</think>``, then the answer prefix, the JSON schema and the suffix).
  If the thinking deadline comes before ``</think>``, that call is aborted and the answer
  comes from a second, guided call as below. If the call fails before any text, the backend
  logs why and uses two calls from then on.
- two calls otherwise: (1) free thinking, ``max_tokens = max_thinking_tokens`` and
  ``stop=[think_end]``, aborted at the deadline; (2) a JSON-guided call whose prompt is (1)'s
  prompt + the thinking + ``answer_prefix``, with ``max_new_tokens`` less what (1) used. It
  pays a second vision encode (and prefill, unless blocks are reused). On an LLM with a
  reasoning parser, (2)'s guide is a structural tag holding only the schema: TensorRT-LLM main
  wraps a plain ``json`` guide in a ``<think>…</think>`` block for such an LLM
  (``adapt_guided_decoding_for_reasoning_parser``), which would force a second ``<think>``.

Which path a load uses is logged. Streaming, stop strings, cancellation, deadline and abort:
see ``tensorrt_llm.stream``.

Imported lazily: without ``tensorrt_llm`` or CUDA, ``load()`` raises
``BackendUnavailableError``. Tests inject the stand-in
(``cosmos_reason_ros.testing.tensorrt_llm_standin``, its ``installed()``) through
``imports.substitute_tensorrt_llm``; then ``load()`` skips the CUDA check.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from cosmos_reason_ros.backends.config import BackendConfig
from cosmos_reason_ros.backends.guides import (
    answer_only_tag,
    answer_structural_tag,
    opening_marker,
)
from cosmos_reason_ros.backends.messages import (
    hf_messages,
    processor_kwargs,
    video_clips,
    video_metadata,
)
from cosmos_reason_ros.backends.tensorrt_llm.imports import has_one_call, import_tensorrt_llm
from cosmos_reason_ros.backends.tensorrt_llm.penalties import llm_arg_names, penalty_sampler
from cosmos_reason_ros.backends.tensorrt_llm.request import (
    Phase,
    find_video_data,
    llm_kwargs,
    one_call_fits,
    plan_phases,
    sampling_kwargs,
    split_one_call,
    thinking_budget_fires,
    without_opening,
)
from cosmos_reason_ros.backends.tensorrt_llm.sizing import (
    NO_CHUNKED_PREFILL,
    check_chunked_prefill,
)
from cosmos_reason_ros.backends.tensorrt_llm.stream import (
    CallOutcome,
    EventLoopThread,
    Run,
    stream_call,
)
from cosmos_reason_ros.core.architecture import COSMOS3_EDGE, detect_architecture
from cosmos_reason_ros.core.errors import BackendError, CosmosReasonError
from cosmos_reason_ros.core.generation import (
    AnswerFormat,
    BackendInfo,
    Capabilities,
    GenerationRequest,
    GenerationResult,
)
from cosmos_reason_ros.core.types import Clip

__all__ = [  # the request builders stay importable from here, as before the split
    "CAPABILITIES",
    "Phase",
    "TensorRTLLMBackend",
    "hf_messages",
    "llm_kwargs",
    "plan_phases",
    "processor_kwargs",
    "sampling_kwargs",
    "video_metadata",
]

logger = logging.getLogger(__name__)

CAPABILITIES = Capabilities.everything()
_ENDED_BY = {"stop_string": "model", "eos": "model", "length": "tokens", "deadline": "deadline"}


@dataclass(frozen=True)
class _Job:
    """One constrained request, its prompt built."""

    request: GenerationRequest
    fmt: AnswerFormat
    prompt: str
    media: dict[str, Any]
    preprocess_s: float

    def inputs(self, prompt: str) -> dict[str, Any]:
        return {"prompt": prompt, **self.media}


class TensorRTLLMBackend:
    """A Cosmos-Reason model run by TensorRT-LLM's LLM API. See the module docstring.

    Call order and threading follow ``core.generation``. ``generate`` runs TensorRT-LLM's
    asyncio streaming API on the backend's own event-loop thread and waits for it.
    """

    def __init__(self, config: BackendConfig) -> None:
        self._config = config
        self._llm_kwargs = llm_kwargs(config)  # validates early, before any import
        self._llm: Any = None
        self._processor: Any = None
        self._trtllm: Any = None
        self._loop: EventLoopThread | None = None
        self._video_data: Any = None
        self._video_home = ""
        self._one_call = False
        self._architecture = detect_architecture(config.model)
        check_chunked_prefill(config, self._architecture.model_type)

    def load(self) -> None:
        """Load the model on the GPU. Does nothing when already loaded.

        Raises:
            BackendUnavailableError: tensorrt_llm or CUDA is missing here.
            BackendError: The model failed to load.
        """
        if self._llm is not None:
            return
        if self._architecture.model_type == COSMOS3_EDGE:
            raise BackendError(
                f"{self._config.model} is Cosmos3-Edge, which TensorRT-LLM does not run: use "
                "backend transformers, or serve it with TensorRT Edge-LLM or vLLM and use "
                "backend openai (docs/serving.md)"
            )
        trtllm = import_tensorrt_llm()
        sampler = penalty_sampler(llm_arg_names(), getattr(trtllm, "__version__", ""))
        video_data, home = find_video_data()
        try:
            from transformers import AutoProcessor

            processor = AutoProcessor.from_pretrained(  # type: ignore[no-untyped-call]
                self._config.model, trust_remote_code=self._config.trust_remote_code
            )
        except Exception as err:  # translated at the backend boundary
            raise BackendError(
                f"TensorRT-LLM could not load {self._config.model!r}: {err}"
            ) from err
        one_call = has_one_call(trtllm) and self._budget_fires(processor)
        kwargs = llm_kwargs(
            self._config, block_reuse=video_data is not None, one_call=one_call, sampler=sampler
        )
        try:
            kv = trtllm.llmapi.KvCacheConfig(**kwargs.pop("kv_cache_config"))
            llm = trtllm.LLM(kv_cache_config=kv, **kwargs)
        except Exception as err:  # translated at the backend boundary
            raise BackendError(
                f"TensorRT-LLM could not load {self._config.model!r}: {err}"
            ) from err
        self._llm, self._processor, self._trtllm = llm, processor, trtllm
        self._llm_kwargs = {**kwargs, "kv_cache_config": kv}
        self._video_data, self._video_home, self._one_call = video_data, home, one_call
        self._loop = EventLoopThread()
        logger.info(
            "tensorrt_llm backend loaded model=%s tensorrt_llm=%s video=%s kv_block_reuse=%s "
            "max_num_tokens=%s chunked_prefill=%s penalty_sampler=%s answer_path=%s",
            self._config.model,
            getattr(trtllm, "__version__", "?"),
            home or "plain frame lists",
            video_data is not None,
            kwargs.get("max_num_tokens", "default"),
            self._config.enable_chunked_prefill,
            sampler or "default (applies penalties)",
            "one call (thinking_token_budget + structural_tag; a second call for the answer "
            "when the thinking deadline comes first)"
            if one_call
            else "two calls (no SamplingParams.thinking_token_budget here, or one that cannot "
            "see this tokenizer's <think> markers)",
        )

    @staticmethod
    def _budget_fires(processor: Any) -> bool:
        """Whether ``thinking_token_budget`` sees this tokenizer's markers; if not (Reason1),
        the two-call path enforces the budget itself (``max_tokens`` of the thinking call)."""
        tokenizer = getattr(processor, "tokenizer", processor)
        fires = thinking_budget_fires(
            lambda t: list(tokenizer.encode(t, add_special_tokens=False))
        )
        if not fires:
            logger.info(
                "thinking_token_budget cannot fire: this tokenizer writes <think> differently "
                "inside '<think>\\n'; the thinking budget is enforced by a separate call"
            )
        return fires

    def generate(self, request: GenerationRequest) -> GenerationResult:
        """Generate, streaming deltas to ``request.on_text``; see the module docstring."""
        if self._llm is None or self._loop is None:
            raise BackendError("tensorrt_llm backend is not loaded; call load() first")
        start = time.monotonic()
        clips = video_clips(request)
        prompt = self._processor.apply_chat_template(
            hf_messages(request), tokenize=False, add_generation_prompt=True
        )
        media = self._media(clips)
        preprocess_s = time.monotonic() - start
        run = Run(request, start)
        fmt = request.answer_format if request.constrained else None
        if fmt is None:
            (phase,) = plan_phases(request)
            params = self._params(request, phase, 0)
            self._call(stream_call(self._llm, {"prompt": prompt, **media}, params, run))
            return _result(run, preprocess_s)
        job = _Job(request, fmt, prompt, media, preprocess_s)
        if self._one_call and one_call_fits(fmt):
            try:
                return self._one_call_answer(job, run)
            except BackendError as err:
                if run.text:
                    raise
                logger.warning("one-call answer failed (%s); using two calls from now on", err)
                self._one_call = False
                run = Run(request, start)
        return self._two_call_answer(job, run)

    def close(self) -> None:
        """Shut TensorRT-LLM down and free the GPU. Idempotent."""
        llm, self._llm = self._llm, None
        if llm is not None:
            llm.shutdown()
        if self._loop is not None:
            self._loop.close()
            self._loop = None

    def describe(self) -> BackendInfo:
        """Backend, model, architecture; ``quantization`` as configured (checkpoint's own)."""
        return BackendInfo(
            backend="tensorrt_llm",
            model=self._config.model,
            architecture=self._architecture.model_type,
            architecture_source=self._architecture.origin(),
            capabilities=CAPABILITIES,
            device="cuda",
            dtype=self._config.dtype,
            quantization="checkpoint",
            loaded=self._llm is not None,
        )

    # -- the two answer paths -------------------------------------------------------------------
    def _two_call_answer(self, job: _Job, run: Run) -> GenerationResult:
        phases = plan_phases(job.request)
        begun = time.monotonic()
        thinking, ended_by = "", "tokens"
        if len(phases) == 2:
            think = phases[0]
            deadline = begun + think.deadline_s if think.deadline_s > 0 else None
            params = self._params(job.request, think, 0)
            outcome = self._call(
                stream_call(
                    self._llm,
                    job.inputs(job.prompt),
                    params,
                    run,
                    stops=think.stop,
                    deadline=deadline,
                )
            )
            thinking, ended_by = outcome.text, _ENDED_BY[outcome.end]
        return self._answer_call(job, run, thinking, ended_by, time.monotonic() - begun)

    def _answer_call(
        self, job: _Job, run: Run, thinking: str, ended_by: str, thinking_s: float
    ) -> GenerationResult:
        """The JSON-guided call after ``thinking``: prompt + thinking + answer prefix."""
        answer = plan_phases(job.request)[-1]
        prompt = job.prompt + thinking + run.emit(answer.lead)
        params = self._params(job.request, answer, run.generated)
        outcome = self._call(stream_call(self._llm, job.inputs(prompt), params, run))
        run.emit(answer.tail)
        return _result(
            run,
            job.preprocess_s,
            thinking=without_opening(thinking, job.fmt.think_end),
            answer_json=None if outcome.end == "length" else outcome.text,  # cut short
            thinking_ended_by=ended_by,
            thinking_s=thinking_s,
        )

    def _one_call_answer(self, job: _Job, run: Run) -> GenerationResult:
        """Thinking and answer in one call; if the deadline ends the thinking first, the
        call is aborted and the answer comes from a second, guided call."""
        begun = time.monotonic()
        fmt = job.fmt
        total = job.request.sampling.max_new_tokens
        budget = min(fmt.max_thinking_tokens, total - 1)
        opened = job.prompt.rstrip().endswith(opening_marker(fmt.think_end))
        tag = json.dumps(answer_structural_tag(fmt, thinking_opened=opened))
        params = self._trtllm.SamplingParams(
            **sampling_kwargs(job.request.sampling, total),
            thinking_token_budget=budget,
            guided_decoding=self._trtllm.llmapi.GuidedDecodingParams(structural_tag=tag),
        )
        deadline = begun + fmt.max_thinking_s if fmt.max_thinking_s > 0 else None
        call = stream_call(
            self._llm,
            job.inputs(job.prompt),
            params,
            run,
            deadline=deadline,
            marker=fmt.think_end,
        )
        outcome = self._call(call)
        if outcome.end == "deadline":
            return self._answer_call(job, run, outcome.text, "deadline", time.monotonic() - begun)
        thinking, answer_json = split_one_call(outcome.text, fmt)
        closed = outcome.marker_tokens
        ended_by = "" if closed is None else ("tokens" if closed - 1 >= budget else "model")
        return _result(
            run,
            job.preprocess_s,
            thinking=thinking,
            answer_json=None if closed is None or outcome.end == "length" else answer_json,
            thinking_ended_by=ended_by,
            thinking_s=(outcome.marker_at or time.monotonic()) - begun,
        )

    # -- internals -----------------------------------------------------------------------------
    def _params(self, request: GenerationRequest, phase: Phase, used: int) -> Any:
        budget = max(1, phase.max_tokens - used) if phase.guided_json else phase.max_tokens
        kwargs = sampling_kwargs(request.sampling, budget, phase.stop)
        if phase.guided_json is not None:
            guides = self._trtllm.llmapi.GuidedDecodingParams
            if self._llm_kwargs.get("reasoning_parser"):
                # A reasoning parser would wrap a json guide in a <think>…</think> block
                # (adapt_guided_decoding_for_reasoning_parser); a structural tag is kept as is.
                guided = guides(structural_tag=json.dumps(answer_only_tag(phase.guided_json)))
            else:
                guided = guides(json=phase.guided_json)
            kwargs["guided_decoding"] = guided
        return self._trtllm.SamplingParams(**kwargs)

    def _media(self, clips: list[Clip]) -> dict[str, Any]:
        if not clips:
            return {}
        kwargs = processor_kwargs(clips)
        # Cosmos3-Nano / Super's reasoner takes Qwen3-VL's input processor (modeling_cosmos3.py)
        qwen3 = self._architecture.model_type.startswith(("qwen3", "cosmos3_omni"))
        if qwen3 and self._video_home == "tensorrt_llm.inputs.utils":
            kwargs["video_metadata"] = [video_metadata(c) for c in clips]
        videos = [self._video(c) for c in clips]
        return {"multi_modal_data": {"video": videos}, "mm_processor_kwargs": kwargs}

    def _video(self, clip: Clip) -> Any:
        from PIL import Image as PILImage

        frames = [PILImage.fromarray(f) for f in clip.frames]
        if self._video_data is None:  # before VideoData: a plain list of frames
            return frames
        return self._video_data(frames=frames, metadata=video_metadata(clip))

    def _call(self, coro: Coroutine[Any, Any, CallOutcome]) -> CallOutcome:
        assert self._loop is not None
        try:
            return self._loop.run(coro)
        except CosmosReasonError:
            raise
        except Exception as err:  # translated at the backend boundary
            raise BackendError(self._explain(err)) from err

    def _explain(self, err: Exception) -> str:
        text = f"{type(err).__name__}: {err}"
        if "max_num_tokens" not in str(err):
            return f"TensorRT-LLM generation failed: {text}"
        limit = self._llm_kwargs.get("max_num_tokens", "TensorRT-LLM's default, 8192")
        chunked = self._architecture.model_type not in NO_CHUNKED_PREFILL
        return (
            f"TensorRT-LLM refused the prompt ({text}); raise the max_num_tokens parameter "
            f"(now {limit})" + (" or set enable_chunked_prefill" if chunked else "")
        )


def _result(run: Run, preprocess_s: float, **answer: Any) -> GenerationResult:
    return GenerationResult(
        text=run.text,
        prompt_tokens=run.prompt_tokens,
        generated_tokens=run.generated,
        time_to_first_token_s=run.ttft,
        total_s=time.monotonic() - run.start,
        preprocess_s=preprocess_s,
        **answer,
    )
