"""The OpenAI chat-completions request a ``GenerationRequest`` becomes. Pure apart from frame
encoding; no network.

- Media first, in the chat's order. ``video_transport="video"`` (the default) sends each clip
  as one MP4 ``video_url`` data URL at the clip's frame rate, as every upstream Cosmos-Reason
  path sends a video, with ``mm_processor_kwargs`` that keep the server's Hugging Face
  processor from re-sampling or resizing what the window already sampled and sized: ``fps``,
  ``do_sample_frames: false``, ``do_resize: false`` and size bounds that hold the frames as
  they are (Qwen2.5-VL: per-frame ``min_pixels``/``max_pixels``; Qwen3-VL: ``size`` in total
  pixels of the clip, its ``shortest_edge``/``longest_edge``). ``"images"`` sends every frame
  as a JPEG ``image_url`` (no timing: the model sees stills).
- Every sampling setting is sent, so the server's own defaults (a checkpoint's
  ``generation_config``) never creep in: ``temperature``, ``top_p``, ``presence_penalty``,
  ``max_tokens``, ``seed`` and, as vLLM / trtllm-serve extensions, ``top_k`` (0: no cut) and
  ``repetition_penalty``.
- ``with_schema`` adds the answer schema as ``response_format`` json_schema; ``continuation``
  asks for the answer after a prefilled assistant turn (``continue_final_message: true``,
  ``add_generation_prompt: false``: vLLM, SGLang and transformers' chat templating).
- trtllm-serve (``server=TRTLLM_SERVE``) reads a request its own way (NVIDIA/TensorRT-LLM
  ``tensorrt_llm/serve/chat_utils.py`` @ 0c351902, ``inputs/media_io.py`` @ 0142b193), so its
  requests differ in two places. (1) It loads each ``video_url`` itself, keeping 10 frames
  (``VideoMediaIO(num_frames=10, fps=30)``) unless told otherwise: every video request says
  ``media_io_kwargs: {"video": {"num_frames": -1, "fps": -1}}``, which keeps every frame.
  (2) Within a message it joins the text parts and puts every media placeholder before them
  (Qwen2.5-VL, Qwen3-VL and Cosmos 3 register ``ContentFormat.STRING``, ``BEFORE_TEXT``, no
  interleaving), which would move "Camera N: …" away from its video: a message with several
  clips is sent as one user turn per clip (its label, then its media), the question in a turn
  of its own, so each label stays in the turn of its own video.
"""

from __future__ import annotations

import copy
import math
from typing import Any

from cosmos_reason_ros.backends.config import BackendConfig
from cosmos_reason_ros.backends.messages import clip_fps, video_clips
from cosmos_reason_ros.backends.openai.media import jpeg_data_url, mp4_data_url
from cosmos_reason_ros.core.errors import BackendError
from cosmos_reason_ros.core.generation import (
    AnswerFormat,
    ChatMessage,
    GenerationRequest,
    TextPart,
    VideoPart,
)
from cosmos_reason_ros.core.types import Clip

__all__ = [
    "ALL_FRAMES",
    "TRTLLM_SERVE",
    "build_chat_kwargs",
    "continuation",
    "media_turns",
    "server_processor_kwargs",
    "with_guide",
    "with_schema",
]

TRTLLM_SERVE = "trtllm-serve"
"""The server name of trtllm-serve (its ``/v1/models`` cards are ``owned_by: tensorrt_llm``)."""

ALL_FRAMES = {"video": {"num_frames": -1, "fps": -1}}
"""trtllm-serve's ``media_io_kwargs`` that keep every frame of a video: ``_load_video_by_cv2``
caps the count only at a positive ``num_frames`` and a positive ``fps``."""


def _content(message: ChatMessage, request: GenerationRequest, config: BackendConfig) -> Any:
    if all(isinstance(p, TextPart) for p in message.parts):
        return "".join(p.text for p in message.parts if isinstance(p, TextPart))
    parts: list[dict[str, Any]] = []
    for part in message.parts:
        if isinstance(part, TextPart):
            parts.append({"type": "text", "text": part.text})
            continue
        if not 0 <= part.clip_index < len(request.clips):
            raise BackendError(
                f"message refers to clip {part.clip_index} but the request has "
                f"{len(request.clips)} clip(s)"
            )
        clip = request.clips[part.clip_index]
        if config.video_transport == "video":
            parts.append({"type": "video_url", "video_url": {"url": mp4_data_url(clip)}})
        else:
            parts.extend(
                {"type": "image_url", "image_url": {"url": jpeg_data_url(f, config.jpeg_quality)}}
                for f in clip.frames
            )
    return parts


