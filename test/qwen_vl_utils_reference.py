"""qwen-vl-utils 0.0.11 (``vision_process.py``) for Reason1's video item, written from its
formulas as a reference for tests (not from ``core.recipes``, which it checks):
``smart_nframes`` with ``fps`` and ``fetch_video``'s pixel cap with ``smart_resize``."""

from __future__ import annotations

import math


def video_size(width: int, height: int, frames: int) -> tuple[int, int]:
    """qwen-vl-utils 0.0.11 ``fetch_video`` for Reason1's item (``total_pixels`` 8192 * 28²)."""
    factor, min_pixels = 28, 128 * 28 * 28
    total_pixels = 8192 * 28 * 28
    max_pixels = max(min(768 * 28 * 28, total_pixels / frames * 2), int(min_pixels * 1.05))
    h_bar = max(factor, round(height / factor) * factor)
    w_bar = max(factor, round(width / factor) * factor)
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h_bar = math.floor(height / beta / factor) * factor
        w_bar = math.floor(width / beta / factor) * factor
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return w_bar, h_bar


def nframes(total_frames: int, video_fps: float, fps: float) -> int:
    """qwen-vl-utils ``smart_nframes`` with ``fps`` (FPS_MIN_FRAMES 4, FPS_MAX_FRAMES 768)."""
    max_frames = math.floor(min(768, total_frames) / 2) * 2
    nframes = min(max(total_frames / video_fps * fps, 4), max_frames, total_frames)
    return math.floor(nframes / 2) * 2
