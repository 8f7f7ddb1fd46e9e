"""The ``openai`` backend against a real loopback HTTP server.

``ChatCompletionsServer`` (cosmos_reason_ros.testing.openai_server) stands in for
trtllm-serve, vLLM and NIM, which cannot run here: no GPU and no model weights. The client,
HTTP, SSE parsing, retries and timeouts are all real.
"""

from __future__ import annotations

import base64
import logging
import os
import socket
import tempfile
import threading
import time

import cv2
import numpy as np
import pytest

from cosmos_reason_ros.backends.config import BackendConfig
from cosmos_reason_ros.backends.openai.backend import OpenAIBackend
from cosmos_reason_ros.backends.openai.chat import build_chat_kwargs
from cosmos_reason_ros.core.errors import (
    BackendError,
    BackendUnavailableError,
    GenerationCancelled,
    GenerationTimeout,
)
from cosmos_reason_ros.core.generation import (
    AnswerFormat,
    ChatMessage,
    GenerationRequest,
    SamplingSettings,
    TextPart,
    VideoPart,
)
from cosmos_reason_ros.core.types import Clip
from cosmos_reason_ros.testing.openai_server import ChatCompletionsServer, Reply

ANSWER = '<think>\nthe path is clear\n</think>\n\n<answer>\n{"action": "forward"}\n</answer>'
KEY_ENV = "COSMOS_REASON_TEST_KEY"
SECRET = "sk-test-3f9a1c0ffee-do-not-leak"
SCHEMA = {
    "type": "object",
    "properties": {"action": {"type": "string", "enum": ["forward", "stop"]}},
    "required": ["action"],
}


def make_clip(n: int = 3, fps: float = 4.0, camera: str = "front") -> Clip:
    """A clip whose frame i is a flat gray of level 40 * (i + 1), so order is checkable."""
    frames = tuple(np.full((32, 48, 3), 40 * (i + 1), np.uint8) for i in range(n))
    stamps = tuple(1_000_000_000 + int(i * 1e9 / fps) for i in range(n))
    return Clip(camera=camera, frame_id="cam", frames=frames, stamps_ns=stamps, fps=fps)


def make_request(clips: tuple[Clip, ...] = (), **kwargs: object) -> GenerationRequest:
    parts: list[TextPart | VideoPart] = [VideoPart(i) for i in range(len(clips))]
    parts.append(TextPart("What should the robot do next?"))
    messages = (
        ChatMessage("system", (TextPart("You are a robot."),)),
        ChatMessage("user", tuple(parts)),
    )
    return GenerationRequest(messages=messages, clips=clips, **kwargs)  # type: ignore[arg-type]


def make_backend(srv: ChatCompletionsServer, **overrides: object) -> OpenAIBackend:
    fields: dict[str, object] = dict(
        backend="openai",
        model="test-model",
        base_url=srv.base_url,
        api_key_env=KEY_ENV,
        timeout_s=0.5,
        max_retries=2,
    )
    fields.update(overrides)
    backend = OpenAIBackend(
        BackendConfig(**fields),  # type: ignore[arg-type]
        backoff_base_s=0.01,
        backoff_max_s=0.5,
    )
    backend.load()
    return backend


@pytest.fixture(autouse=True)
def _no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)


def test_streamed_deltas_concatenate_to_the_full_answer_with_usage_and_timings() -> None:
    deltas: list[tuple[str, int]] = []
    with ChatCompletionsServer(default=Reply.answer(ANSWER, chunks=5, prompt_tokens=321)) as srv:
        backend = make_backend(srv)
        result = backend.generate(make_request(on_text=lambda d, n: deltas.append((d, n))))
    assert result.text == ANSWER
    assert "".join(d for d, _ in deltas) == ANSWER
    assert len(deltas) == 5
    assert [n for _, n in deltas] == [1, 2, 3, 4, 5]
    assert result.prompt_tokens == 321
    assert result.generated_tokens == 5
    assert 0 < result.time_to_first_token_s <= result.total_s
    body = srv.chat_requests[0].body
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["model"] == "test-model"


def test_generated_tokens_fall_back_to_chunk_count_when_the_server_sends_no_usage() -> None:
    with ChatCompletionsServer(default=Reply.answer(ANSWER, chunks=7, send_usage=False)) as srv:
        result = make_backend(srv).generate(make_request())
    assert result.text == ANSWER
    assert (result.prompt_tokens, result.generated_tokens) == (0, 7)


