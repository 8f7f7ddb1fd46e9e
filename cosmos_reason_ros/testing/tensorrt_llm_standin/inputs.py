"""``VideoData`` and what the Qwen-VL input processors make of ``multi_modal_data["video"]``.

Mirrors ``tensorrt_llm/inputs/utils.py`` (PR 8528, the 1.2 releases) and
``tensorrt_llm/inputs/multimodal_data.py`` (main): ``VideoData(frames, metadata)`` refusing
empty frames and non-dict metadata. ``process_videos`` mirrors the video part of
``_torch/models/modeling_qwen2vl.py`` / ``modeling_qwen3vl.py``: how each release reads the
items (frame lists before PR 8528, ``video_data.frames`` after, so the wrong shape fails the
way it fails there), which timing reaches the Hugging Face processor, and how many prompt
tokens a video becomes (one per 28x28 px (Qwen2.5-VL) or 32x32 px (Qwen3-VL) per pair of
frames, at least 128, plus Qwen3-VL's per-pair timestamp markup).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from cosmos_reason_ros.testing.tensorrt_llm_standin.releases import Release

__all__ = ["VideoData", "VideoInput", "process_videos"]


@dataclass
class VideoData:
    """Decoded video frames with their metadata (``fps``, ``total_num_frames``, ``duration``,
    ``frames_indices``)."""

    frames: list[Any]
    metadata: dict[str, Any]

    def __post_init__(self) -> None:
        if not self.frames:
            raise ValueError("frames list cannot be empty")
        if not isinstance(self.metadata, dict):
            raise TypeError("metadata must be a dictionary")


@dataclass(frozen=True)
class VideoInput:
    """One video as the input processor saw it.

    Attributes:
        frames: Frame count.
        width: Frame width.
        height: Frame height.
        tokens: Prompt tokens the video becomes.
        fps: The frame rate the Hugging Face processor times the video with; None: its default.
    """

    frames: int
    width: int
    height: int
    tokens: int
    fps: float | None


def _size(frame: Any) -> tuple[int, int]:
    if hasattr(frame, "size") and isinstance(frame.size, tuple):  # PIL: (width, height)
        return int(frame.size[0]), int(frame.size[1])
    shape = frame.shape  # array or tensor (H, W, C)
    return int(shape[1]), int(shape[0])


def process_videos(
    videos: list[Any], mm_kwargs: dict[str, Any], release: Release, model_type: str
) -> list[VideoInput]:
    """The videos of one prompt as the release's Qwen input processor reads them.

    Raises:
        AttributeError: A plain frame list where the release reads ``video_data.frames``.
        TypeError: A ``VideoData`` where the release indexes frame lists, or (main, Qwen3-VL)
            ``video_metadata`` passed in ``mm_processor_kwargs`` as well.
    """
    # Cosmos3-Nano / Super register Qwen3VLInputProcessorBase (modeling_cosmos3.py)
    qwen3 = model_type.startswith(("qwen3", "cosmos3_omni"))
    if release.video_data_homes:
        frame_lists = [video_data.frames for video_data in videos]
    else:
        frame_lists = [video[0:] for video in videos]
        _ = [video[0] for video in videos]  # upstream: isinstance(videos[0][0], torch.Tensor)
    if qwen3 and release.video_metadata_reaches_qwen3 and "video_metadata" in mm_kwargs:
        raise TypeError("__call__() got multiple values for keyword argument 'video_metadata'")
    out = []
    for index, frames in enumerate(frame_lists):
        width, height = _size(frames[0])
        factor = 32 if qwen3 else 28
        per_pair = max(128, round(height / factor) * round(width / factor))
        pairs = math.ceil(len(frames) / 2)
        tokens = pairs * (per_pair + (12 if qwen3 else 0))
        fps = _timing(videos[index], index, mm_kwargs, release, qwen3)
        out.append(VideoInput(len(frames), width, height, tokens, fps))
    return out


def _timing(
    video: Any, index: int, mm_kwargs: dict[str, Any], release: Release, qwen3: bool
) -> float | None:
    if qwen3 and release.video_metadata_reaches_qwen3 and not mm_kwargs.get("do_sample_frames"):
        return float(video.metadata["fps"])  # main: fps from VideoData.metadata
    if qwen3:
        given = mm_kwargs.get("video_metadata")  # the only way timing reaches HF on 1.2
        return float(given[index]["fps"]) if given else None
    fps = mm_kwargs.get("fps")  # Qwen2.5-VL: forwarded to HF (second_per_grid_ts)
    if isinstance(fps, list):
        return float(fps[index])
    return None if fps is None else float(fps)
