"""In-process backend: a Qwen-VL-family checkpoint run through Hugging Face transformers.

Loads a hub id or a local folder with ``AutoProcessor`` + ``AutoModelForImageTextToText``
(Cosmos-Reason1 = Qwen2.5-VL, Cosmos-Reason2 = Qwen3-VL), optionally quantized with
bitsandbytes, and generates with optional streaming, cancellation and constrained decoding
(``constrained.AnswerConstraint``). Works with transformers >= 4.57 and 5.x.

Call order and threading follow ``core.generation``: ``load`` once, ``generate`` from one thread
at a time, ``close``; ``describe`` from any thread.
"""

from __future__ import annotations

import gc
import importlib
import logging
import os
import threading
import time
from typing import Any

import numpy as np
import torch

from cosmos_reason_ros.backends.config import BackendConfig
from cosmos_reason_ros.backends.messages import hf_messages, video_clips, video_metadata
from cosmos_reason_ros.backends.transformers.checkpoint import looks_local, resolve_checkpoint
from cosmos_reason_ros.backends.transformers.compile import CompiledDecoding, warm_up
from cosmos_reason_ros.backends.transformers.generate import DeltaStreamer, plan_generation
from cosmos_reason_ros.backends.transformers.hub import gated_sentence, locate_checkpoint
from cosmos_reason_ros.backends.transformers.quantization import quantization_config
from cosmos_reason_ros.core.architecture import Architecture, detect_architecture
from cosmos_reason_ros.core.errors import (
    BackendError,
    BackendUnavailableError,
    CosmosReasonError,
    GenerationCancelled,
)
from cosmos_reason_ros.core.generation import (
    BackendInfo,
    Capabilities,
    GenerationRequest,
    GenerationResult,
)
from cosmos_reason_ros.core.prompt_bound import check_context, context_tokens

_LOG = logging.getLogger(__name__)


_DTYPE_NAMES = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}

CAPABILITIES = Capabilities.everything()


