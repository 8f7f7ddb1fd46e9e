"""What a Reason1 model receives through the ``openai`` backend from a 320x240 camera: the frame
size and even frame count qwen-vl-utils gives the same clip, read from the MP4 bytes the
loopback server received (issue 22, item 7)."""

from __future__ import annotations

import base64
import math
import os
import tempfile

import cv2

from cosmos_reason_ros.backends.config import BackendConfig
from cosmos_reason_ros.backends.openai.backend import OpenAIBackend
from cosmos_reason_ros.core.generation import ChatMessage, GenerationRequest, TextPart, VideoPart
from cosmos_reason_ros.core.recipes import REASON1_RECIPE
from cosmos_reason_ros.core.window import WindowConfig
from cosmos_reason_ros.testing.camera_clips import camera_clip
from cosmos_reason_ros.testing.openai_server import ChatCompletionsServer

CAMERA_HZ = 30


def _qwen_vl_utils(width: int, height: int, total_frames: int) -> tuple[int, int, int]:
    """(width, height, frames) qwen-vl-utils 0.0.11 ``fetch_video`` gives a ``total_frames``
    file at ``CAMERA_HZ`` for Reason1's item (fps 4, ``total_pixels`` 8192 * 28²)."""
    max_frames = math.floor(min(768, total_frames) / 2) * 2
    nframes = min(max(total_frames / CAMERA_HZ * 4, 4), max_frames, total_frames)
    nframes = math.floor(nframes / 2) * 2
    factor, min_pixels = 28, 128 * 28 * 28
    max_pixels = max(min(768 * 28 * 28, 8192 * 28 * 28 / nframes * 2), int(min_pixels * 1.05))
    h_bar, w_bar = round(height / factor) * factor, round(width / factor) * factor
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h_bar = math.floor(height / beta / factor) * factor
        w_bar = math.floor(width / beta / factor) * factor
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return w_bar, h_bar, int(nframes)


def test_a_320x240_reason1_camera_reaches_the_server_as_qwen_vl_utils_sizes_and_counts() -> None:
    clip = camera_clip(REASON1_RECIPE, 320, 240, camera_hz=CAMERA_HZ)
    # The same clip as a file: the window's 4 s of camera time, 120 frames at 30 Hz.
    file_frames = round(WindowConfig().window_s * CAMERA_HZ)
    messages = (ChatMessage("user", (VideoPart(0), TextPart("What is ahead?"))),)
    with ChatCompletionsServer() as srv:
        backend = OpenAIBackend(
            BackendConfig(backend="openai", model="test-model", base_url=srv.base_url)
        )
        backend.load()
        backend.generate(GenerationRequest(messages=messages, clips=(clip,)))
        url = srv.chat_requests[0].content_parts("user")[0]["video_url"]["url"]
    fd, path = tempfile.mkstemp(suffix=".mp4")
    try:
        os.write(fd, base64.b64decode(url.split(",", 1)[1]))
        os.close(fd)
        cap = cv2.VideoCapture(path)
        shapes = []
        while (frame := cap.read())[0]:
            shapes.append(frame[1].shape)
        cap.release()
    finally:
        os.unlink(path)
    width, height, frames = _qwen_vl_utils(320, 240, file_frames)
    assert (width, height, frames) == (392, 280, 16)
    assert shapes == [(height, width, 3)] * frames
