"""The pieces of the openai backend's trtllm-serve requests, without a server: one user turn per
clip, every frame kept, the answer layout read off a structural-tag stream, and the one sentence
a refused probe becomes (issue 22, item 1)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cosmos_reason_ros.backends.config import BackendConfig
from cosmos_reason_ros.backends.openai.backend import _trtllm_serve_refusal
from cosmos_reason_ros.backends.openai.chat import (
    ALL_FRAMES,
    TRTLLM_SERVE,
    build_chat_kwargs,
    media_turns,
)
from cosmos_reason_ros.backends.openai.stream import AnswerReader, Transcript
from cosmos_reason_ros.core.generation import (
    ChatMessage,
    GenerationRequest,
    TextPart,
    VideoPart,
)
from cosmos_reason_ros.core.types import Clip
from cosmos_reason_ros.testing.trtllm_serve import TrtllmServe

SYSTEM = ChatMessage("system", (TextPart("You are a robot."),))
TWO_CAMERAS = ChatMessage(
    "user",
    (
        TextPart("Camera 1: front"),
        VideoPart(0),
        TextPart("Camera 2: back"),
        VideoPart(1),
        TextPart("What next?"),
    ),
)


def _clip(camera: str) -> Clip:
    frames = tuple(np.zeros((56, 56, 3), np.uint8) for _ in range(4))
    stamps = tuple(1_000_000_000 + i * 250_000_000 for i in range(4))
    return Clip(camera=camera, frame_id=camera, frames=frames, stamps_ns=stamps, fps=4.0)


def test_a_message_with_several_clips_becomes_one_turn_per_clip_and_one_for_the_question() -> None:
    turns = media_turns((SYSTEM, TWO_CAMERAS))
    assert turns == (
        SYSTEM,
        ChatMessage("user", (TextPart("Camera 1: front"), VideoPart(0))),
        ChatMessage("user", (TextPart("Camera 2: back"), VideoPart(1))),
        ChatMessage("user", (TextPart("What next?"),)),
    )


def test_a_message_with_one_clip_keeps_its_layout() -> None:
    one = ChatMessage("user", (VideoPart(0), TextPart("What next?")))
    assert media_turns((SYSTEM, one)) == (SYSTEM, one)


@pytest.mark.parametrize("transport", ["video", "images"])
def test_trtllm_serve_requests_carry_its_layout_and_keep_every_frame(transport: str) -> None:
    config = BackendConfig(backend="openai", model="m", video_transport=transport)
    request = GenerationRequest(messages=(SYSTEM, TWO_CAMERAS), clips=(_clip("a"), _clip("b")))
    plain = build_chat_kwargs(request, config, "qwen2_5_vl")
    trtllm = build_chat_kwargs(request, config, "qwen2_5_vl", server=TRTLLM_SERVE)
    assert [m["role"] for m in plain["messages"]] == ["system", "user"]
    assert [m["role"] for m in trtllm["messages"]] == ["system", "user", "user", "user"]
    label, media = trtllm["messages"][1]["content"][0], trtllm["messages"][1]["content"][1:]
    assert label == {"type": "text", "text": "Camera 1: front"}
    assert {p["type"] for p in media} == {"video_url" if transport == "video" else "image_url"}
    assert "media_io_kwargs" not in plain["extra_body"]
    if transport == "video":
        assert trtllm["extra_body"]["media_io_kwargs"] == ALL_FRAMES
    else:  # a list of images is never re-sampled
        assert "media_io_kwargs" not in trtllm["extra_body"]


def _read(pieces: list[str], lead: str, tail: str) -> tuple[str, str]:
    out = Transcript(None, 0.0)
    reader = AnswerReader(out, wrapped=True, lead=lead, tail=tail)
    for piece in pieces:
        reader.feed(piece)
    return reader.json, out.text


@pytest.mark.parametrize("size", [1, 2, 3, 5, 100])
def test_the_answer_layout_around_the_json_is_left_out_however_the_stream_splits_it(
    size: int,
) -> None:
    text = '\n\n<answer>\n{"action": "stop"}\n</answer>'
    pieces = [text[i : i + size] for i in range(0, len(text), size)]
    assert _read(pieces, "\n\n<answer>\n", "\n</answer>") == ('{"action": "stop"}',) * 2


def test_an_answer_without_the_layout_is_all_answer() -> None:
    assert _read(['{"a": 1}'], "\n\n<answer>\n", "\n</answer>") == ('{"a": 1}',) * 2
    assert _read(["\n\n", '{"a": 1}'], "\n\n", "") == ('{"a": 1}',) * 2


@pytest.mark.parametrize("opening", ["<answer>\n", "\n<answer>\n", "\n\n<answer>", " <answer> "])
def test_the_lead_is_found_after_whatever_whitespace_the_server_sends(opening: str) -> None:
    """A reasoning parser may strip the newlines before ``<answer>`` (qwen3's keeps what
    follows ``</think>``, others do not): the JSON is the same."""
    text = opening + '{"a": 1}\n</answer>'
    assert _read(list(text), "\n\n<answer>\n", "\n</answer>") == ('{"a": 1}',) * 2


def test_a_tail_inside_a_json_string_is_text_and_the_real_tail_ends_the_answer() -> None:
    pieces = ['{"a": "</answer>', ' x"}\n</answer>', "\nignored"]
    assert _read(pieces, "\n\n<answer>\n", "\n</answer>") == ('{"a": "</answer> x"}',) * 2
    assert _read(['{"a": 1}</answer>trailing'], "", "</answer>") == ('{"a": 1}',) * 2


def test_a_refused_probe_names_the_field_and_what_to_do() -> None:
    """The refusal as trtllm-serve words it (FastAPI's repr of pydantic's errors, which the
    stand-in reproduces) becomes one sentence; other refusals keep the server's words on one
    line."""
    error = TrtllmServe(release="1.1").validation_error(
        json.dumps({"model": "m", "messages": [], "media_io_kwargs": {"video": {}}}).encode()
    )
    assert error is not None and "extra_forbidden" in error
    sentence = _trtllm_serve_refusal("h:1", f"server h:1 answered HTTP 400: {error}")
    assert sentence is not None
    assert "media_io_kwargs" in sentence and "video_transport to images" in sentence
    unknown = TrtllmServe().validation_error(
        json.dumps({"model": "m", "messages": [], "future_field": 1}).encode()
    )
    other = _trtllm_serve_refusal("h:1", f"server h:1 answered HTTP 400: {unknown}\n(more)")
    assert other is not None and "future_field" in other
    assert "\n" not in other and other.endswith("(more)")
    assert _trtllm_serve_refusal("h:1", "server h:1 answered HTTP 400: no such video") is None
