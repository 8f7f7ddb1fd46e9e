"""Frame encoding for servers that take media over HTTP: JPEG data URLs and MP4 clips.

Frames are RGB uint8 arrays (see ``core.types``); OpenCV encodes BGR, so every function here
converts. OpenCV is imported when a function needs it, not at module import.

MP4 clips are written with OpenCV's ``VideoWriter`` and the ``mp4v`` (MPEG-4 Part 2) codec:
the pip wheels of ``opencv-python-headless`` ship FFmpeg without an H.264 encoder (``avc1``
fails to open), while ``mp4v`` round-trips here with the exact frame count and rate. Servers
decode it with OpenCV or PyAV (vLLM, TensorRT-LLM), both of which read MPEG-4 Part 2.
"""

from __future__ import annotations

import base64
import os
import tempfile
from typing import Any

import numpy as np

from cosmos_reason_ros.core.errors import InputError
from cosmos_reason_ros.core.types import Clip, Image

__all__ = ["encode_jpeg", "encode_mp4", "jpeg_data_url", "mp4_data_url"]

_MP4_FOURCC = "mp4v"


def _cv2() -> Any:
    import cv2

    return cv2


def _check_frame(frame: Image) -> None:
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise InputError(
            f"frames must be RGB uint8 arrays of shape (H, W, 3); got dtype {frame.dtype} "
            f"shape {tuple(frame.shape)}"
        )


def encode_jpeg(frame: Image, quality: int) -> bytes:
    """Encode one RGB frame as JPEG.

    Args:
        frame: RGB uint8 array of shape (H, W, 3).
        quality: JPEG quality, 1..100.

    Returns:
        The JPEG file bytes.

    Raises:
        InputError: The frame is not an RGB uint8 image or cannot be encoded.
    """
    _check_frame(frame)
    if not 1 <= quality <= 100:
        raise InputError(f"JPEG quality must be in [1, 100], got {quality}")
    cv2 = _cv2()
    bgr = np.ascontiguousarray(frame[:, :, ::-1])
    ok, buf = cv2.imencode(".jpg", bgr, [int(cv2.IMWRITE_JPEG_QUALITY), int(quality)])
    if not ok:
        raise InputError(f"OpenCV could not encode a {frame.shape[1]}x{frame.shape[0]} JPEG")
    return bytes(buf.tobytes())


def jpeg_data_url(frame: Image, quality: int) -> str:
    """``data:image/jpeg;base64,...`` for one RGB frame (see ``encode_jpeg``)."""
    data = base64.b64encode(encode_jpeg(frame, quality)).decode("ascii")
    return f"data:image/jpeg;base64,{data}"


def encode_mp4(clip: Clip) -> bytes:
    """Encode a clip as an MP4 file whose frame rate is the clip's sampling rate.

    Every frame of the clip becomes one video frame, in order, so a server that decodes all
    frames sees exactly the frames the window held, spaced ``1 / clip.fps`` seconds apart.

    Args:
        clip: The frames; all of one shape.

    Returns:
        The MP4 file bytes.

    Raises:
        InputError: The clip is empty, frames differ in shape, or OpenCV cannot write MP4.
    """
    if not clip.frames:
        raise InputError(f"clip {clip.camera!r} has no frames")
    if not clip.fps > 0:
        raise InputError(f"clip {clip.camera!r} has fps {clip.fps}; it must be > 0")
    first = clip.frames[0]
    _check_frame(first)
    height, width = first.shape[:2]
    cv2 = _cv2()
    fd, path = tempfile.mkstemp(suffix=".mp4", prefix="cosmos_reason_")
    os.close(fd)
    try:
        writer = cv2.VideoWriter(
            path, cv2.VideoWriter_fourcc(*_MP4_FOURCC), float(clip.fps), (width, height)
        )
        if not writer.isOpened():
            raise InputError(
                f"OpenCV cannot write MP4 with codec {_MP4_FOURCC!r} here; "
                "use video_transport 'images'"
            )
        try:
            for frame in clip.frames:
                _check_frame(frame)
                if frame.shape[:2] != (height, width):
                    raise InputError(
                        f"clip {clip.camera!r} mixes frame sizes {tuple(first.shape)} and "
                        f"{tuple(frame.shape)}"
                    )
                writer.write(np.ascontiguousarray(frame[:, :, ::-1]))
        finally:
            writer.release()
        with open(path, "rb") as f:
            return f.read()
    finally:
        os.unlink(path)


def mp4_data_url(clip: Clip) -> str:
    """``data:video/mp4;base64,...`` for a clip (see ``encode_mp4``)."""
    data = base64.b64encode(encode_mp4(clip)).decode("ascii")
    return f"data:video/mp4;base64,{data}"
