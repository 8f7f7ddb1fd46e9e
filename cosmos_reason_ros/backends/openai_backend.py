"""The ``openai`` backend: any OpenAI-compatible chat-completions server.

Works with trtllm-serve, vLLM, TensorRT Edge-LLM's server and NVIDIA NIM through the ``openai``
client library (>= 1.50). The policy is ours and testable: the client's own retries are off;
connection errors, 5xx and 429 (honouring ``Retry-After`` up to ``backoff_max_s``) are retried
up to ``max_retries`` times with exponential backoff, but only before any text reached
``on_text``; other 4xx fail at once; a read that stalls past ``timeout_s`` raises
``GenerationTimeout`` without a retry.

Media: ``video_transport="images"`` sends every frame as a JPEG ``image_url`` data URL, in
order; ``"video"`` sends each clip as one MP4 ``video_url`` data URL at the clip's frame rate,
plus ``mm_processor_kwargs`` ``{"fps": ..., "do_sample_frames": false}`` (read by vLLM, passed
to the Hugging Face processor; other servers ignore or reject unknown fields, see
docs/serving.md).

Constrained answers (``structured_output``): ``response_format`` json_schema constrains the
whole output, which would forbid the thinking. ``"auto"`` (default) sends it only when the
thinking budget is 0, and wraps the JSON in ``answer_prefix``/``answer_suffix``; otherwise
the answer is prompt-only and the Reasoner validates it. ``"after_reasoning"`` always sends it,
for servers that apply structured outputs after a reasoning parser (vLLM
``--reasoning-parser``): thinking arrives in ``reasoning_content`` and is reassembled as
``<think>`` ... ``answer_prefix`` JSON ``answer_suffix``. ``"off"`` never sends it.

The API key is read only from the environment variable ``config.api_key_env`` and sent only to
``base_url``'s host: redirects are not followed (a 3xx answer fails, naming where it pointed),
so no other host ever receives it. It never appears in logs, ``describe()``, error messages,
their chained causes, or generated text (a server that echoes it gets ``***``).
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from typing import Any
from urllib.parse import urlparse

from cosmos_reason_ros.backends.api_key import KeyFilter, blank_result, sent_in_clear
from cosmos_reason_ros.backends.config import STRUCTURED_OUTPUT_MODES, BackendConfig
from cosmos_reason_ros.backends.openai_chat import Assembler, build_chat_kwargs
from cosmos_reason_ros.core.architecture import detect_architecture
from cosmos_reason_ros.core.errors import (
    BackendError,
    BackendUnavailableError,
    ConfigError,
    GenerationCancelled,
    GenerationTimeout,
)
from cosmos_reason_ros.core.generation import (
    BackendInfo,
    Capabilities,
    GenerationRequest,
    GenerationResult,
)

__all__ = ["STRUCTURED_OUTPUT_MODES", "OpenAIBackend"]

logger = logging.getLogger(__name__)

PLACEHOLDER_API_KEY = "EMPTY"  # what servers without authentication are sent
_MAX_ERROR_CHARS = 300


class _RetryableError(Exception):
    """An attempt failed in a way worth retrying (private to this module)."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after_s = retry_after_s


