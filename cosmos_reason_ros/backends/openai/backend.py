"""The ``openai`` backend: any OpenAI-compatible chat-completions server.

Works with trtllm-serve, vLLM, TensorRT Edge-LLM's server and NVIDIA NIM through the ``openai``
client library (>= 1.50). Retries, timeouts and error messages follow ``openai.calls``: an
attempt is retried only while none of its text reached ``on_text``.

Media (``openai.chat``): one video per camera by default, at its frame rate, with the processor
arguments that stop the server from re-sampling or resizing it; ``"images"`` sends stills.

Thinking budget and deadline, enforced here, client-side, whatever the server does: thinking
ends at whichever comes first of the model writing ``think_end`` (or a reasoning parser's
``reasoning_content`` giving way to content), ``max_thinking_tokens`` streamed thinking tokens,
and ``max_thinking_s`` seconds after the request went out. When the budget or the deadline cut
the thinking, the stream is closed and the answer asked for in a second request that continues
the thinking so far, completed with ``answer_prefix``, as a prefilled assistant turn
(``continue_final_message``).

Constrained answers (``structured_output``): ``response_format`` json_schema would forbid the
thinking if sent with the first request to a server without a reasoning parser, so
``"auto"`` (default) always takes the two-request path: the first request streams the thinking
and stops where it ends; the second asks for the answer, schema-constrained. With a thinking
budget of 0 there is one, constrained request. ``"after_reasoning"`` sends the schema with the
first request, for servers that constrain only after their reasoning parser (vLLM
``--reasoning-parser``), and needs a second request only when the budget or the deadline cut
the thinking. ``"off"`` never sends a schema: the Reasoner validates the answer it finds.
A constrained answer comes back exactly in ``GenerationResult.answer_json`` and the thinking in
``thinking``. The second request costs one more prefill (a server with prefix caching, as vLLM
has by default, reuses the first's).

trtllm-serve (found at ``load`` from its model cards, ``owned_by: tensorrt_llm``) cannot continue
a prefilled assistant turn: its ``ChatCompletionRequest`` has no ``continue_final_message`` and
refuses fields it does not know (``extra="forbid"``, NVIDIA/TensorRT-LLM
``tensorrt_llm/serve/openai_protocol.py`` @ 0076e939). So there the answer comes in the same
request as the thinking, constrained by a structural tag (``backends.guides``: free thinking
up to ``</think>``, then the profile's answer layout around the JSON; trtllm-serve keeps a
structural tag as it is, with or without a reasoning parser), whatever ``structured_output``
says unless it is ``off``. When the budget or the deadline cuts the thinking, the stream is
closed and the answer asked for afresh, constrained to the JSON alone: the model answers
without seeing its cut thinking (logged once). Requests carry trtllm-serve's layout
(``openai.chat``); ``load`` sends one single-token request with the fields the node will send,
so a release that refuses one of them is refused at configure, in one sentence naming it.

The API key is read only from the environment variable ``config.api_key_env``; it never
appears in logs, ``describe()`` or error messages.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import threading
import time
from typing import Any
from urllib.parse import urlparse

from cosmos_reason_ros.backends.config import STRUCTURED_OUTPUT_MODES, BackendConfig
from cosmos_reason_ros.backends.guides import answer_only_tag, answer_structural_tag
from cosmos_reason_ros.backends.openai.api_key import (
    KeyFilter,
    blank_result,
    read_api_key,
    sent_in_clear,
)
from cosmos_reason_ros.backends.openai.calls import RetryableError, ServerCalls
from cosmos_reason_ros.backends.openai.chat import (
    ALL_FRAMES,
    TRTLLM_SERVE,
    build_chat_kwargs,
    continuation,
    with_guide,
    with_schema,
)
from cosmos_reason_ros.backends.openai.stream import AnswerReader, GenerationRun, ThinkingWatch
from cosmos_reason_ros.core.architecture import detect_architecture
from cosmos_reason_ros.core.errors import BackendError, BackendUnavailableError, ConfigError
from cosmos_reason_ros.core.generation import (
    AnswerFormat,
    BackendInfo,
    Capabilities,
    ChatMessage,
    GenerationRequest,
    GenerationResult,
    SamplingSettings,
    TextPart,
)

__all__ = ["STRUCTURED_OUTPUT_MODES", "OpenAIBackend"]

logger = logging.getLogger(__name__)

PLACEHOLDER_API_KEY = "EMPTY"  # what servers without authentication are sent


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
        extra_body: Extra request fields merged into every request (e.g. ``{"min_p": 0.1}``).
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
        self._extra_body = dict(extra_body or {})
        url = urlparse(config.base_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ConfigError(f"base_url must be an http(s) URL, got {config.base_url!r}")
        # host[:port] only: never user:password from the URL.
        self._host = url.hostname + (f":{url.port}" if url.port else "")
        self._api_key = read_api_key(config.api_key_env)
        self._calls = ServerCalls(
            self._host,
            self._api_key,
            timeout_s=config.timeout_s,
            max_retries=config.max_retries,
            backoff_base_s=backoff_base_s,
            backoff_max_s=backoff_max_s,
        )
        self._client: Any = None
        self._architecture = detect_architecture(config.model)
        self._server = ""  # TRTLLM_SERVE once load() found trtllm-serve
        self._told_afresh = False
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
        calls = self._calls
        calls.openai = openai
        try:
            models = calls.with_retries(
                lambda: calls.call(lambda: list(client.models.list())), None
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
        owners = {str(getattr(m, "owned_by", "") or "") for m in models}
        server = TRTLLM_SERVE if "tensorrt_llm" in owners else ""
        if server == TRTLLM_SERVE:
            try:
                self._check_trtllm_serve(client, architecture.model_type)
            except BaseException:
                client.close()
                raise
        with self._lock:
            self._client = client
            self._architecture = architecture
            self._server = server
        logger.info(
            "openai backend ready host=%s model=%s architecture=%s server=%s",
            self._host,
            self._config.model,
            architecture.describe(),
            server or "openai-compatible",
        )
        logger.info("openai backend: %s", self.enforcement())

    def generate(self, request: GenerationRequest) -> GenerationResult:
        """Stream one decision's completion(s); see the module docstring for the phases.

        Raises:
            BackendError: Not loaded, the server failed, or retries ran out.
            GenerationTimeout: A read stalled longer than ``timeout_s``.
            GenerationCancelled: ``request.cancel`` was set.
            InputError: A frame cannot be encoded.
        """
        client = self._client
        if client is None:
            raise BackendError("openai backend is not loaded; call load() first")
        # A server may echo the key in generated text: it never reaches on_text or the result.
        on_text = request.on_text
        keyless = KeyFilter(self._api_key, on_text) if self._api_key and on_text else None
        if keyless is not None:
            request = dataclasses.replace(request, on_text=keyless)
        result = self._generate(client, request)
        if keyless is not None:
            keyless.flush()
        return blank_result(result, self._api_key)

    def _generate(self, client: Any, request: GenerationRequest) -> GenerationResult:
        """``generate`` after the checks, with the key filter in place."""
        run = GenerationRun(request, time.monotonic())
        base = build_chat_kwargs(
            request, self._config, self._architecture.model_type, self._extra_body, self._server
        )
        run.preprocess_s = time.monotonic() - run.start
        fmt = request.answer_format
        schema = fmt is not None and request.constrained and self._structured_output != "off"
        if fmt is None or fmt.max_thinking_tokens == 0:
            return self._answer_at_once(client, base, run, fmt if schema else None)
        if self._server == TRTLLM_SERVE:
            return self._think_then_answer(client, base, run, fmt, schema)
        two_phase = schema and self._structured_output == "auto"
        first = with_schema(base, fmt) if schema and not two_phase else base
        answer = AnswerReader(run.out, wrapped=schema and not two_phase)
        watch = self._calls.with_retries(
            lambda: self._think(
                client, first, run, ThinkingWatch(fmt, run.out, two_phase, answer)
            ),
            request.cancel,
            may_retry=lambda: not run.out.emitted,
        )
        run.thinking_s = max(0.0, watch.ended_at - run.sent)
        run.ended_by = watch.ended_by
        run.prompt_tokens = watch.stream.prompt_tokens
        run.generated = watch.stream.completion_tokens
        if watch.stopped:  # ask for the answer, the thinking so far prefilled
            run.out.emit(watch.prefix_rest())
            answer = AnswerReader(run.out, wrapped=schema)
            left = request.sampling.max_new_tokens - watch.tokens
            second = continuation(base, run.out.text, left)
            self._answer(client, self._json_only(second, fmt) if schema else second, run, answer)
            if not run.prompt_tokens:
                run.prompt_tokens = max(0, answer.stream.prompt_tokens - watch.tokens)
            run.generated += answer.stream.completion_tokens
        if not answer.wrapped:
            return run.result()
        run.out.emit(fmt.answer_suffix)
        return run.result(thinking=watch.thinking, answer_json=answer.json)

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
                thinking_budget=True,
                thinking_deadline=True,
                constrained_answer=self._structured_output != "off",
                video_input=self._config.video_transport == "video",
                streaming=True,
                cancel=True,
            ),
            device=f"remote {self._host}",
            dtype="server",
            quantization="server",
            loaded=self._client is not None,
        )

    def enforcement(self) -> str:
        """One sentence saying what this backend enforces and how (logged at ``load``)."""
        if self._server == TRTLLM_SERVE:
            how = (
                "the thinking budget and deadline are enforced client-side; on trtllm-serve "
                "the answer follows the thinking in the same request"
            )
            if self._structured_output == "off":
                return how + "; answers are not constrained (structured_output off)"
            return how + ", constrained by a structural_tag response_format (any mode but off)"
        how = (
            "the thinking budget and deadline are enforced client-side (the stream is stopped "
            "and the answer asked for as a continuation of the prefilled thinking, "
            "continue_final_message)"
        )
        if self._structured_output == "off":
            return how + "; answers are not constrained (structured_output off)"
        if self._structured_output == "after_reasoning":
            return how + "; answers are constrained by response_format after the reasoning parser"
        return how + "; answers are constrained by response_format in a second request"

    # -- internals ----------------------------------------------------------------------------
    def _answer_at_once(
        self, client: Any, base: dict[str, Any], run: GenerationRun, fmt: AnswerFormat | None
    ) -> GenerationResult:
        """One request, no thinking: the schema-constrained answer in ``fmt``'s layout, or
        whatever the model writes (``fmt`` None)."""
        answer = AnswerReader(run.out, wrapped=fmt is not None)
        if fmt is not None:
            run.out.emit(fmt.answer_prefix)
            run.ended_by = "tokens"
        self._answer(client, self._json_only(base, fmt) if fmt else base, run, answer)
        run.prompt_tokens = answer.stream.prompt_tokens
        run.generated = answer.stream.completion_tokens
        if fmt is None:
            return run.result()
        run.out.emit(fmt.answer_suffix)
        return run.result(thinking="", answer_json=answer.json)

    def _json_only(self, kwargs: dict[str, Any], fmt: AnswerFormat) -> dict[str, Any]:
        """``kwargs`` asking for the JSON answer alone: ``response_format`` json_schema, or on
        trtllm-serve a JSON-only structural tag (there a plain JSON guide would be wrapped in
        a ``<think>`` block behind a reasoning parser)."""
        if self._server == TRTLLM_SERVE:
            return with_guide(kwargs, answer_only_tag(fmt.json_schema))
        return with_schema(kwargs, fmt)

    def _think_then_answer(
        self,
        client: Any,
        base: dict[str, Any],
        run: GenerationRun,
        fmt: AnswerFormat,
        schema: bool,
    ) -> GenerationResult:
        """trtllm-serve: the thinking and the answer in one request; when the budget or the
        deadline cuts the thinking, the answer asked for afresh (module docstring)."""
        rest = fmt.answer_prefix[len(fmt.think_end) :]
        answer = AnswerReader(run.out, wrapped=schema, lead=rest, tail=fmt.answer_suffix)
        # The thinking tag opens with nothing: the template may have opened it, and any text
        # the model writes before ``</think>`` (its own ``<think>`` too) is thinking.
        first = (
            with_guide(base, answer_structural_tag(fmt, thinking_opened=True)) if schema else base
        )
        watch = self._calls.with_retries(
            lambda: self._think(client, first, run, ThinkingWatch(fmt, run.out, False, answer)),
            run.request.cancel,
            may_retry=lambda: not run.out.emitted,
        )
        run.thinking_s = max(0.0, watch.ended_at - run.sent)
        run.ended_by = watch.ended_by
        run.prompt_tokens = watch.stream.prompt_tokens
        run.generated = watch.stream.completion_tokens
        if watch.stopped:
            if not schema:  # nothing to ask afresh for: an unconstrained answer would think again
                return run.result()
            if not self._told_afresh:
                self._told_afresh = True
                logger.warning(
                    "openai backend: trtllm-serve cannot continue a cut thinking (no "
                    "continue_final_message); the answer is asked for afresh, without it"
                )
            run.out.emit(watch.prefix_rest())
            answer = AnswerReader(run.out, wrapped=True)
            left = max(1, run.request.sampling.max_new_tokens - watch.tokens)
            second = self._json_only({**base, "max_tokens": left}, fmt)
            self._answer(client, second, run, answer)
            run.generated += answer.stream.completion_tokens
        if not schema:
            return run.result()
        run.out.emit(fmt.answer_suffix)
        return run.result(thinking=watch.thinking, answer_json=answer.json)

    def _check_trtllm_serve(self, client: Any, architecture: str) -> None:
        """One single-token text request, built as every request is and carrying the fields
        the node sends trtllm-serve (media settings, the structural tag), so a release whose
        request schema refuses one (``extra="forbid"``) is refused now, in one sentence. Any
        other failure of this check is logged and left to the decisions.

        Raises:
            BackendError: The server's request schema refused a field; names it and what to do.
        """
        request = GenerationRequest(
            messages=(ChatMessage("user", (TextPart("Reply OK."),)),),
            clips=(),
            sampling=SamplingSettings(temperature=0.0, max_new_tokens=1),
        )
        kwargs = build_chat_kwargs(
            request, self._config, architecture, self._extra_body, TRTLLM_SERVE
        )
        kwargs.pop("stream_options")
        kwargs["stream"] = False
        body = kwargs["extra_body"]
        if self._config.video_transport == "video":
            body["media_io_kwargs"] = copy.deepcopy(ALL_FRAMES)
            body["mm_processor_kwargs"] = {"do_sample_frames": False, "do_resize": False}
        if self._structured_output != "off":
            kwargs = with_guide(kwargs, answer_structural_tag(_PROBE_FORMAT, thinking_opened=True))
        try:
            self._calls.with_retries(
                lambda: self._calls.call(lambda: client.chat.completions.create(**kwargs)), None
            )
        except BackendError as err:
            refusal = _trtllm_serve_refusal(self._host, str(err))
            if refusal is not None:
                raise BackendError(refusal) from None
            logger.warning("openai backend: trtllm-serve's check request failed: %s", err)

    def _answer(
        self, client: Any, kwargs: dict[str, Any], run: GenerationRun, answer: AnswerReader
    ) -> None:
        """Stream an answer into ``answer``; retried until its first text arrives."""

        def attempt() -> None:
            answer.reset()
            run.sent = run.sent or time.monotonic()
            finished = self._calls.read(
                client, kwargs, run.request.cancel, feed=answer.feed_chunk, done=lambda: False
            )
            if not (finished and answer.stream.finished):
                raise RetryableError(
                    f"server {self._host} ended the stream before the answer finished"
                )

        self._calls.with_retries(attempt, run.request.cancel, lambda: not answer.stream.chunks)

    def _think(
        self, client: Any, kwargs: dict[str, Any], run: GenerationRun, watch: ThinkingWatch
    ) -> ThinkingWatch:
        """Stream until the thinking ends (and, unless ``watch`` stops there, the answer)."""
        run.sent = time.monotonic()
        limit_s = watch.fmt.max_thinking_s
        due = run.sent + limit_s if limit_s > 0 else None
        self._calls.read(
            client,
            kwargs,
            run.request.cancel,
            feed=watch.feed,
            done=lambda: watch.stopped,
            deadline=lambda: None if watch.ended_by else due,
            on_deadline=lambda: watch.end("deadline"),
        )
        if watch.stopped:
            return watch
        if not watch.stream.finished:
            raise RetryableError(
                f"server {self._host} ended the stream before the answer finished"
            )
        if not watch.ended_by:  # the model stopped while thinking: the answer is still due
            watch.end("model", stop=True)
        return watch


_PROBE_FORMAT = AnswerFormat(
    think_end="</think>",
    answer_prefix="</think>\n\n",
    answer_suffix="",
    json_schema={"type": "object"},
    max_thinking_tokens=1,
)
"""The answer layout of the load-time check: a structural tag of a decision's shape."""

