"""The loopback server's trtllm-serve stand-in (``ChatCompletionsServer(engine=TrtllmServe())``).

trtllm-serve needs a GPU, so tests run against this fake of it; these tests hold the fake to
what NVIDIA/TensorRT-LLM's sources say trtllm-serve does (see ``trtllm_serve``'s docstring):
strict request fields per release, its model cards and ``/version``, the conversation it
renders, and the frames ``VideoMediaIO`` keeps.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import openai
import pytest

from cosmos_reason_ros.testing.openai_replies import LoadedVideo
from cosmos_reason_ros.testing.openai_server import ChatCompletionsServer, Reply
from cosmos_reason_ros.testing.trtllm_serve import VIDEO_PLACEHOLDER, TrtllmServe

V = VIDEO_PLACEHOLDER


@pytest.fixture(scope="module")
def mp4_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A data URL of a 16-frame, 4 fps, 64x48 MP4 (``mp4v``): 4 s of video."""
    path = Path(tmp_path_factory.mktemp("video")) / "clip.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), 4.0, (64, 48))
    for i in range(16):
        writer.write(np.full((48, 64, 3), i * 15, np.uint8))
    writer.release()
    return "data:video/mp4;base64," + base64.b64encode(path.read_bytes()).decode()


@pytest.fixture
def main_server() -> Iterator[ChatCompletionsServer]:
    with ChatCompletionsServer(engine=TrtllmServe(release="main")) as srv:
        yield srv