class TransformersBackend:
    """Runs the model in this process with transformers. See the module docstring."""

    def __init__(self, config: BackendConfig) -> None:
        """Remember ``config``; nothing is loaded until ``load``."""
        self._config = config
        self._lock = threading.Lock()
        self._model: Any = None
        self._processor: Any = None
        self._device = config.device
        self._dtype = config.dtype
        self._architecture = detect_architecture(config.model)
        self._decoding = CompiledDecoding.resolve(config.compile, "cpu")

    def load(self) -> None:
        """Load processor and model. Raises ``BackendError`` naming what is wrong."""
        if self._model is not None:
            return
        transformers: Any = importlib.import_module("transformers")
        cfg = self._config
        # Fast and offline-safe: a cached hub id becomes its snapshot folder, which is then
        # checked like any folder (and refused if others could change its code).
        source = resolve_checkpoint(
            locate_checkpoint(cfg.model), trust_remote_code=cfg.trust_remote_code
        )
        device = _resolve_device(cfg.device)
        if device == "cpu":
            _leave_a_core()
        dtype_name = _resolve_dtype(cfg.dtype, device)
        torch_dtype = getattr(torch, _DTYPE_NAMES[dtype_name])
        kwargs: dict[str, Any] = {
            "dtype": torch_dtype,  # transformers >= 4.56 takes dtype= (torch_dtype= is deprecated)
            "use_safetensors": True,
            "trust_remote_code": cfg.trust_remote_code,
        }
        if cfg.quantization != "none":
            kwargs["quantization_config"] = quantization_config(cfg.quantization, device)
        if cfg.quantization != "none" or device == "cuda":
            # Straight onto the GPU (needs accelerate); no full-precision copy in host memory.
            kwargs["device_map"] = {"": device}
        _LOG.info(
            "loading model: model=%s device=%s dtype=%s quantization=%s transformers=%s",
            cfg.model,
            device,
            dtype_name,
            cfg.quantization,
            transformers.__version__,
        )
        start = time.monotonic()
        try:
            processor = transformers.AutoProcessor.from_pretrained(
                source, trust_remote_code=cfg.trust_remote_code
            )
            processor_s = time.monotonic() - start
            model = transformers.AutoModelForImageTextToText.from_pretrained(source, **kwargs)
            if "device_map" not in kwargs:
                model = model.to(device)
            model.eval()
        except CosmosReasonError:
            raise
        except torch.cuda.OutOfMemoryError as exc:
            raise BackendError(
                f"model {cfg.model} does not fit in GPU memory with dtype={dtype_name} "
                f"quantization={cfg.quantization}; try quantization 4bit or a smaller model"
            ) from exc
        except Exception as exc:  # any loader failure becomes one clear BackendError
            gated = gated_sentence(cfg.model, exc)
            if gated is not None:
                raise BackendError(gated) from exc
            what = "model folder" if looks_local(cfg.model) else "model"
            raise BackendError(f"{what} {cfg.model} could not be loaded: {_brief(exc)}") from exc
        architecture = Architecture(
            str(getattr(model.config, "model_type", "")), "config.json", cfg.model
        )
        decoding = CompiledDecoding.resolve(cfg.compile, device)
        warm_up(model, processor.tokenizer, decoding, cfg.cache_tokens)
        with self._lock:
            self._decoding = decoding
            self._model, self._processor = model, processor
            self._device, self._dtype, self._architecture = device, dtype_name, architecture
        _LOG.info(
            "model loaded: architecture=%s parameters=%d processor_s=%.2f load_s=%.2f "
            "gpu_memory_bytes=%s",
            architecture.describe(),
            sum(p.numel() for p in model.parameters()),
            processor_s,
            time.monotonic() - start,
            _gpu_memory(device),
        )

    def generate(self, request: GenerationRequest) -> GenerationResult:
        """Generate for ``request``. Raises ``BackendError`` or ``GenerationCancelled``."""
        model, processor = self._model, self._processor
        if model is None:
            raise BackendError("the transformers backend is not loaded; call load() first")
        cancel = request.cancel
        if cancel is not None and cancel.is_set():
            raise GenerationCancelled("generation cancelled before it started")
        start = time.monotonic()
        try:
            inputs = _build_inputs(processor, request, self._device)
            preprocess_s = time.monotonic() - start
            prompt_tokens = int(inputs["input_ids"].shape[1])
            check_context(
                prompt_tokens, request.sampling.max_new_tokens, context_tokens(model.config)
            )
            streamer = DeltaStreamer(processor.tokenizer, request.on_text)
            plan = plan_generation(
                model,
                processor.tokenizer,
                request,
                streamer,
                started_at=time.monotonic(),
                pre_processors=self._pre_processors(processor.tokenizer),
            )
            output = self._run(model, inputs, plan.kwargs, request, prompt_tokens)
        except CosmosReasonError:
            raise
        except torch.cuda.OutOfMemoryError as exc:
            _empty_cuda_cache()
            raise BackendError(
                f"out of GPU memory while generating ({request.sampling.max_new_tokens} new "
                "tokens); use fewer frames, a smaller pixel budget or quantization"
            ) from exc
        except Exception as exc:  # torch / transformers errors become one clear BackendError
            raise BackendError(f"generation failed: {_brief(exc)}") from exc
        total_s = time.monotonic() - start
        generated = output[0, prompt_tokens:]
        if cancel is not None and cancel.is_set():
            raise GenerationCancelled(f"generation cancelled after {len(generated)} tokens")
        text = processor.tokenizer.decode(generated, skip_special_tokens=True)
        first = streamer.first_token_time
        spans = plan.constraint.spans() if plan.constraint is not None else None
        return GenerationResult(
            text=text,
            prompt_tokens=prompt_tokens,
            generated_tokens=int(generated.shape[0]),
            time_to_first_token_s=(first - start) if first is not None else total_s,
            total_s=total_s,
            preprocess_s=preprocess_s,
            thinking=spans.thinking if spans is not None else None,
            answer_json=spans.answer_json if spans is not None else None,
            thinking_ended_by=spans.thinking_ended_by if spans is not None else "",
            thinking_s=spans.thinking_s if spans is not None else 0.0,
        )

    def _run(
        self,
        model: Any,
        inputs: Any,
        kwargs: dict[str, Any],
        request: GenerationRequest,
        prompt_tokens: int,
    ) -> Any:
        """``model.generate``, compiled where enabled; eager (for good) if compiling fails."""
        decoding = self._decoding
        for compiled in (decoding.enabled, False):
            if request.sampling.seed is not None:
                torch.manual_seed(request.sampling.seed)
            extra = decoding.generate_kwargs(prompt_tokens, request.sampling.max_new_tokens)
            try:
                with torch.inference_mode():
                    return model.generate(**inputs, **kwargs, **extra)
            except (torch.cuda.OutOfMemoryError, CosmosReasonError):
                raise
            except Exception as exc:
                if not compiled:
                    raise
                decoding.disable(exc)
        raise AssertionError("unreachable")  # pragma: no cover

    def _pre_processors(self, tokenizer: Any) -> list[Any]:
        """Logits processors that run before ours; none (``testing.adversary`` adds some)."""
        return []

    def close(self) -> None:
        """Release the model and empty the CUDA cache. Idempotent."""
        with self._lock:
            loaded = self._model is not None
            self._model = None
            self._processor = None
        if loaded:
            gc.collect()
            _empty_cuda_cache()
            _LOG.info("model released: model=%s", self._config.model)

    def describe(self) -> BackendInfo:
        """Describe the backend and model (thread-safe)."""
        with self._lock:
            loaded = self._model is not None
            device, dtype, architecture = self._device, self._dtype, self._architecture
        return BackendInfo(
            backend="transformers",
            model=self._config.model,
            architecture=architecture.model_type,
            architecture_source=architecture.origin(),
            capabilities=CAPABILITIES,
            device=device,
            dtype=dtype,
            quantization=self._config.quantization,
            loaded=loaded,
            gpu_memory_bytes=_gpu_memory(device) if loaded else None,
        )


