"""What a Reason1 model receives through the ``openai`` backend from a 320x240 camera: the frame
size and even frame count qwen-vl-utils gives the same clip, read from the MP4 bytes the
loopback server received (issue 22, item 7)."""

from __future__ import annotations

import base64
import os
import tempfile

import cv2
import qwen_vl_utils_reference as qwen_vl_utils

from cosmos_reason_ros.backends.config import BackendConfig
from cosmos_reason_ros.backends.openai.backend import OpenAIBackend
from cosmos_reason_ros.core.generation import ChatMessage, GenerationRequest, TextPart, VideoPart
from cosmos_reason_ros.core.recipes import REASON1_RECIPE
from cosmos_reason_ros.core.window import WindowConfig
from cosmos_reason_ros.testing.camera_clips import camera_clip
from cosmos_reason_ros.testing.openai_server import ChatCompletionsServer

CAMERA_HZ = 30


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
    frames = qwen_vl_utils.nframes(file_frames, CAMERA_HZ, REASON1_RECIPE.fps)
    width, height = qwen_vl_utils.video_size(320, 240, frames)
    assert (width, height, frames) == (392, 280, 16)
    assert shapes == [(height, width, 3)] * frames
