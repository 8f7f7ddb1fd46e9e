"""The openai backend against trtllm-serve, as the loopback server plays it
(``testing/trtllm_serve.TrtllmServe``: a fake, since trtllm-serve needs a GPU, but a strict one:
its request fields with ``extra="forbid"``, its chat parsing and placeholder layout, its video
loader run on the MP4 bytes it receives, and only text its xgrammar guide admits). Issue 22,
item 1.

What a user of trtllm-serve gets at the default parameters: a decision from two 320x240 cameras
whose videos arrive with every frame, each "Camera N" label in a turn with its own video only,
and the answer constrained in the same request as the thinking (trtllm-serve has no
``continue_final_message``). Each test here fails on the openai backend before issue 22's fix
(its files from f7cfe5c): the continuation request is answered 400 and no release is refused
at load.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from test_openai_thinking import JSON, REASON1, REASON2, SCHEMA, fmt

from cosmos_reason_ros.backends.config import BackendConfig
from cosmos_reason_ros.backends.guides import answer_only_tag
from cosmos_reason_ros.backends.openai.backend import OpenAIBackend
from cosmos_reason_ros.config.loading import load_configured
from cosmos_reason_ros.core.decision import Decision
from cosmos_reason_ros.core.errors import BackendError
from cosmos_reason_ros.core.generation import (
    ChatMessage,
    GenerationRequest,
    SamplingSettings,
    TextPart,
)
from cosmos_reason_ros.core.reasoner import Reasoner
from cosmos_reason_ros.core.recipes import REASON1_RECIPE, REASON2_RECIPE, FamilyRecipe
from cosmos_reason_ros.core.types import WindowSnapshot
from cosmos_reason_ros.testing.camera_clips import camera_clip
from cosmos_reason_ros.testing.openai_replies import (
    VALID_ANSWER,
    RecordedRequest,
    reason1_text,
    reason2_text,
)
from cosmos_reason_ros.testing.openai_server import ChatCompletionsServer, Reply
from cosmos_reason_ros.testing.trtllm_serve import (
    IMAGE_PLACEHOLDER,
    VIDEO_PLACEHOLDER,
    TrtllmServe,
)

TOPICS = ("/front/image_raw", "/rear/image_raw")
# family: (served name, trtllm-serve model type, recipe, frame size the window gives 320x240)
FAMILIES: dict[str, tuple[str, str, FamilyRecipe, tuple[int, int]]] = {
    "reason1": ("nvidia/Cosmos-Reason1-7B", "qwen2_5_vl", REASON1_RECIPE, (280, 392)),
    "reason2": ("nvidia/Cosmos-Reason2-8B", "qwen3_vl", REASON2_RECIPE, (256, 320)),
}


def _probe_answered(body: dict[str, Any]) -> Reply | None:
    """The backend's single-token probe at load gets what its JSON guide admits."""
    return Reply.answer("{}") if body.get("max_tokens") == 1 else None


def _decide(family: str, **values: Any) -> tuple[Decision, list[RecordedRequest]]:
    """One decision from two 320x240 cameras at the node's defaults (plus ``values``), served
    by the trtllm-serve stand-in with a model that thinks, then answers ``VALID_ANSWER``."""
    model, model_type, recipe, _ = FAMILIES[family]
    clips = tuple(camera_clip(recipe, 320, 240, camera=topic) for topic in TOPICS)
    text = (reason1_text if family == "reason1" else reason2_text)(VALID_ANSWER, "path blocked")
    reply = Reply(text=text, constrained_text=json.dumps(VALID_ANSWER))
    engine = TrtllmServe(model_type=model_type)
    with ChatCompletionsServer(
        default=reply, models=(model,), engine=engine, responder=_probe_answered
    ) as srv:
        values = {
            "backend": "openai",
            "model": model,
            "base_url": srv.base_url,
            "api_key_env": "",
            "image_topics": list(TOPICS),
            **values,
        }
        config, backend = load_configured(values)
        try:
            reasoner = Reasoner(backend, config.reasoner)
            decision = reasoner.decide(WindowSnapshot(clips), decision_id=1)
        finally:
            backend.close()
    return decision, srv.chat_requests


@pytest.mark.parametrize("family", list(FAMILIES))
def test_a_two_camera_decision_at_defaults_reaches_trtllm_serve_whole_and_labelled(
    family: str,
) -> None:
    height, width = FAMILIES[family][3]
    decision, (probe, asked) = _decide(family)
    assert probe.body["max_tokens"] == 1 and probe.videos == ()
    assert (decision.valid, decision.action) == (True, "slow_down"), decision
    assert decision.thinking == "path blocked"
    # Every frame (a full 4 s window at 4 fps: 16, an even count as qwen-vl-utils gives), at
    # the size the window gave, not trtllm-serve's default 10.
    assert [(v.frames, v.height, v.width) for v in asked.videos] == [(16, height, width)] * 2
    assert all(abs(v.fps - 4.0) < 0.05 for v in asked.videos)  # the clip's rate, from its stamps
    # Each label shares a turn with its own video and no other.
    users = [content for role, content in asked.rendered if role == "user"]
    assert [u.count(VIDEO_PLACEHOLDER) for u in users] == [1, 1, 0]
    assert "Camera 1:" in users[0] and "Camera 2:" not in users[0]
    assert "Camera 2:" in users[1] and "Camera 1:" not in users[1]
    assert users[2].startswith("What should the robot do next?")
    # One request for the thinking and the answer, under a structural tag.
    assert asked.body["response_format"]["type"] == "structural_tag"


