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

The API key is read only from the environment variable ``config.api_key_env``; it never
appears in logs, ``describe()`` or error messages.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from typing import Any
from urllib.parse import urlparse

from cosmos_reason_ros.backends.config import STRUCTURED_OUTPUT_MODES, BackendConfig
from cosmos_reason_ros.backends.media import jpeg_data_url, mp4_data_url
from cosmos_reason_ros.core.architecture import detect_architecture
from cosmos_reason_ros.core.errors import (
    BackendError,
    BackendUnavailableError,
    ConfigError,
    GenerationCancelled,
    GenerationTimeout,
)
from cosmos_reason_ros.core.generation import (
    AnswerFormat,
    BackendInfo,
    Capabilities,
    ChatMessage,
    GenerationRequest,
    GenerationResult,
    TextCallback,
    TextPart,
    VideoPart,
)

__all__ = ["STRUCTURED_OUTPUT_MODES", "OpenAIBackend", "build_chat_kwargs"]

logger = logging.getLogger(__name__)

PLACEHOLDER_API_KEY = "EMPTY"  # what servers without authentication are sent
_MAX_ERROR_CHARS = 300


def _content(message: ChatMessage, request: GenerationRequest, config: BackendConfig) -> Any:
    if all(isinstance(p, TextPart) for p in message.parts):
        return "".join(p.text for p in message.parts if isinstance(p, TextPart))
    parts: list[dict[str, Any]] = []
    for part in message.parts:
        if isinstance(part, TextPart):
            parts.append({"type": "text", "text": part.text})
            continue
        if not 0 <= part.clip_index < len(request.clips):
            raise BackendError(
                f"message refers to clip {part.clip_index} but the request has "
                f"{len(request.clips)} clip(s)"
            )
        clip = request.clips[part.clip_index]
        if config.video_transport == "video":
            parts.append({"type": "video_url", "video_url": {"url": mp4_data_url(clip)}})
        else:
            parts.extend(
                {"type": "image_url", "image_url": {"url": jpeg_data_url(f, config.jpeg_quality)}}
                for f in clip.frames
            )
    return parts


def _uses_schema(request: GenerationRequest, mode: str) -> bool:
    fmt = request.answer_format
    if mode == "off" or fmt is None or not request.constrained:
        return False
    return mode == "after_reasoning" or fmt.max_thinking_tokens == 0


def build_chat_kwargs(
    request: GenerationRequest,
    config: BackendConfig,
    structured_output: str = "auto",
    extra_body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The keyword arguments of ``client.chat.completions.create`` for ``request``.

    Pure apart from frame encoding; no network. See the module docstring for the layout.
    """
    s = request.sampling
    kwargs: dict[str, Any] = {
        "model": config.model,
        "messages": [
            {"role": m.role, "content": _content(m, request, config)} for m in request.messages
        ],
        "max_tokens": s.max_new_tokens,
        "temperature": s.temperature,
        "top_p": s.top_p,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    if s.seed is not None:
        kwargs["seed"] = s.seed
    body: dict[str, Any] = {}
    if s.repetition_penalty != 1.0:
        body["repetition_penalty"] = s.repetition_penalty  # vLLM, trtllm-serve extension
    videos = {p.clip_index for m in request.messages for p in m.parts if isinstance(p, VideoPart)}
    if config.video_transport == "video" and videos:
        fps = [request.clips[i].fps for i in sorted(videos)]
        body["mm_processor_kwargs"] = {
            "fps": fps[0] if len(set(fps)) == 1 else fps,
            "do_sample_frames": False,
        }
    fmt = request.answer_format
    if fmt is not None and _uses_schema(request, structured_output):
        kwargs["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "answer", "schema": fmt.json_schema, "strict": True},
        }
    body.update(extra_body or {})
    if body:
        kwargs["extra_body"] = body
    return kwargs


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
        out = _Assembler(request.on_text, wrap, start, preprocess_s)
        result: GenerationResult = self._with_retries(
            lambda: self._stream(client, kwargs, request, out),
            request.cancel,
            may_retry=lambda: not out.emitted,
        )
        return result

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
        self, client: Any, kwargs: dict[str, Any], request: GenerationRequest, out: _Assembler
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
            status = err.status_code
            text = f"server {self._host} answered HTTP {status}: {self._server_message(err)}"
            if status == 429 or status >= 500:
                raise _RetryableError(text, _retry_after(err.response)) from err
            raise BackendError(text) from err
        except openai.APIError as err:  # an error event inside a stream
            raise BackendError(
                f"server {self._host} reported an error: {self._scrub(err.message)}"
            ) from err

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


class _Assembler:
    """Collects streamed deltas into the answer text, feeding ``on_text`` as they come.

    With ``wrap`` (a schema-constrained request) the server's content is only the JSON: the
    assembler lays it out as ``answer_format`` says, putting any thinking the server split off
    (``reasoning_content``, or ``reasoning`` in newer vLLM) inside ``<think>`` first.
    Text reaching ``on_text`` is never taken back, so no retry happens once ``emitted``.
    """

    def __init__(
        self, on_text: TextCallback | None, wrap: AnswerFormat | None, start: float, pre_s: float
    ) -> None:
        self._on_text = on_text
        self._wrap = wrap
        self._start = start
        self._preprocess_s = pre_s
        self._texts: list[str] = []
        self._reasoning = ""
        self._prefix_sent = False
        self._ttft = 0.0
        self._usage: Any = None
        self.chunks = 0
        self.emitted = False
        self.finished = False

    def feed(self, chunk: Any) -> None:
        """Take one ``ChatCompletionChunk``."""
        if getattr(chunk, "usage", None) is not None:
            self._usage = chunk.usage
        for choice in chunk.choices or ():
            delta = choice.delta
            reasoning = getattr(delta, "reasoning_content", None) or getattr(
                delta, "reasoning", None
            )
            if reasoning and self._wrap is not None:
                self.chunks += 1
                if not self._reasoning:
                    self._emit(self._wrap.think_end.replace("</", "<", 1) + "\n")
                self._reasoning += reasoning
                self._emit(reasoning)
            if delta.content:
                self.chunks += 1
                if self._wrap is not None and not self._prefix_sent:
                    self._prefix_sent = True
                    newline = self._reasoning and not self._reasoning.endswith("\n")
                    self._emit(("\n" if newline else "") + self._wrap.answer_prefix)
                self._emit(delta.content)
            if choice.finish_reason is not None:
                self.finished = True

    def result(self) -> GenerationResult:
        """The result, once the stream finished."""
        if self._wrap is not None and self._wrap.answer_suffix:
            self._emit(self._wrap.answer_suffix)
        return GenerationResult(
            text="".join(self._texts),
            prompt_tokens=int(getattr(self._usage, "prompt_tokens", 0) or 0),
            generated_tokens=int(getattr(self._usage, "completion_tokens", 0) or self.chunks),
            time_to_first_token_s=self._ttft,
            total_s=time.monotonic() - self._start,
            preprocess_s=self._preprocess_s,
        )

    def _emit(self, delta: str) -> None:
        if not delta:
            return
        if not self.emitted:
            self._ttft = time.monotonic() - self._start
            self.emitted = True
        self._texts.append(delta)
        if self._on_text is not None:
            self._on_text(delta, self.chunks)


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