def _post(srv: ChatCompletionsServer, body: dict[str, Any]) -> tuple[int, Any]:
    request = urllib.request.Request(
        srv.base_url + "/chat/completions",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def _get(srv: ChatCompletionsServer, path: str) -> Any:
    with urllib.request.urlopen(f"http://127.0.0.1:{srv.port}{path}", timeout=10) as response:
        return json.loads(response.read())


def _chat(*content: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "model": "test-model",
        "messages": [{"role": "user", "content": list(content)}],
        **fields,
    }


def _text(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def _video(url: str) -> dict[str, Any]:
    return {"type": "video_url", "video_url": {"url": url}}


def test_standin_refuses_an_unknown_field_with_400_before_using_the_script(
    main_server: ChatCompletionsServer,
) -> None:
    main_server.push(Reply.answer("first"))
    status, body = _post(main_server, _chat(_text("hi"), continue_final_message=True))
    assert status == 400
    assert set(body) == {"error"}
    assert body["error"] == str(
        [
            {
                "type": "extra_forbidden",
                "loc": ("body", "continue_final_message"),
                "msg": "Extra inputs are not permitted",
                "input": True,
            }
        ]
    )
    # The scripted reply is still there for the next, valid request.
    status, body = _post(main_server, _chat(_text("hi")))
    assert (status, body["choices"][0]["message"]["content"]) == (200, "first")


def test_standin_release_1_1_refuses_media_io_kwargs_that_main_accepts(mp4_url: str) -> None:
    body = _chat(_video(mp4_url), media_io_kwargs={"video": {"num_frames": 4}})
    with ChatCompletionsServer(engine=TrtllmServe(release="1.1")) as srv:
        status, answer = _post(srv, body)
    assert status == 400
    assert "'loc': ('body', 'media_io_kwargs')" in answer["error"]
    assert "extra_forbidden" in answer["error"]
    with ChatCompletionsServer(engine=TrtllmServe(release="main")) as srv:
        assert _post(srv, body)[0] == 200


def test_standin_sends_only_text_that_fits_the_guide() -> None:
    """trtllm-serve never writes outside its xgrammar guide: a scripted text that does not fit
    is replaced by the reply's constrained text, and a script with neither fitting is a 500."""
    tag = {
        "type": "structural_tag",
        "format": {"type": "json_schema", "json_schema": {"type": "object"}},
    }
    body = _chat(_text("hi"), response_format=tag)
    free = Reply(text="<think>no</think>", constrained_text='{"b": 2}')
    with ChatCompletionsServer(engine=TrtllmServe(), default=free) as srv:
        status, answer = _post(srv, body)
        assert (status, answer["choices"][0]["message"]["content"]) == (200, '{"b": 2}')
    with ChatCompletionsServer(engine=TrtllmServe(), default=Reply.answer("plain")) as srv:
        assert _post(srv, body)[0] == 500
    with ChatCompletionsServer(engine=TrtllmServe()) as srv:  # a guide xgrammar cannot compile
        bad = {"type": "structural_tag", "format": {"type": "no_such_format"}}
        assert _post(srv, _chat(_text("hi"), response_format=bad))[0] == 400
        assert srv.chat_requests[0].rendered == ()


def test_standin_accepts_max_tokens_and_max_completion_tokens_but_not_both(
    main_server: ChatCompletionsServer,
) -> None:
    assert _post(main_server, _chat(_text("hi"), max_tokens=5))[0] == 200
    assert _post(main_server, _chat(_text("hi"), max_completion_tokens=5))[0] == 200
    status, body = _post(main_server, _chat(_text("hi"), max_tokens=5, max_completion_tokens=5))
    assert status == 400
    assert "'loc': ('body', 'max_completion_tokens')" in body["error"]


@pytest.mark.parametrize(
    ("fields", "loc"),
    [
        ({"media_io_kwargs": {"clip": {}}}, "('body', 'media_io_kwargs', 'clip', '[key]')"),
        ({"response_format": {"type": "grammar"}}, "('body', 'response_format', 'type')"),
        ({"stream_options": {"include_usage": True}}, "('body',)"),  # without stream: true
        ({"top_k": None}, "('body', 'top_k')"),
    ],
)
def test_standin_refuses_what_trtllm_serve_validation_refuses(
    main_server: ChatCompletionsServer, fields: dict[str, Any], loc: str
) -> None:
    status, body = _post(main_server, _chat(_text("hi"), **fields))
    assert status == 400
    assert f"'loc': {loc}" in body["error"]


def test_standin_response_format_json_schema_is_main_only() -> None:
    body = _chat(_text("hi"), response_format={"type": "json_schema", "json_schema": {}})
    with ChatCompletionsServer(engine=TrtllmServe(release="1.1")) as srv:
        assert _post(srv, body)[0] == 400
    fits = Reply.answer('{"a": 1}')
    with ChatCompletionsServer(engine=TrtllmServe(release="main"), default=fits) as srv:
        assert _post(srv, body)[0] == 200


def test_standin_model_cards_are_owned_by_tensorrt_llm_and_version_is_the_release() -> None:
    with ChatCompletionsServer(engine=TrtllmServe(release="1.1")) as srv:
        models = _get(srv, "/v1/models")
        assert _get(srv, "/version") == {"version": "1.1"}
    assert [(m["id"], m["owned_by"]) for m in models["data"]] == [("test-model", "tensorrt_llm")]
    with ChatCompletionsServer() as generic:  # the generic server keeps its own
        assert _get(generic, "/v1/models")["data"][0]["owned_by"] == "test"


def test_standin_loads_a_16_frame_4_fps_video_as_10_frames_by_default(
    main_server: ChatCompletionsServer, mp4_url: str
) -> None:
    assert _post(main_server, _chat(_video(mp4_url), _text("Q?")))[0] == 200
    assert main_server.chat_requests[0].videos == (
        LoadedVideo(frames=10, height=48, width=64, fps=4.0),
    )


def test_standin_keeps_all_16_frames_with_media_io_kwargs_minus_one(
    main_server: ChatCompletionsServer, mp4_url: str
) -> None:
    all_frames = {"video": {"num_frames": -1, "fps": -1}}
    assert _post(main_server, _chat(_video(mp4_url), media_io_kwargs=all_frames))[0] == 200
    assert main_server.chat_requests[0].videos[0].frames == 16


def test_standin_drops_the_servers_fps_when_a_request_sets_only_num_frames(mp4_url: str) -> None:
    # Server fps 1 alone would keep floor(4 s * 1) = 4 frames; the request's num_frames 12
    # drops it, so the loader's fps 30 applies: 12 frames.
    engine = TrtllmServe(media_io_kwargs={"video": {"fps": 1}})
    with ChatCompletionsServer(engine=engine) as srv:
        _post(srv, _chat(_video(mp4_url)))
        _post(srv, _chat(_video(mp4_url), media_io_kwargs={"video": {"num_frames": 12}}))
        assert [r.videos[0].frames for r in srv.chat_requests] == [4, 12]


@pytest.mark.parametrize(
    ("model_type", "expected"),
    [
        ("qwen2_5_vl", f"{V}\n{V}\nCamera 1: a\nCamera 2: b\nQ?"),
        ("qwen3_vl", f"{V}{V}Camera 1: a\nCamera 2: b\nQ?"),
    ],
)
def test_standin_renders_a_messages_videos_before_its_joined_texts(
    mp4_url: str, model_type: str, expected: str
) -> None:
    content = (_text("Camera 1: a"), _video(mp4_url), _text("Camera 2: b"), _video(mp4_url))
    body = _chat(*content, _text("Q?"))
    body["messages"].insert(0, {"role": "system", "content": "Be brief."})
    with ChatCompletionsServer(engine=TrtllmServe(model_type=model_type)) as srv:
        assert _post(srv, body)[0] == 200
        assert srv.chat_requests[0].rendered == (("system", "Be brief."), ("user", expected))


def test_standin_answers_a_video_it_cannot_open_with_trtllm_serves_error_response(
    main_server: ChatCompletionsServer,
) -> None:
    bad = "data:video/mp4;base64," + base64.b64encode(b"not a video").decode()
    status, body = _post(main_server, _chat(_video(bad)))
    assert status == 400
    assert (body["object"], body["type"], body["code"]) == ("error", "BadRequestError", 400)
    assert "could not be opened" in body["message"]
    assert main_server.chat_requests[0].rendered == ()


def test_standin_streams_the_scripted_reply_to_the_openai_client(
    main_server: ChatCompletionsServer, mp4_url: str
) -> None:
    main_server.push(Reply.answer("go left", reasoning="look"))
    client = openai.OpenAI(base_url=main_server.base_url, api_key="none", max_retries=0)
    messages: Any = [{"role": "user", "content": [_video(mp4_url), _text("Where?")]}]
    stream = client.chat.completions.create(
        model="test-model",
        messages=messages,
        stream=True,
        stream_options={"include_usage": True},
        extra_body={"top_k": 0, "media_io_kwargs": {"video": {"num_frames": -1, "fps": -1}}},
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "go left"
    assert main_server.chat_requests[0].rendered == (("user", f"{V}\nWhere?"),)
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(
            model="test-model",
            messages=[{"role": "user", "content": "hi"}],
            extra_body={"continue_final_message": True},
        )
    # ``{"error": "<text>"}`` is no OpenAI error object: the client's message omits the text.
    assert str(refused.value) == "Error code: 400"
    assert "continue_final_message" in str(refused.value.body)