def test_bad_request_400_fails_at_once_without_retry_naming_status_and_server_message() -> None:
    with ChatCompletionsServer(script=[Reply.error(400, "max_tokens is too large")]) as srv:
        backend = make_backend(srv, max_retries=3)
        with pytest.raises(BackendError, match=r"HTTP 400: max_tokens is too large") as info:
            backend.generate(make_request())
        assert len(srv.chat_requests) == 1
    assert not isinstance(info.value, GenerationTimeout)


def test_server_error_500_is_retried_max_retries_times_then_fails() -> None:
    with ChatCompletionsServer(default=Reply.error(500, "engine crashed")) as srv:
        backend = make_backend(srv, max_retries=2)
        with pytest.raises(BackendError, match=r"HTTP 500: engine crashed \(after 3 attempt"):
            backend.generate(make_request())
        assert len(srv.chat_requests) == 3


def test_server_error_500_then_success_returns_the_answer() -> None:
    script = [Reply.error(500), Reply.error(503)]
    with ChatCompletionsServer(script=script, default=Reply.answer(ANSWER)) as srv:
        result = make_backend(srv, max_retries=2).generate(make_request())
        assert len(srv.chat_requests) == 3
    assert result.text == ANSWER


def test_rate_limit_429_waits_for_retry_after_then_succeeds() -> None:
    script = [Reply.error(429, "slow down", retry_after_s=0.3)]
    with ChatCompletionsServer(script=script, default=Reply.answer(ANSWER)) as srv:
        backend = make_backend(srv, max_retries=1)
        start = time.monotonic()
        result = backend.generate(make_request())
        elapsed = time.monotonic() - start
    assert result.text == ANSWER
    assert 0.3 <= elapsed < 2.0


def test_rate_limit_429_fails_once_retries_are_spent() -> None:
    with ChatCompletionsServer(default=Reply.error(429, "quota", retry_after_s=0.01)) as srv:
        with pytest.raises(BackendError, match=r"HTTP 429: quota"):
            make_backend(srv, max_retries=1).generate(make_request())
        assert len(srv.chat_requests) == 2


def test_stalled_server_raises_timeout_promptly_without_retry() -> None:
    with ChatCompletionsServer(default=Reply.stall(5.0)) as srv:
        backend = make_backend(srv, timeout_s=0.5, max_retries=2)
        start = time.monotonic()
        with pytest.raises(GenerationTimeout, match=r"sent nothing for 0.5 s"):
            backend.generate(make_request())
        assert time.monotonic() - start < 2.0
        assert len(srv.chat_requests) == 1


def test_stall_mid_stream_raises_timeout() -> None:
    reply = Reply.stall(5.0, after_chunks=2, text=ANSWER)
    with ChatCompletionsServer(default=reply) as srv, pytest.raises(GenerationTimeout):
        make_backend(srv, timeout_s=0.5).generate(make_request())


def test_connection_dropped_before_the_response_is_retried_then_succeeds() -> None:
    with ChatCompletionsServer(script=[Reply.drop()], default=Reply.answer(ANSWER)) as srv:
        result = make_backend(srv, max_retries=1).generate(make_request())
        assert len(srv.chat_requests) == 2
    assert result.text == ANSWER


def test_connection_dropped_mid_answer_fails_without_retry() -> None:
    deltas: list[str] = []
    script = [Reply.drop(after_chunks=2, text=ANSWER)]
    with ChatCompletionsServer(script=script, default=Reply.answer("second")) as srv:
        backend = make_backend(srv, max_retries=2)
        with pytest.raises(BackendError, match=r"mid-answer"):
            backend.generate(make_request(on_text=lambda d, n: deltas.append(d)))
        assert len(srv.chat_requests) == 1
    assert deltas and "second" not in "".join(deltas)


def test_cancel_mid_stream_raises_generation_cancelled_and_stops_reading() -> None:
    cancel = threading.Event()
    deltas: list[str] = []

    def on_text(delta: str, n: int) -> None:
        deltas.append(delta)
        cancel.set()

    reply = Reply.answer(ANSWER, chunks=10, chunk_delay_s=0.05)
    with ChatCompletionsServer(default=reply) as srv, pytest.raises(GenerationCancelled):
        make_backend(srv).generate(make_request(on_text=on_text, cancel=cancel))
    assert len(deltas) == 1


