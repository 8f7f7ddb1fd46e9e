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
import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cosmos_reason_ros.backends.config import BackendConfig
from cosmos_reason_ros.backends.hf_generate import DeltaStreamer, generate_kwargs
from cosmos_reason_ros.backends.messages import hf_messages, video_clips, video_metadata
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

_LOG = logging.getLogger(__name__)

# Modules bitsandbytes must leave in full precision: the vision tower (small, and sensitive to
# quantization) and the output head. Qwen2.5-VL and Qwen3-VL both name them so in
# transformers >= 4.52 (and 5.x), whose patterns match from the start of the module name.
SKIP_QUANTIZATION_MODULES = ("lm_head", "model.visual")

_DTYPE_NAMES = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}

CAPABILITIES = Capabilities(
    thinking_budget=True, constrained_answer=True, video_input=True, streaming=True, cancel=True
)


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

    def load(self) -> None:
        """Load processor and model. Raises ``BackendError`` naming what is wrong."""
        if self._model is not None:
            return
        transformers: Any = importlib.import_module("transformers")
        cfg = self._config
        _check_local_folder(cfg.model)
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
            kwargs["quantization_config"] = _quantization_config(cfg.quantization)
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
                cfg.model, trust_remote_code=cfg.trust_remote_code
            )
            processor_s = time.monotonic() - start
            model = transformers.AutoModelForImageTextToText.from_pretrained(cfg.model, **kwargs)
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
            what = "model folder" if _looks_local(cfg.model) else "model"
            raise BackendError(f"{what} {cfg.model} could not be loaded: {_brief(exc)}") from exc
        architecture = Architecture(
            str(getattr(model.config, "model_type", "")), "config.json", cfg.model
        )
        with self._lock:
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
            streamer = DeltaStreamer(processor.tokenizer, request.on_text)
            kwargs = generate_kwargs(model, processor.tokenizer, request, streamer)
            if request.sampling.seed is not None:
                torch.manual_seed(request.sampling.seed)
            with torch.inference_mode():
                output = model.generate(**inputs, **kwargs)
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
        return GenerationResult(
            text=text,
            prompt_tokens=prompt_tokens,
            generated_tokens=int(generated.shape[0]),
            time_to_first_token_s=(first - start) if first is not None else total_s,
            total_s=total_s,
            preprocess_s=preprocess_s,
        )

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


def _looks_local(model: str) -> bool:
    return model.startswith(("/", "./", "../", "~")) or Path(model).expanduser().exists()


def _check_local_folder(model: str) -> None:
    """Fail early, in one sentence, on a local folder that cannot hold a checkpoint."""
    if not _looks_local(model):
        return
    folder = Path(model).expanduser()
    if not folder.exists():
        raise BackendError(f"model folder {folder} does not exist")
    if not folder.is_dir():
        raise BackendError(f"model folder {folder} is a file, not a checkpoint folder")
    config = folder / "config.json"
    if not config.is_file():
        raise BackendError(f"model folder {folder} has no config.json: not a checkpoint folder")
    try:
        json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BackendError(f"model folder {folder} has an unreadable config.json: {exc}") from exc
    if not any(folder.glob("*.safetensors")):
        raise BackendError(f"model folder {folder} has no *.safetensors weights")


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


def _quantization_config(quantization: str) -> Any:
    try:
        import bitsandbytes  # noqa: F401
    except ImportError as exc:
        raise BackendUnavailableError(
            f"quantization {quantization} needs the bitsandbytes package, which is not installed"
        ) from exc
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
        if _major_version(importlib.import_module("transformers").__version__) < 5:
            # 4.x Qwen2.5-VL times video patches from the ``fps`` argument, not the metadata.
            kwargs["fps"] = [m["fps"] for m in kwargs["video_metadata"]]
    inputs = processor(text=[prompt], return_tensors="pt", **kwargs)
    return inputs.to(device)


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