_GUIDE_ADVICE = (
    "a structural_tag response_format, which constrains the answer after the thinking on "
    "trtllm-serve: use a release that accepts it, or set structured_output to off"
)
_REFUSED_FIELDS = {
    "media_io_kwargs": (
        "per-request media_io_kwargs, without which it loads every video as 10 frames: use a "
        "trtllm-serve release that accepts them, or set video_transport to images"
    ),
    "mm_processor_kwargs": (
        "per-request mm_processor_kwargs, without which its processor re-samples and resizes "
        "the frames: use a trtllm-serve release that accepts them, or set video_transport to "
        "images"
    ),
    "response_format": _GUIDE_ADVICE,
    "structural_tag": _GUIDE_ADVICE,
}
_SCHEMA_REFUSALS = ("extra_forbidden", "Extra inputs are not permitted", "literal_error")
"""How pydantic words a request its schema refuses (FastAPI passes its errors on)."""


def _trtllm_serve_refusal(host: str, error: str) -> str | None:
    """One sentence for trtllm-serve's request schema refusing the check request: the field
    it named and what to do, else the server's words on one line; None: not a refusal."""
    if "HTTP 4" not in error or not any(r in error for r in _SCHEMA_REFUSALS):
        return None
    for field_name, advice in _REFUSED_FIELDS.items():
        if field_name in error:
            return f"trtllm-serve at {host} refuses {advice}"
    words = " ".join(error.split())
    return f"trtllm-serve at {host} refuses the requests the node sends: {words}"