def server_processor_kwargs(clips: list[Clip], architecture: str = "") -> dict[str, Any]:
    """``mm_processor_kwargs`` that make the server's processor take ``clips`` as they are.

    Args:
        clips: The clips, in the order their videos appear.
        architecture: ``qwen2_5_vl``, ``qwen3_vl``, ``cosmos3_omni`` (Qwen3-VL's processor)
            or ``cosmos3_edge`` (its own, one frame per temporal patch) adds that processor's
            size bounds; other values send only the rate and the no-resampling, no-resizing
            switches.
    """
    if not clips:
        return {}
    fps = [clip_fps(c) for c in clips]
    kwargs: dict[str, Any] = {
        "fps": fps[0] if len(set(fps)) == 1 else fps,
        "do_sample_frames": False,
        "do_resize": False,
    }
    frame_px = [c.frames[0].shape[0] * c.frames[0].shape[1] for c in clips]
    if architecture.startswith("qwen2"):
        kwargs.update(min_pixels=min(frame_px), max_pixels=max(frame_px))
    elif architecture.startswith(("qwen3", "cosmos3_omni")):
        # Qwen3-VL's video processor bounds the clip's total T x H x W, frames padded to pairs.
        pairs = [math.ceil(len(c.frames) / 2) for c in clips]
        totals = [2 * n * px for n, px in zip(pairs, frame_px, strict=True)]
        kwargs["size"] = {"shortest_edge": min(totals), "longest_edge": max(totals)}
    elif architecture.startswith("cosmos3_edge"):
        # Cosmos3-Edge's video processor bounds T x H x W too, one frame per temporal patch
        # (transformers 5.25 video_processing_cosmos3_edge.py).
        totals = [len(c.frames) * px for c, px in zip(clips, frame_px, strict=True)]
        kwargs["size"] = {"shortest_edge": min(totals), "longest_edge": max(totals)}
    return kwargs


def media_turns(messages: tuple[ChatMessage, ...]) -> tuple[ChatMessage, ...]:
    """``messages`` with each message that holds several clips split into one turn per clip
    (the parts up to and including that clip) and a turn for the parts after the last clip."""
    out: list[ChatMessage] = []
    for message in messages:
        if sum(isinstance(p, VideoPart) for p in message.parts) < 2:
            out.append(message)
            continue
        parts: list[Any] = []
        for part in message.parts:
            parts.append(part)
            if isinstance(part, VideoPart):
                out.append(ChatMessage(message.role, tuple(parts)))
                parts = []
        if parts:
            out.append(ChatMessage(message.role, tuple(parts)))
    return tuple(out)


def build_chat_kwargs(
    request: GenerationRequest,
    config: BackendConfig,
    architecture: str = "",
    extra_body: dict[str, Any] | None = None,
    server: str = "",
) -> dict[str, Any]:
    """The keyword arguments of ``client.chat.completions.create`` for ``request``, without a
    schema (``with_schema`` adds it). See the module docstring for the layout.

    Args:
        request: The request.
        config: ``model``, ``video_transport`` and ``jpeg_quality`` are used.
        architecture: The model's ``model_type``, for the processor's size bounds.
        extra_body: Extra request fields, merged last (they win).
        server: ``TRTLLM_SERVE`` for trtllm-serve's layout; "" for every other server.
    """
    s = request.sampling
    trtllm = server == TRTLLM_SERVE
    messages = media_turns(request.messages) if trtllm else request.messages
    kwargs: dict[str, Any] = {
        "model": config.model,
        "messages": [{"role": m.role, "content": _content(m, request, config)} for m in messages],
        "max_tokens": s.max_new_tokens,
        "temperature": s.temperature,
        "top_p": s.top_p,
        "presence_penalty": s.presence_penalty,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    if s.seed is not None:
        kwargs["seed"] = s.seed
    body: dict[str, Any] = {"top_k": s.top_k, "repetition_penalty": s.repetition_penalty}
    clips = video_clips(request)
    if config.video_transport == "video" and clips:
        body["mm_processor_kwargs"] = server_processor_kwargs(clips, architecture)
        if trtllm:
            body["media_io_kwargs"] = copy.deepcopy(ALL_FRAMES)
    body.update(extra_body or {})
    kwargs["extra_body"] = body
    return kwargs


def with_schema(kwargs: dict[str, Any], fmt: AnswerFormat) -> dict[str, Any]:
    """``kwargs`` asking for an answer that matches ``fmt.json_schema``."""
    out = dict(kwargs)
    out["response_format"] = {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema": fmt.json_schema, "strict": True},
    }
    return out


def with_guide(kwargs: dict[str, Any], structural_tag: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` constrained by ``structural_tag`` (``backends.guides``), trtllm-serve's
    ``response_format`` of type ``structural_tag``."""
    out = dict(kwargs)
    out["response_format"] = structural_tag
    return out


def continuation(kwargs: dict[str, Any], prefill: str, max_tokens: int) -> dict[str, Any]:
    """``kwargs`` asking the model to continue ``prefill`` as its own assistant turn."""
    out = copy.copy(kwargs)
    out["messages"] = [*kwargs["messages"], {"role": "assistant", "content": prefill}]
    out["max_tokens"] = max(1, max_tokens)
    out["extra_body"] = {
        **kwargs.get("extra_body", {}),
        "continue_final_message": True,
        "add_generation_prompt": False,
    }
    return out
