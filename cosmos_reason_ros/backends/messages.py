"""The one place that turns a ``GenerationRequest`` into what model runtimes read: Hugging Face
chat messages with video items, the clips in the order they appear, each clip's video metadata
at its real sampling rate, and the processor arguments that stop re-sampling. All three
backends use these (the openai backend for the clip order and the processor arguments)."""

from __future__ import annotations

from typing import Any

from cosmos_reason_ros.core.errors import BackendError
from cosmos_reason_ros.core.generation import GenerationRequest, TextPart, VideoPart
from cosmos_reason_ros.core.types import Clip

__all__ = ["hf_messages", "processor_kwargs", "video_clips", "video_metadata"]


def hf_messages(request: GenerationRequest) -> list[dict[str, Any]]:
    """The chat in the Hugging Face processor format, a ``{"type": "video"}`` item per clip.

    Raises:
        BackendError: A message refers to a clip the request does not carry.
    """
    out: list[dict[str, Any]] = []
    for message in request.messages:
        content: list[dict[str, Any]] = []
        for part in message.parts:
            if isinstance(part, TextPart):
                content.append({"type": "text", "text": part.text})
            else:
                _check_clip(part, request)
                content.append({"type": "video"})
        out.append({"role": message.role, "content": content})
    return out


def video_clips(request: GenerationRequest) -> list[Clip]:
    """The clips in the order their video items appear in the chat.

    Raises:
        BackendError: A message refers to a clip the request does not carry.
    """
    clips = []
    for message in request.messages:
        for part in message.parts:
            if isinstance(part, VideoPart):
                _check_clip(part, request)
                clips.append(request.clips[part.clip_index])
    return clips


def clip_fps(clip: Clip) -> float:
    """The clip's sampling rate: its own, else measured from its stamps, else 1."""
    fps = float(clip.fps)
    span_s = (clip.stamps_ns[-1] - clip.stamps_ns[0]) * 1e-9
    if fps <= 0 and span_s > 0:
        fps = (len(clip.frames) - 1) / span_s
    return fps if fps > 0 else 1.0


def video_metadata(clip: Clip, count: int | None = None) -> dict[str, Any]:
    """Metadata of a pre-decoded clip: every frame used, at the clip's real rate.

    Args:
        clip: The clip.
        count: Frames the model is given, when padding repeats the last frame (Qwen's
            temporal patches come in pairs); None: the clip's own count.
    """
    n = len(clip.frames)
    count = n if count is None else count
    fps = clip_fps(clip)
    indices = list(range(n))
    return {
        "fps": fps,
        "total_num_frames": count,
        "duration": n / fps,
        "frames_indices": indices + [indices[-1]] * (count - n),
    }


def processor_kwargs(clips: list[Clip]) -> dict[str, Any]:
    """``mm_processor_kwargs``: our sampling rate, and no re-sampling by the processor."""
    if not clips:
        return {}
    fps = [clip_fps(c) for c in clips]
    return {"fps": fps[0] if len(set(fps)) == 1 else fps, "do_sample_frames": False}


def _check_clip(part: VideoPart, request: GenerationRequest) -> None:
    if not 0 <= part.clip_index < len(request.clips):
        raise BackendError(
            f"a message refers to clip {part.clip_index} but the request has "
            f"{len(request.clips)} clip(s)"
        )