class OpenAIBackend:
    """A model served behind an OpenAI-compatible chat-completions API.

    Call order and threading follow ``core.generation``: ``load()``, then ``generate()`` from one
    thread at a time, then ``close()``; ``describe()`` from any thread.

    Args:
        config: Uses ``model``, ``base_url``, ``api_key_env``, ``timeout_s`` (connect and each
            read, so also the longest silence mid-stream), ``max_retries``, ``jpeg_quality``
            and ``video_transport``.
        structured_output: ``auto``, ``after_reasoning`` or ``off`` (module docstring).
        backoff_base_s: First retry delay; doubles per retry, with up to 25 % jitter.
        backoff_max_s: Longest delay, also the cap on a server's ``Retry-After``.
        extra_body: Extra request fields merged into every request (e.g. ``{"top_k": 20}``).
    """

    def __init__(
        self,
        config: BackendConfig,
        *,
        structured_output: str | None = None,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 10.0,
        extra_body: dict[str, Any] | None = None,
    ) -> None:
        structured_output = structured_output or config.structured_output
        if structured_output not in STRUCTURED_OUTPUT_MODES:
            raise ConfigError(
                f"structured_output must be one of {', '.join(STRUCTURED_OUTPUT_MODES)}; "
                f"got {structured_output!r}"
            )
        if not (0 <= backoff_base_s <= backoff_max_s):
            raise ConfigError(
                f"need 0 <= backoff_base_s <= backoff_max_s, got {backoff_base_s}, {backoff_max_s}"
            )
        self._config = config
        self._structured_output = structured_output
        self._backoff_base_s = backoff_base_s
        self._backoff_max_s = backoff_max_s
        self._extra_body = dict(extra_body or {})
        url = urlparse(config.base_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ConfigError(f"base_url must be an http(s) URL, got {config.base_url!r}")
        # host[:port] only: never user:password from the URL.
        self._host = url.hostname + (f":{url.port}" if url.port else "")
        self._api_key = os.environ.get(config.api_key_env, "") if config.api_key_env else ""
        self._client: Any = None
        self._openai: Any = None
        self._architecture = detect_architecture(config.model)
        self._lock = threading.Lock()

    # -- Backend interface --------------------------------------------------------------------
    def load(self) -> None:
        """Create the client and check the server answers ``GET /models``.

        Raises:
            BackendUnavailableError: The ``openai`` package is missing or the server is not
                reachable.
            BackendError: The server answered with an error, or does not serve the model.
        """
        try:
            import openai
        except ImportError as err:
            raise BackendUnavailableError(
                "the openai backend needs the 'openai' Python package (pip install 'openai>=1.50')"
            ) from err
        client = openai.OpenAI(
            base_url=self._config.base_url,
            api_key=self._api_key or PLACEHOLDER_API_KEY,
            timeout=self._config.timeout_s,
            max_retries=0,
            # The SDK's own client follows redirects (a 301/302 even turns the POST into a
            # GET); ours fails on them instead, so that the key goes to base_url only.
            http_client=openai.DefaultHttpxClient(follow_redirects=False),
        )
        if self._api_key and sent_in_clear(self._config.base_url):
            logger.warning(
                "openai backend sends its API key unencrypted to host=%s: use https", self._host
            )
        self._openai = openai
        try:
            models = self._with_retries(
                lambda: self._call(lambda: list(client.models.list())), None
            )
        except BackendError as err:
            client.close()
            raise BackendUnavailableError(f"cannot list models: {err}") from err
        served = [str(m.id) for m in models]
        if served and self._config.model not in served:
            client.close()
            raise BackendError(
                f"server {self._host} does not serve model {self._config.model!r}; it serves "
                f"{', '.join(repr(m) for m in served[:10])}"
            )
        # The server's metadata may name what it loaded (vLLM: ``root``, the checkpoint's hub
        # id or path): the architecture is read from that checkpoint where it is reachable.
        roots = [str(getattr(m, "root", "") or "") for m in models if m.id == self._config.model]
        architecture = detect_architecture(self._config.model, *roots)
        with self._lock:
            self._client = client
            self._architecture = architecture
        logger.info(
            "openai backend ready host=%s model=%s architecture=%s",
            self._host,
            self._config.model,
            architecture.describe(),
        )

    def generate(self, request: GenerationRequest) -> GenerationResult:
        """Stream one chat completion; see the module docstring for retries and layout.

        Raises:
            BackendError: Not loaded, the server failed, or retries ran out.
            GenerationTimeout: A read stalled longer than ``timeout_s``.
            GenerationCancelled: ``request.cancel`` was set.
            InputError: A frame cannot be encoded.
        """
        client = self._client
        if client is None:
            raise BackendError("openai backend is not loaded; call load() first")
        start = time.monotonic()
        kwargs = build_chat_kwargs(
            request, self._config, self._structured_output, self._extra_body
        )
        preprocess_s = time.monotonic() - start
        wrap = request.answer_format if "response_format" in kwargs else None
        on_text = request.on_text
        keyless = KeyFilter(self._api_key, on_text) if self._api_key and on_text else None
        out = Assembler(keyless or on_text, wrap, start, preprocess_s)
        result: GenerationResult = self._with_retries(
            lambda: self._stream(client, kwargs, request, out),
            request.cancel,
            may_retry=lambda: not out.emitted,
        )
        if keyless is not None:
            keyless.flush()
        return blank_result(result, self._api_key)

    def close(self) -> None:
        """Close the HTTP client. Idempotent."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def describe(self) -> BackendInfo:
        """Backend, model, the server's host in ``device``; never the API key."""
        return BackendInfo(
            backend="openai",
            model=self._config.model,
            architecture=self._architecture.model_type,
            architecture_source=self._architecture.origin(),
            capabilities=Capabilities(
                constrained_answer=self._structured_output == "after_reasoning",
                video_input=self._config.video_transport == "video",
                streaming=True,
                cancel=True,
            ),
            device=f"remote {self._host}",
            dtype="server",
            quantization="server",
            loaded=self._client is not None,
        )

    # -- internals ----------------------------------------------------------------------------
    def _stream(
        self, client: Any, kwargs: dict[str, Any], request: GenerationRequest, out: Assembler
    ) -> GenerationResult:
        stream = self._call(lambda: client.chat.completions.create(**kwargs))
        try:
            iterator = iter(stream)
            while True:
                if request.cancel is not None and request.cancel.is_set():
                    raise GenerationCancelled("generation cancelled by the caller")
                chunk = self._call(lambda: next(iterator, None))
                if chunk is None:
                    break
                out.feed(chunk)
        finally:
            stream.close()
        if not out.finished:
            raise _RetryableError(
                f"server {self._host} ended the stream before the answer finished"
            )
        return out.result()

    def _call(self, fn: Any) -> Any:
        """Run one client call; translate its errors to ours (``_RetryableError``: retry)."""
        openai = self._openai
        try:
            return fn()
        except openai.APITimeoutError as err:
            raise GenerationTimeout(
                f"server {self._host} sent nothing for {self._config.timeout_s:g} s (timeout_s)"
            ) from err
        except openai.APIConnectionError as err:
            raise _RetryableError(
                f"cannot reach server {self._host}: {self._scrub(str(err))}"
            ) from err
        except openai.APIStatusError as err:
            # ``from None``: the SDK's error repeats the server's body, which may echo the key.
            status = err.status_code
            if 300 <= status < 400:
                raise BackendError(self._redirected(err)) from None
            text = f"server {self._host} answered HTTP {status}: {self._server_message(err)}"
            if status == 429 or status >= 500:
                raise _RetryableError(text, _retry_after(err.response)) from None
            raise BackendError(text) from None
        except openai.APIError as err:  # an error event inside a stream
            raise BackendError(
                f"server {self._host} reported an error: {self._scrub(err.message)}"
            ) from None

    def _with_retries(
        self,
        attempt: Any,
        cancel: threading.Event | None,
        may_retry: Any = lambda: True,
    ) -> Any:
        retries = self._config.max_retries
        for n in range(retries + 1):
            try:
                return attempt()
            except _RetryableError as err:
                if n == retries or not may_retry():
                    tries = f"after {n + 1} attempt(s)" if may_retry() else "mid-answer"
                    raise BackendError(f"{err.message} ({tries})") from None
                delay = min(self._backoff_base_s * 2**n, self._backoff_max_s)
                delay *= 1 + 0.25 * random.random()
                if err.retry_after_s is not None:
                    delay = min(max(delay, err.retry_after_s), self._backoff_max_s)
                logger.warning(
                    "openai backend retry attempt=%d of=%d delay_s=%.3f cause=%s",
                    n + 1,
                    retries,
                    delay,
                    err.message,
                )
                if cancel is not None:
                    if cancel.wait(delay):
                        raise GenerationCancelled("generation cancelled by the caller") from None
                else:
                    time.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _server_message(self, err: Any) -> str:
        body = err.body
        message = body.get("message") if isinstance(body, dict) else None
        return self._scrub(str(message) if message else str(err.message))

    def _scrub(self, text: str) -> str:
        """Shorten ``text`` and blank out the API key, should a server echo it."""
        if self._api_key:
            text = text.replace(self._api_key, "***")
        return text[:_MAX_ERROR_CHARS]

    def _redirected(self, err: Any) -> str:
        """Why a 3xx answer fails: where it pointed (origin and path only), and what to do."""
        target = urlparse(str(err.response.headers.get("location", "")))
        where = f"{target.scheme}://{target.hostname}" if target.hostname else ""
        if where and target.port:
            where += f":{target.port}"
        where = self._scrub(where + target.path) or "an unnamed location"
        return (
            f"server {self._host} answered HTTP {err.status_code}, a redirect to {where}; "
            "redirects are not followed, so that the API key goes to base_url only: set "
            "base_url to the address that answers"
        )


def _retry_after(response: Any) -> float | None:
    """Seconds from a ``Retry-After`` (or ``retry-after-ms``) header, if numeric."""
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    try:
        if headers.get("retry-after-ms") is not None:
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
        if headers.get("retry-after") is not None:
            return max(0.0, float(headers["retry-after"]))
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff
    return None
