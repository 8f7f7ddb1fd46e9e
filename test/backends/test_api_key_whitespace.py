"""An API key as secrets and key files hand it over: with a trailing newline. Real HTTP on
loopback (``ChatCompletionsServer`` stands in for trtllm-serve / vLLM / NIM, which cannot run
here) and the real client: the key works, and a key an HTTP header cannot carry is refused with
that reason, never "cannot reach the server", and never quoted."""

from __future__ import annotations

import logging

import pytest

from cosmos_reason_ros.backends.config import BackendConfig
from cosmos_reason_ros.backends.openai.backend import OpenAIBackend
from cosmos_reason_ros.core.errors import ConfigError
from cosmos_reason_ros.core.generation import ChatMessage, GenerationRequest, TextPart
from cosmos_reason_ros.testing.openai_server import ChatCompletionsServer, Reply

pytest.importorskip("openai", reason="the openai backend needs the openai package")

KEY_ENV = "COSMOS_REASON_TEST_KEY"
SECRET = "sk-test-5e5e5e-trailing-newline"


def _backend(base_url: str) -> OpenAIBackend:
    config = BackendConfig(
        backend="openai",
        model="test-model",
        base_url=base_url,
        api_key_env=KEY_ENV,
        timeout_s=5.0,
        max_retries=0,
    )
    return OpenAIBackend(config, backoff_base_s=0.01, backoff_max_s=0.05)


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