def _generate(
    reply: Reply, budget: int, layout: tuple[str, str] = REASON1
) -> tuple[Any, list[Any], list[str]]:
    deltas: list[str] = []
    request = GenerationRequest(
        messages=(ChatMessage("user", (TextPart("What next?"),)),),
        clips=(),
        sampling=SamplingSettings(max_new_tokens=300),
        answer_format=fmt(budget, layout=layout),
        on_text=lambda d, n: deltas.append(d),
    )
    with ChatCompletionsServer(
        default=reply, engine=TrtllmServe(), responder=_probe_answered
    ) as srv:
        config = BackendConfig(backend="openai", model="test-model", base_url=srv.base_url)
        backend = OpenAIBackend(config, backoff_base_s=0.01)
        backend.load()
        result = backend.generate(request)
    return result, srv.chat_requests[1:], deltas


def test_the_answer_follows_the_thinking_in_the_same_request_laid_out_as_the_model_writes() -> (
    None
):
    text = "<think>\nthe lane is clear\n</think>\n\n<answer>\n" + JSON + "\n</answer>"
    result, requests, deltas = _generate(Reply.answer(text, chunks=9), budget=64)
    assert len(requests) == 1
    assert (result.answer_json, result.thinking_ended_by) == (JSON, "model")
    assert result.thinking == "\nthe lane is clear\n"
    assert result.text == text and "".join(deltas) == text


def test_thinking_split_off_by_trtllm_serve_s_reasoning_parser_is_read_with_the_answer() -> None:
    """trtllm-serve with ``--reasoning_parser qwen3`` (Reason2) sends the thinking as
    ``reasoning_content`` and the rest of the guided text, the answer layout, as content."""
    reply = Reply(reasoning="the lane is clear", reasoning_chunks=3, text="\n\n" + JSON)
    result, requests, deltas = _generate(reply, budget=64, layout=REASON2)
    assert len(requests) == 1
    assert (result.answer_json, result.thinking_ended_by) == (JSON, "model")
    assert result.thinking == "the lane is clear"
    assert result.text == "<think>\nthe lane is clear\n</think>\n\n" + JSON
    assert "".join(deltas) == result.text


def test_a_thinking_cut_by_the_budget_gets_its_answer_afresh_under_a_json_guide(
    caplog: pytest.LogCaptureFixture,
) -> None:
    endless = "<think>\n" + "".join(f"step {i}. " for i in range(60))
    reply = Reply(text=endless, chunks=60, constrained_text=JSON)
    with caplog.at_level(logging.WARNING):
        result, (first, second), deltas = _generate(reply, budget=8)
    assert first.body["response_format"]["type"] == "structural_tag"
    assert second.body["response_format"] == answer_only_tag(SCHEMA)
    assert second.body["messages"] == first.body["messages"]  # afresh: nothing prefilled
    assert second.body["max_tokens"] == 300 - 8
    assert (result.answer_json, result.thinking_ended_by) == (JSON, "tokens")
    assert result.text.endswith("</think>\n\n<answer>\n" + JSON + "\n</answer>")
    assert "".join(deltas) == result.text
    assert "answer is asked for afresh" in caplog.text


def test_a_release_without_per_request_media_settings_is_refused_at_load_in_one_sentence() -> None:
    engine = TrtllmServe(release="1.1")
    with ChatCompletionsServer(engine=engine, responder=_probe_answered) as srv:
        config = BackendConfig(backend="openai", model="test-model", base_url=srv.base_url)
        backend = OpenAIBackend(config)
        with pytest.raises(BackendError) as refused:
            backend.load()
        images = BackendConfig(
            backend="openai", model="test-model", base_url=srv.base_url, video_transport="images"
        )
        OpenAIBackend(images).load()  # stills need no media settings
    sentence = str(refused.value)
    assert "media_io_kwargs" in sentence and "video_transport to images" in sentence
    assert "\n" not in sentence


def test_stills_from_two_cameras_keep_their_labels_on_trtllm_serve() -> None:
    decision, (_, asked) = _decide("reason1", video_transport="images")
    assert decision.valid, decision
    assert "media_io_kwargs" not in asked.body and asked.images == 32
    users = [content for role, content in asked.rendered if role == "user"]
    assert [u.count(IMAGE_PLACEHOLDER) for u in users] == [16, 16, 0]
    assert "Camera 1:" in users[0] and "Camera 2:" in users[1]


def test_a_check_request_failing_for_another_reason_is_logged_and_load_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Only the request schema's refusal stops configure; a server that fails the one-token
    check otherwise (here its model errs) leaves the verdict to the decisions."""

    def failing_check(body: dict[str, Any]) -> Reply | None:
        return Reply.error(400, "the processor failed") if body.get("max_tokens") == 1 else None

    with ChatCompletionsServer(engine=TrtllmServe(), responder=failing_check) as srv:
        config = BackendConfig(backend="openai", model="test-model", base_url=srv.base_url)
        with caplog.at_level(logging.WARNING):
            OpenAIBackend(config).load()
    assert "check request failed" in caplog.text and "the processor failed" in caplog.text