def test_api_key_reaches_the_server_but_never_logs_describe_or_errors(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv(KEY_ENV, SECRET)
    script = [Reply.error(500, "try again"), Reply.error(403, "forbidden")]
    with ChatCompletionsServer(script=script, api_key=SECRET) as srv:
        backend = make_backend(srv)
        with pytest.raises(BackendError) as info:
            backend.generate(make_request())
        auth = {r.authorization for r in srv.requests}
    assert auth == {f"Bearer {SECRET}"}
    assert "HTTP 403" in str(info.value)
    assert SECRET not in str(info.value)
    assert SECRET not in repr(backend.describe())
    assert caplog.records, "expected the retry to be logged"
    assert SECRET not in caplog.text
    assert all(SECRET not in r.getMessage() for r in caplog.records)


def test_wrong_api_key_is_rejected_by_the_server_without_echoing_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(KEY_ENV, SECRET)
    with (
        ChatCompletionsServer(api_key="the-right-key") as srv,
        pytest.raises(BackendUnavailableError, match=r"HTTP 401") as info,
    ):
        make_backend(srv)
    assert SECRET not in str(info.value)


def test_unset_api_key_env_sends_a_placeholder_key() -> None:
    with ChatCompletionsServer() as srv:
        make_backend(srv).generate(make_request())
        assert srv.chat_requests[0].authorization == "Bearer EMPTY"


def test_images_transport_sends_each_frame_as_a_jpeg_data_url_in_order() -> None:
    clip = make_clip(n=3)
    with ChatCompletionsServer() as srv:
        backend = make_backend(srv, jpeg_quality=90, video_transport="images")
        backend.generate(make_request(clips=(clip,)))
        request = srv.chat_requests[0]
    assert request.messages[0] == {"role": "system", "content": "You are a robot."}
    parts = request.content_parts("user")
    assert [p["type"] for p in parts] == ["image_url"] * 3 + ["text"]
    levels = []
    for p in parts[:3]:
        url = p["image_url"]["url"]
        assert url.startswith("data:image/jpeg;base64,")
        img = cv2.imdecode(np.frombuffer(base64.b64decode(url.split(",", 1)[1]), np.uint8), 1)
        assert img.shape == (32, 48, 3)
        levels.append(float(img.mean()))
    assert levels == pytest.approx([40, 80, 120], abs=3)
    assert "mm_processor_kwargs" not in request.body


def test_video_transport_by_default_sends_one_mp4_per_clip_at_its_fps_with_processor_kwargs() -> (
    None
):
    clip = make_clip(n=4, fps=2.0)
    with ChatCompletionsServer() as srv:
        make_backend(srv).generate(make_request(clips=(clip,)))
        request = srv.chat_requests[0]
    parts = request.content_parts("user")
    assert [p["type"] for p in parts] == ["video_url", "text"]
    url = parts[0]["video_url"]["url"]
    assert url.startswith("data:video/mp4;base64,")
    # An unknown architecture ("test-model"): rate and no re-sampling, no resizing.
    assert request.body["mm_processor_kwargs"] == {
        "fps": 2.0,
        "do_sample_frames": False,
        "do_resize": False,
    }
    fd, path = tempfile.mkstemp(suffix=".mp4")
    try:
        os.write(fd, base64.b64decode(url.split(",", 1)[1]))
        os.close(fd)
        cap = cv2.VideoCapture(path)
        assert cap.get(cv2.CAP_PROP_FPS) == pytest.approx(2.0)
        frames = []
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            frames.append(float(frame.mean()))
        cap.release()
    finally:
        os.unlink(path)
    assert frames == pytest.approx([40, 80, 120, 160], abs=4)


def test_every_sampling_setting_is_sent_so_server_defaults_never_creep_in() -> None:
    config = BackendConfig(backend="openai", model="m")
    sampling = SamplingSettings(
        temperature=0.2,
        top_p=0.9,
        top_k=20,
        repetition_penalty=1.1,
        presence_penalty=1.5,
        max_new_tokens=77,
        seed=5,
    )
    kwargs = build_chat_kwargs(make_request(sampling=sampling), config, extra_body={"min_p": 0.1})
    assert (kwargs["temperature"], kwargs["top_p"], kwargs["max_tokens"]) == (0.2, 0.9, 77)
    assert (kwargs["seed"], kwargs["presence_penalty"]) == (5, 1.5)
    assert kwargs["extra_body"] == {"repetition_penalty": 1.1, "top_k": 20, "min_p": 0.1}
    assert "response_format" not in kwargs
    off = build_chat_kwargs(make_request(sampling=SamplingSettings(seed=None)), config)
    assert "seed" not in off and off["extra_body"]["top_k"] == 0  # 0: no top-k cut


def answer_format(budget: int) -> AnswerFormat:
    return AnswerFormat(
        think_end="</think>",
        answer_prefix="</think>\n\n<answer>\n",
        answer_suffix="\n</answer>",
        json_schema=SCHEMA,
        max_thinking_tokens=budget,
    )


def test_zero_thinking_budget_constrains_the_answer_and_wraps_it_in_the_answer_layout() -> None:
    deltas: list[str] = []
    request = make_request(answer_format=answer_format(0), on_text=lambda d, n: deltas.append(d))
    with ChatCompletionsServer(default=Reply.answer('{"action": "stop"}')) as srv:
        result = make_backend(srv).generate(request)
        body = srv.chat_requests[0].body
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"] == SCHEMA
    assert result.text == '</think>\n\n<answer>\n{"action": "stop"}\n</answer>'
    assert "".join(deltas) == result.text
    assert (result.answer_json, result.thinking) == ('{"action": "stop"}', "")
    assert (result.thinking_ended_by, len(srv.chat_requests)) == ("tokens", 1)


def test_after_reasoning_mode_from_the_config_reassembles_split_thinking_and_answer() -> None:
    reply = Reply.answer('{"action": "forward"}', reasoning="the path is clear")
    with ChatCompletionsServer(default=reply) as srv:
        cfg = BackendConfig(
            backend="openai",
            model="test-model",
            base_url=srv.base_url,
            structured_output="after_reasoning",
        )
        backend = OpenAIBackend(cfg)
        backend.load()
        result = backend.generate(make_request(answer_format=answer_format(256)))
        assert "response_format" in srv.chat_requests[0].body
    assert result.text == ANSWER


def test_load_fails_clearly_when_the_server_is_unreachable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = BackendConfig(
        backend="openai", base_url=f"http://127.0.0.1:{port}/v1", timeout_s=0.5, max_retries=1
    )
    backend = OpenAIBackend(cfg, backoff_base_s=0.01)
    with pytest.raises(BackendUnavailableError, match=rf"cannot reach server 127.0.0.1:{port}"):
        backend.load()
    assert not backend.describe().loaded


def test_load_fails_clearly_when_the_server_does_not_serve_the_model() -> None:
    with (
        ChatCompletionsServer(models=("nvidia/Cosmos-Reason2-8B",)) as srv,
        pytest.raises(BackendError, match=r"does not serve model 'test-model'"),
    ):
        make_backend(srv)


def test_generate_before_load_raises_backend_error() -> None:
    backend = OpenAIBackend(BackendConfig(backend="openai"))
    with pytest.raises(BackendError, match=r"not loaded"):
        backend.generate(make_request())


def test_describe_names_backend_model_host_and_architecture() -> None:
    cfg = BackendConfig(
        backend="openai",
        model="nvidia/Cosmos-Reason2-8B",
        base_url="http://user:pw@gpu-server:8000/v1",
    )
    info = OpenAIBackend(cfg).describe()
    assert (info.backend, info.model, info.architecture) == (
        "openai",
        "nvidia/Cosmos-Reason2-8B",
        "qwen3_vl",
    )
    assert info.device == "remote gpu-server:8000"
    assert "pw" not in repr(info)
    r1 = BackendConfig(backend="openai", model="nvidia/Cosmos-Reason1-7B")
    assert OpenAIBackend(r1).describe().architecture == "qwen2_5_vl"


def test_close_is_idempotent_and_unloads() -> None:
    with ChatCompletionsServer() as srv:
        backend = make_backend(srv)
        assert backend.describe().loaded
        backend.close()
        backend.close()
    assert not backend.describe().loaded
