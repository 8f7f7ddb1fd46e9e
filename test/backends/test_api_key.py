"""The openai backend's API key goes to ``base_url``'s host only and comes back nowhere.

Real HTTP on loopback: ``ChatCompletionsServer`` stands in for trtllm-serve / vLLM / NIM (which
cannot run here), and a small redirecting server in front of it plays a server (or proxy) that
answers 301 or 307 pointing at another host. The client, its redirect handling and the
backend's error translation are the real ones. A key with whitespace around it (as secrets and
key files hand it over) is stripped and works; one an HTTP header cannot carry is refused with
that reason, never "cannot reach the server", and never quoted.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from cosmos_reason_ros.backends.config import BackendConfig
from cosmos_reason_ros.backends.openai.api_key import BLANK, KeyFilter, blank_result, sent_in_clear
from cosmos_reason_ros.backends.openai.backend import OpenAIBackend
from cosmos_reason_ros.core.errors import BackendError, BackendUnavailableError, ConfigError
from cosmos_reason_ros.core.generation import (
    ChatMessage,
    GenerationRequest,
    GenerationResult,
    TextPart,
)
from cosmos_reason_ros.testing.openai_server import ChatCompletionsServer, Reply

pytest.importorskip("openai", reason="the openai backend needs the openai package")

KEY_ENV = "COSMOS_REASON_TEST_KEY"
SECRET = "sk-test-77aa55cc33ee-do-not-leak"


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, SECRET)


class _Redirecting(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: dict[str, Any]  # set on the bound subclass

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the access log."""

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self._answer()

    def _answer(self) -> None:
        state = self.state
        state["seen"].append((self.command, self.path, self.headers.get("Authorization")))
        if self.command == "GET" and not state["redirect_models"]:
            body = json.dumps({"object": "list", "data": [{"id": "test-model"}]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
        else:
            body = b""
            self.send_response(state["status"])
            self.send_header("Location", state["target"] + self.path + state["tail"])
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextmanager
def redirecting(
    target: str, status: int, redirect_models: bool, tail: str = ""
) -> Iterator[dict[str, Any]]:
    """A loopback server answering ``status`` with ``Location: target + path + tail`` (for
    ``GET /v1/models`` too when ``redirect_models``); yields its state (``url``, ``seen``)."""
    state: dict[str, Any] = {
        "target": target,
        "status": status,
        "redirect_models": redirect_models,
        "tail": tail,
        "seen": [],
    }
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), type("H", (_Redirecting,), {"state": state}))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    state["url"] = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def _backend(base_url: str) -> OpenAIBackend:
    config = BackendConfig(
        backend="openai",
        model="test-model",
        base_url=base_url,
        api_key_env=KEY_ENV,
        timeout_s=5.0,
        max_retries=1,
    )
    return OpenAIBackend(config, backoff_base_s=0.01, backoff_max_s=0.05)


def _request(**kwargs: Any) -> GenerationRequest:
    messages = (ChatMessage("user", (TextPart("What should the robot do next?"),)),)
    return GenerationRequest(messages=messages, clips=(), **kwargs)


def _text_of(exc: BaseException) -> str:
    """Everything a traceback of ``exc`` would print, causes and contexts included."""
    return "".join(traceback.format_exception(exc))


@pytest.mark.parametrize("status", [301, 307])
@pytest.mark.parametrize("when", ["load", "generate"])
def test_a_redirect_to_another_server_fails_loudly_and_the_key_never_reaches_it(
    status: int, when: str
) -> None:
    with (
        ChatCompletionsServer(default=Reply.answer("hi")) as second,
        redirecting(second.base_url.removesuffix("/v1"), status, when == "load") as first,
    ):
        backend = _backend(first["url"])
        with pytest.raises(BackendError) as caught:
            backend.load()
            backend.generate(_request())
        backend.close()
        reached_second = second.requests
        second_origin = second.base_url.removesuffix("/v1")
    path = "/v1/models" if when == "load" else "/v1/chat/completions"
    port = first["url"].split(":")[2].split("/")[0]
    assert reached_second == [], "a request followed the redirect to the second server"
    assert first["seen"][-1] == ("GET" if when == "load" else "POST", path, f"Bearer {SECRET}")
    message = (
        f"server 127.0.0.1:{port} answered HTTP {status}, a redirect to "
        f"{second_origin}{path}; redirects are not followed, so that the "
        "API key goes to base_url only: set base_url to the address that answers"
    )
    if when == "load":
        assert isinstance(caught.value, BackendUnavailableError)
        assert str(caught.value) == f"cannot list models: {message}"
    else:
        assert str(caught.value) == message
    assert SECRET not in _text_of(caught.value)


def test_a_redirect_whose_location_carries_the_key_is_reported_without_it() -> None:
    tail = f"/{SECRET}?key={SECRET}"
    with (
        redirecting("http://198.51.100.7", 307, True, tail=tail) as first,
        pytest.raises(BackendUnavailableError) as caught,
    ):
        _backend(first["url"]).load()
    assert "a redirect to http://198.51.100.7/v1/models/***;" in str(caught.value)
    assert SECRET not in _text_of(caught.value)