def _resolve_device(device: str) -> str:
    if device == "cpu":
        return "cpu"
    if torch.cuda.is_available():
        return "cuda"
    if device == "cuda":
        raise BackendUnavailableError("device 'cuda' was requested but no CUDA GPU is available")
    return "cpu"


def _leave_a_core() -> None:
    """Run torch's CPU operations on one thread fewer than there are cores (at least one).

    torch's default, one thread per core, makes each operation wait at a barrier for its
    slowest thread; with the node's camera threads, DDS and other processes on the same cores,
    one preempted thread stalls every step. Measured on 2 shared cores (tiny model, four
    720p cameras, default token budgets): 3.0-3.4 s per decision on one thread, 2.7-50 s on
    two. ``OMP_NUM_THREADS``, when set, decides instead.
    """
    if "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) - 1))


def _resolve_dtype(dtype: str, device: str) -> str:
    if dtype != "auto":
        return dtype
    if device == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "fp32"


def _major_version(version: str) -> int:
    return int(version.split(".", 1)[0])


def _gpu_memory(device: str) -> int | None:
    if device != "cuda" or not torch.cuda.is_available():
        return None
    return int(torch.cuda.memory_allocated())


def _empty_cuda_cache() -> None:
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _brief(exc: BaseException) -> str:
    """``Type: first line of the message``, short enough for one log line."""
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(exc).__name__}: {first[:300]}"


def _build_inputs(processor: Any, request: GenerationRequest, device: str) -> Any:
    """Chat template + processor: the model inputs for ``request``, on ``device``.

    Videos go in the order their placeholders appear, each with its real sampling rate; the
    processor neither re-samples nor resizes them (frames arrive already sized for the model).
    """
    prompt = processor.apply_chat_template(
        hf_messages(request), tokenize=False, add_generation_prompt=True
    )
    clips = video_clips(request)
    kwargs: dict[str, Any] = {}
    if clips:
        video_processor = processor.video_processor
        factor = int(video_processor.patch_size) * int(video_processor.merge_size)
        temporal = int(video_processor.temporal_patch_size)
        videos = [_model_frames(c.frames, factor, temporal) for c in clips]
        kwargs = {
            "videos": videos,
            "video_metadata": [
                video_metadata(c, len(v)) for c, v in zip(clips, videos, strict=True)
            ],
            "do_sample_frames": False,
            "do_resize": False,
        }
        if hasattr(video_processor, "cap_pixels_per_frame"):
            kwargs["cap_pixels_per_frame"] = False
        if _timestamps_each_frame(processor):
            # Cosmos3-Edge's processor writes each frame's timestamp from the metadata the
            # video processor returns only when asked (transformers 5.25
            # processing_cosmos3_edge.py ``replace_video_token``); Qwen3-VL's asks itself.
            kwargs["return_metadata"] = True
            # and its model places M-RoPE positions by token type, which it must be given
            kwargs["return_mm_token_type_ids"] = True
        if _major_version(importlib.import_module("transformers").__version__) < 5:
            # 4.x Qwen2.5-VL times video patches from the ``fps`` argument, not the metadata.
            kwargs["fps"] = [m["fps"] for m in kwargs["video_metadata"]]
    inputs = processor(text=[prompt], return_tensors="pt", **kwargs)
    inputs.pop("video_metadata", None)  # for the prompt only; generate() does not take it
    return inputs.to(device)


def _timestamps_each_frame(processor: Any) -> bool:
    """Whether ``processor`` is Cosmos3-Edge's, which puts a timestamp before every frame."""
    return type(processor).__name__.startswith("Cosmos3Edge")


def _model_frames(frames: tuple[Any, ...], factor: int, temporal: int) -> Any:
    """Stack a clip as (T, H, W, 3), sides a multiple of ``factor``, T of ``temporal``.

    Windows deliver frames already sized so; anything else is resized here (nearest pixel)
    rather than by the processor, whose own resizing would also bound the clip's total pixels.
    Short clips repeat their last frame, as the model's patching does (Qwen3-VL requires it).
    """
    video = np.stack(frames)
    height, width = video.shape[1:3]
    fit_h = max(factor, round(height / factor) * factor)
    fit_w = max(factor, round(width / factor) * factor)
    if (fit_h, fit_w) != (height, width):
        _LOG.debug("resizing frames: from=%dx%d to=%dx%d", width, height, fit_w, fit_h)
        rows = (np.arange(fit_h) * height) // fit_h
        cols = (np.arange(fit_w) * width) // fit_w
        video = video[:, rows][:, :, cols]
    if pad := -len(video) % temporal:
        video = np.concatenate([video, np.repeat(video[-1:], pad, axis=0)])
    return video
