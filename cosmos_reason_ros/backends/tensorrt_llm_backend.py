"""The ``tensorrt_llm`` backend: ``tensorrt_llm.LLM`` (PyTorch backend) in this process.

Loads a hub id or local checkpoint, including pre-quantized NVIDIA ModelOpt checkpoints (FP8,
NVFP4, W4A16 AWQ), which TensorRT-LLM reads as they are (``hf_quant_config.json``). The
``quantization`` setting (bitsandbytes) does not apply here and is rejected.

Frames go in as videos, one per clip, already decoded: ``multi_modal_data["video"]`` holds the
clip's frames with metadata at the clip's real sampling rate, and ``mm_processor_kwargs``
carries ``fps`` with ``do_sample_frames=False`` so the Hugging Face processor computes the
temporal positions from our rate and does not re-sample (TensorRT-LLM's own loaders,
``default_multimodal_input_loader``/``load_video``, would re-sample a file to ``num_frames``).

Constrained answers: ``GuidedDecodingParams(json=schema)`` constrains the whole output, which
would forbid the thinking. So a constrained request runs in two phases: (1) free thinking up
to ``max_thinking_tokens`` with ``stop=[think_end]``; (2) a guided call whose prompt continues
from the thinking plus ``answer_prefix``, so only the JSON is constrained. Phase 2 prefills the
prompt and the video again (TensorRT-LLM's KV-cache reuse is off for multimodal inputs), which
costs one more vision encode; it is the price of an answer that always parses.

Imported lazily: without ``tensorrt_llm`` or CUDA, ``load()`` raises
``BackendUnavailableError``. Request building is in pure functions, testable anywhere.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cosmos_reason_ros.backends.config import BackendConfig
from cosmos_reason_ros.backends.messages import (
    hf_messages,
    processor_kwargs,
    video_clips,
    video_metadata,
)
from cosmos_reason_ros.core.architecture import detect_architecture
from cosmos_reason_ros.core.errors import (
    BackendError,
    BackendUnavailableError,
    ConfigError,
    CosmosReasonError,
    GenerationCancelled,
)
from cosmos_reason_ros.core.generation import (
    BackendInfo,
    Capabilities,
    GenerationRequest,
    GenerationResult,
    SamplingSettings,
)
from cosmos_reason_ros.core.types import Clip

__all__ = [
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

_DTYPES = {"auto": "auto", "bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}
_UNAVAILABLE = (
    "The tensorrt_llm backend needs NVIDIA TensorRT-LLM (>= 1.0, PyTorch backend) and a CUDA "
    "GPU; {missing}."
)


def llm_kwargs(config: BackendConfig) -> dict[str, Any]:
    """Arguments of ``tensorrt_llm.LLM`` as plain data (``kv_cache_config`` as a dict).

    Raises:
        ConfigError: A setting that this backend cannot honour.
    """
    if config.quantization != "none":
        raise ConfigError(
            f"quantization {config.quantization!r} is bitsandbytes (transformers backend); "
            "for tensorrt_llm use quantization 'none' and a pre-quantized ModelOpt checkpoint "
            "(FP8, NVFP4 or W4A16 AWQ) as model"
        )
    if config.device == "cpu":
        raise ConfigError("the tensorrt_llm backend runs on CUDA only; device 'cpu' is invalid")
    return {
        "model": config.model,
        "dtype": _DTYPES[config.dtype],
        "trust_remote_code": config.trust_remote_code,
        "guided_decoding_backend": "xgrammar",
        "kv_cache_config": {
            "free_gpu_memory_fraction": config.kv_cache_free_gpu_memory_fraction,
            "dtype": "fp8" if config.kv_cache_dtype == "fp8" else "auto",
            # KV reuse does not work with multimodal prompts (TensorRT-LLM's own example
            # turns it off), and each request here carries new frames anyway.
            "enable_block_reuse": False,
        },
    }


def sampling_kwargs(
    settings: SamplingSettings, max_tokens: int, stop: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Arguments of ``tensorrt_llm.SamplingParams`` as plain data (no guided decoding)."""
    kwargs: dict[str, Any] = {
        "max_tokens": max_tokens,
        "temperature": settings.temperature,
        "top_p": settings.top_p,
        "repetition_penalty": settings.repetition_penalty,
    }
    if settings.seed is not None:
        kwargs["seed"] = settings.seed
    if stop:
        kwargs["stop"] = list(stop)
    return kwargs


@dataclass(frozen=True)
class Phase:
    """One generation call of a request.

    Attributes:
        max_tokens: Token budget of this call (for the answer phase: at most; the thinking
            actually used is subtracted at run time).
        stop: Stop strings (excluded from the output).
        guided_json: JSON schema to constrain this call to, or None.
        lead: Text emitted and appended to the prompt before this call (``answer_prefix``).
        tail: Text emitted after this call (``answer_suffix``).
    """

    max_tokens: int
    stop: tuple[str, ...] = ()
    guided_json: dict[str, Any] | None = None
    lead: str = ""
    tail: str = ""


def plan_phases(request: GenerationRequest) -> tuple[Phase, ...]:
    """One free call, or (constrained) free thinking then a schema-guided answer."""
    total = request.sampling.max_new_tokens
    fmt = request.answer_format
    if fmt is None or not request.constrained:
        return (Phase(max_tokens=total),)
    answer = Phase(
        max_tokens=total,
        guided_json=fmt.json_schema,
        lead=fmt.answer_prefix,
        tail=fmt.answer_suffix,
    )
    budget = min(fmt.max_thinking_tokens, total - 1)
    if budget <= 0:
        return (answer,)
    return (Phase(max_tokens=budget, stop=(fmt.think_end,)), answer)