@pytest.mark.parametrize("status", [400, 401, 500])
def test_errors_whose_server_body_echoes_the_key_carry_it_nowhere_in_their_chain(
    status: int,
) -> None:
    echo = Reply.error(status, f"rejected Authorization: Bearer {SECRET}")
    with ChatCompletionsServer(default=echo) as srv:
        backend = _backend(srv.base_url)
        backend.load()
        with pytest.raises(BackendError) as caught:
            backend.generate(_request())
        backend.close()
    assert f"HTTP {status}: rejected Authorization: Bearer {BLANK}" in str(caught.value)
    assert SECRET not in _text_of(caught.value)


def test_generated_text_that_echoes_the_key_is_blanked_in_the_result_and_every_delta() -> None:
    text = f"<think>\nthe key is {SECRET}, again {SECRET}\n</think>\n\n<answer>\n{{}}\n</answer>"
    deltas: list[str] = []
    # One character per chunk: the key arrives split across many deltas.
    with ChatCompletionsServer(default=Reply.answer(text, chunks=len(text))) as srv:
        backend = _backend(srv.base_url)
        backend.load()
        result = backend.generate(_request(on_text=lambda d, _n: deltas.append(d)))
        backend.close()
    assert result.text == text.replace(SECRET, BLANK)
    assert "".join(deltas) == result.text
    assert all(SECRET[:8] not in d for d in deltas)


@pytest.mark.parametrize("seed", range(200))
def test_key_filter_output_joins_to_the_blanked_text_whatever_the_split(seed: int) -> None:
    rng = random.Random(seed)
    key = "sk-" + "".join(rng.choice("ab") for _ in range(rng.randint(1, 6)))
    text = "".join(rng.choice(["a", "b", "s", "k", "-", key, "sk-", "\n"]) for _ in range(30))
    cuts = sorted(rng.sample(range(1, len(text)), min(len(text) - 1, rng.randint(0, 12))))
    pieces = [text[i:j] for i, j in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    out: list[tuple[str, int]] = []
    keyless = KeyFilter(key, lambda d, n: out.append((d, n)))
    for n, piece in enumerate(pieces, 1):
        keyless(piece, n)
    keyless.flush()
    assert "".join(d for d, _ in out) == text.replace(key, BLANK)
    assert all(d for d, _ in out), "an empty delta was passed on"
    assert [n for _, n in out] == sorted(n for _, n in out)


def test_blank_result_blanks_every_text_field_and_leaves_the_rest() -> None:
    result = GenerationResult(
        text=f"a {SECRET} b",
        prompt_tokens=3,
        generated_tokens=4,
        time_to_first_token_s=0.1,
        total_s=0.2,
        thinking=f"t {SECRET}",
        answer_json=f'{{"reason": "{SECRET}"}}',
    )
    blanked = blank_result(result, SECRET)
    assert (blanked.text, blanked.thinking, blanked.answer_json) == (
        f"a {BLANK} b",
        f"t {BLANK}",
        f'{{"reason": "{BLANK}"}}',
    )
    assert (blanked.prompt_tokens, blanked.generated_tokens) == (3, 4)
    assert blank_result(result, "") is result


def test_a_key_sent_unencrypted_off_this_machine_is_warned_about(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert sent_in_clear("http://gpu-server:8000/v1")
    assert sent_in_clear("http://10.0.0.5:8000/v1")
    assert not sent_in_clear("https://gpu-server/v1")
    assert not sent_in_clear("http://localhost:8000/v1")
    assert not sent_in_clear("http://127.0.0.1:8000/v1")
    assert not sent_in_clear("http://[::1]:8000/v1")
    caplog.set_level(logging.WARNING)
    backend = _backend("http://192.0.2.1:9/v1")  # TEST-NET-1: nothing answers
    with pytest.raises(BackendUnavailableError):
        backend.load()
    assert any("API key unencrypted to host=192.0.2.1:9" in r.message for r in caplog.records)
    assert all(SECRET not in r.getMessage() for r in caplog.records)


# -- a key as secrets and key files hand it over: with a trailing newline --------------------
@pytest.mark.parametrize("raw", [SECRET + "\n", SECRET + "\r\n", f"  {SECRET}\t"])
def test_a_key_with_whitespace_around_it_is_stripped_and_works(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, raw: str
) -> None:
    monkeypatch.setenv(KEY_ENV, raw)
    messages = (ChatMessage("user", (TextPart("What next?"),)),)
    with ChatCompletionsServer(default=Reply.answer("hi"), api_key=SECRET) as srv:
        with caplog.at_level(logging.WARNING):
            backend = _backend(srv.base_url)
        backend.load()
        result = backend.generate(GenerationRequest(messages=messages, clips=()))
        backend.close()
        sent = {r.headers.get("authorization") for r in srv.requests}
    assert result.text
    assert sent == {f"Bearer {SECRET}"}
    assert "whitespace around it" in caplog.text and SECRET not in caplog.text


@pytest.mark.parametrize("raw", [f"sk-a\nb-{SECRET}", f"{SECRET}\x07", f"{SECRET}é"])
def test_a_key_no_header_can_carry_is_refused_saying_so_without_quoting_it(
    monkeypatch: pytest.MonkeyPatch, raw: str
) -> None:
    monkeypatch.setenv(KEY_ENV, raw)
    with pytest.raises(ConfigError, match="an HTTP header cannot carry") as caught:
        _backend("http://127.0.0.1:9/v1")
    assert SECRET not in str(caught.value) and KEY_ENV in str(caught.value)
