"""Requests and clips shared by the tensorrt_llm backend tests."""

from __future__ import annotations

import threading

import numpy as np

from cosmos_reason_ros.backends.config import BackendConfig
from cosmos_reason_ros.core.generation import (
    AnswerFormat,
    ChatMessage,
    GenerationRequest,
    SamplingSettings,
    TextCallback,
    TextPart,
    VideoPart,
)
from cosmos_reason_ros.core.types import Clip

SCHEMA = {"type": "object", "properties": {"action": {"type": "string"}}}
REASON1_PREFIX = "</think>\n\n<answer>\n"
REASON1_SUFFIX = "\n</answer>"


def make_clip(n: int = 4, fps: float = 4.0, camera: str = "front", side: int = 56) -> Clip:
    frames = tuple(np.full((side, side, 3), 30 * i, np.uint8) for i in range(n))
    stamps = tuple(int(i * 1e9 / fps) for i in range(n))
    return Clip(camera=camera, frame_id="cam", frames=frames, stamps_ns=stamps, fps=fps)


def make_request(
    clips: tuple[Clip, ...] = (make_clip(),),
    budget: int | None = None,
    *,
    constrained: bool = True,
    max_new_tokens: int = 512,
    deadline_s: float = 0.0,
    on_text: TextCallback | None = None,
    cancel: threading.Event | None = None,
) -> GenerationRequest:
    fmt = None
    if budget is not None:
        fmt = AnswerFormat(
            think_end="</think>",
            answer_prefix=REASON1_PREFIX,
            answer_suffix=REASON1_SUFFIX,
            json_schema=SCHEMA,
            max_thinking_tokens=budget,
            max_thinking_s=deadline_s,
        )
    parts = (*(VideoPart(i) for i in range(len(clips))), TextPart("What next?"))
    return GenerationRequest(
        messages=(ChatMessage("system", (TextPart("sys"),)), ChatMessage("user", parts)),
        clips=clips,
        sampling=SamplingSettings(max_new_tokens=max_new_tokens),
        answer_format=fmt,
        constrained=constrained,
        on_text=on_text,
        cancel=cancel,
    )


def config(**overrides: object) -> BackendConfig:
    return BackendConfig(backend="tensorrt_llm", **overrides)  # type: ignore[arg-type]