class TensorRTLLMBackend:
    """A Cosmos-Reason model run by TensorRT-LLM's LLM API in this process.

    Call order and threading follow ``core.generation``. ``generate`` runs TensorRT-LLM's
    asyncio streaming API on a private event loop in the calling thread.
    """

    def __init__(self, config: BackendConfig) -> None:
        self._config = config
        self._llm_kwargs = llm_kwargs(config)  # validates early, before any import
        self._llm: Any = None
        self._processor: Any = None
        self._trtllm: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._architecture = detect_architecture(config.model)

    def load(self) -> None:
        """Load the model on the GPU.

        Raises:
            BackendUnavailableError: tensorrt_llm or CUDA is missing here.
            BackendError: The model failed to load.
        """
        trtllm = _import_tensorrt_llm()
        kwargs = dict(self._llm_kwargs)
        kv = trtllm.llmapi.KvCacheConfig(**kwargs.pop("kv_cache_config"))
        try:
            from transformers import AutoProcessor

            self._processor = AutoProcessor.from_pretrained(  # type: ignore[no-untyped-call]
                self._config.model, trust_remote_code=self._config.trust_remote_code
            )
            self._llm = trtllm.LLM(kv_cache_config=kv, **kwargs)
        except Exception as err:  # translated at the backend boundary
            raise BackendError(
                f"TensorRT-LLM could not load {self._config.model!r}: {err}"
            ) from err
        self._trtllm = trtllm
        self._loop = asyncio.new_event_loop()
        logger.info("tensorrt_llm backend loaded model=%s", self._config.model)

    def generate(self, request: GenerationRequest) -> GenerationResult:
        """Generate, streaming deltas to ``request.on_text``; see the module docstring."""
        if self._llm is None or self._loop is None:
            raise BackendError("tensorrt_llm backend is not loaded; call load() first")
        start = time.monotonic()
        clips = video_clips(request)
        prompt = self._processor.apply_chat_template(
            hf_messages(request), tokenize=False, add_generation_prompt=True
        )
        videos = [self._video(c) for c in clips]
        preprocess_s = time.monotonic() - start
        run = _Run(request, start)
        for phase in plan_phases(request):
            prompt += run.emit(phase.lead)
            inputs: dict[str, Any] = {"prompt": prompt}
            if videos:
                inputs["multi_modal_data"] = {"video": videos}
                inputs["mm_processor_kwargs"] = processor_kwargs(clips)
            params = self._sampling_params(request.sampling, phase, run.generated)
            try:
                text = self._loop.run_until_complete(self._stream(inputs, params, run))
            except CosmosReasonError:
                raise
            except Exception as err:  # translated at the backend boundary
                raise BackendError(f"TensorRT-LLM generation failed: {err}") from err
            prompt += text
            run.emit(phase.tail)
        return GenerationResult(
            text=run.text,
            prompt_tokens=run.prompt_tokens,
            generated_tokens=run.generated,
            time_to_first_token_s=run.ttft,
            total_s=time.monotonic() - start,
            preprocess_s=preprocess_s,
        )

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
            capabilities=Capabilities(
                thinking_budget=True,
                constrained_answer=True,
                video_input=True,
                streaming=True,
                cancel=True,
            ),
            device="cuda",
            dtype=self._config.dtype,
            quantization="checkpoint",
            loaded=self._llm is not None,
        )

    # -- internals ----------------------------------------------------------------------------
    def _video(self, clip: Clip) -> Any:
        from PIL import Image as PILImage

        frames = [PILImage.fromarray(f) for f in clip.frames]
        try:
            from tensorrt_llm.inputs.multimodal_data import VideoData
        except ImportError:  # TensorRT-LLM before VideoData: a plain list of frames
            return frames
        return VideoData(frames=frames, metadata=video_metadata(clip))

    def _sampling_params(self, settings: SamplingSettings, phase: Phase, used: int) -> Any:
        llmapi = self._trtllm.llmapi
        budget = max(1, phase.max_tokens - used) if phase.guided_json else phase.max_tokens
        kwargs = sampling_kwargs(settings, budget, phase.stop)
        if phase.guided_json is not None:
            kwargs["guided_decoding"] = llmapi.GuidedDecodingParams(json=phase.guided_json)
        return self._trtllm.SamplingParams(**kwargs)

    async def _stream(self, inputs: dict[str, Any], params: Any, run: _Run) -> str:
        output = self._llm.generate_async(inputs, sampling_params=params, streaming=True)
        text, tokens = "", 0
        async for step in output:
            if run.cancel is not None and run.cancel.is_set():
                output.abort()
                raise GenerationCancelled("generation cancelled by the caller")
            completion = step.outputs[0]
            text, tokens = completion.text, len(completion.token_ids)
            if not run.prompt_tokens:
                run.prompt_tokens = len(step.prompt_token_ids or ())
            run.emit(completion.text_diff, run.generated + tokens)
        run.generated += tokens
        return str(text)


class _Run:
    """The text and counters of one ``generate`` call, across its phases."""

    def __init__(self, request: GenerationRequest, start: float) -> None:
        self.on_text: Callable[[str, int], None] | None = request.on_text
        self.cancel = request.cancel
        self.start = start
        self.parts: list[str] = []
        self.prompt_tokens = 0
        self.generated = 0  # tokens of the phases finished so far
        self.ttft = 0.0

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def emit(self, delta: str, n_tokens: int | None = None) -> str:
        if delta:
            if not self.parts:
                self.ttft = time.monotonic() - self.start
            self.parts.append(delta)
            if self.on_text is not None:
                self.on_text(delta, self.generated if n_tokens is None else n_tokens)
        return delta


def _import_tensorrt_llm() -> Any:
    """``tensorrt_llm`` with ``llmapi`` loaded, or one clear sentence about what is missing."""
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
