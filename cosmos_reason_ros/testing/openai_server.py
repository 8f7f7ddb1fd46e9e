"""A loopback OpenAI-compatible chat-completions server for tests.

It stands in for trtllm-serve, vLLM, TensorRT Edge-LLM's server and NVIDIA NIM, which cannot
run here (no GPU, no weights). It is a real HTTP/1.1 server on ``127.0.0.1`` (an ephemeral
port, standard library ``ThreadingHTTPServer`` on a daemon thread) that speaks the parts of
the protocol our ``openai`` backend uses:

- ``GET /v1/models``;
- ``POST /v1/chat/completions``, non-streaming (JSON) and streaming (server-sent events with
  chunked transfer encoding: ``data: {...}`` events, then ``data: [DONE]``), with a final usage
  chunk when the request asks for ``stream_options.include_usage``.

Each chat request is answered by the ``responder`` (a function of the request body) when it
gives a reply, else by the next ``Reply`` of a script; when the script is exhausted the default
reply answers. Replies can be a text answer (streamed in several chunks), thinking split off
as a reasoning parser sends it (``reasoning_content`` or ``reasoning`` deltas), an HTTP error
(400, 429 with ``Retry-After``, 500, ...), a stall, or a dropped connection. Every request is
recorded, so tests can assert on message layout, data URLs, extra fields, headers and prefilled
assistant turns.

With an ``engine`` (``trtllm_serve.TrtllmServe``) the server plays that server faithfully:
its routes and model cards, its request validation (400 before any scripted reply is used), its
rendering of the conversation and its video loading, recorded on each ``RecordedRequest``.

Example::

    with ChatCompletionsServer(script=[Reply.error(500)], default=Reply.answer("hi")) as srv:
        backend = OpenAIBackend(BackendConfig(backend="openai", base_url=srv.base_url, ...))
        ...
        assert len(srv.chat_requests) == 2
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from cosmos_reason_ros.testing.openai_replies import (
    RecordedRequest,
    Reply,
    reason1_text,
    reason2_text,
)

if TYPE_CHECKING:
    from cosmos_reason_ros.testing.trtllm_serve import TrtllmServe

__all__ = ["ChatCompletionsServer", "RecordedRequest", "Reply", "reason1_text", "reason2_text"]


class ChatCompletionsServer:
    """The loopback server. Use as a context manager, or call ``start()`` and ``stop()``.

    Thread-safety: the script, default and recorded requests are guarded by a lock; the
    server answers requests on their own threads.

    Args:
        script: Replies for the first chat requests, in order.
        default: The reply once the script is exhausted.
        models: Model ids listed by ``GET /v1/models``; the first is echoed in answers. With an
            engine only the first is listed: trtllm-serve serves one model.
        api_key: When set, requests without ``Authorization: Bearer <api_key>`` get 401.
        responder: Called with each chat request's body; its reply (if not None) answers it.
        engine: The server to play (``TrtllmServe(...)``); None: a generic, lenient one.
    """

    def __init__(
        self,
        script: Iterable[Reply] = (),
        default: Reply | None = None,
        models: Sequence[str] = ("test-model",),
        api_key: str | None = None,
        responder: Callable[[dict[str, Any]], Reply | None] | None = None,
        *,
        engine: TrtllmServe | None = None,
    ) -> None:
        self._script = list(script)
        self._responder = responder
        self._default = default if default is not None else Reply()
        self.models = tuple(models)
        self.api_key = api_key
        self.engine = engine
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._closing = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> ChatCompletionsServer:
        """Bind 127.0.0.1 on an ephemeral port and serve on a daemon thread."""
        handler = type("_BoundHandler", (_Handler,), {"server_state": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; stalled replies end at once. Idempotent."""
        self._closing.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> ChatCompletionsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- configuration and inspection ---------------------------------------------------------
    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("server is not running; call start() first")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/v1``, the value for ``BackendConfig.base_url``."""
        return f"http://127.0.0.1:{self.port}/v1"

    def push(self, *replies: Reply) -> None:
        """Append replies to the script."""
        with self._lock:
            self._script.extend(replies)

    def set_default(self, reply: Reply) -> None:
        """Replace the reply used once the script is exhausted."""
        with self._lock:
            self._default = reply

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, oldest first (a copy)."""
        with self._lock:
            return list(self._requests)

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        """The chat-completions requests received so far."""
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _next_reply(self, body: dict[str, Any]) -> Reply:
        reply = self._responder(body) if self._responder is not None else None
        if reply is not None:
            return reply
        with self._lock:
            return self._script.pop(0) if self._script else self._default


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_state: ChatCompletionsServer  # set on the bound subclass

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log."""

    # -- routing -----------------------------------------------------------------------------
    def do_GET(self) -> None:
        self.server_state._record(RecordedRequest("GET", self.path, self._headers()))
        if not self._authorized():
            return
        if self.server_state.engine is not None:
            self._engine_get(self.server_state.engine)
        elif self.path.rstrip("/").endswith("/models"):
            data = [
                {"id": m, "object": "model", "created": 0, "owned_by": "test"}
                for m in self.server_state.models
            ]
            self._send_json(200, {"object": "list", "data": data})
        else:
            self._send_error(404, f"no route {self.path}")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            body = None
        if self.server_state.engine is not None:
            self._engine_post(self.server_state.engine, raw, body)
            return
        self.server_state._record(RecordedRequest("POST", self.path, self._headers(), body))
        if not self._authorized():
            return
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._send_error(404, f"no route {self.path}")
            return
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            self._send_error(400, "body must be a JSON object with a 'messages' list")
            return
        reply = self.server_state._next_reply(body).for_request(body)
        self._answer(body, reply)

    # -- an engine's routes --------------------------------------------------------------------
    def _engine_get(self, engine: TrtllmServe) -> None:
        path = self.path.split("?")[0]
        if path == "/v1/models":
            card = engine.model_card(self.server_state.models[0], int(time.time()))
            self._send_json(200, {"object": "list", "data": [card]})
        elif path == "/version":
            self._send_json(200, engine.version_body())
        else:
            self._send_json(404, {"detail": "Not Found"})

    def _engine_post(self, engine: TrtllmServe, raw: bytes, body: Any) -> None:
        """Validate, parse, record, then answer with the script: the order trtllm-serve keeps."""
        from cosmos_reason_ros.testing.trtllm_serve import RequestRefused

        state = self.server_state
        request = RecordedRequest("POST", self.path, self._headers(), body)
        if not self._key_ok() or self.path.split("?")[0] != "/v1/chat/completions":
            state._record(request)
            if self._authorized():
                self._send_json(404, {"detail": "Not Found"})
            return
        error = engine.validation_error(raw)
        if error is not None:
            state._record(request)
            self._send_json(400, {"error": error})
            return
        try:
            chat = engine.parse(body)
            grammar = engine.guide(body)
        except RequestRefused as e:
            state._record(request)
            refusal = {"message": str(e), "type": "BadRequestError", "param": None, "code": 400}
            self._send_json(400, {"object": "error", **refusal})
            return
        state._record(
            replace(request, rendered=chat.rendered, videos=chat.videos, images=chat.images)
        )
        self._answer(body, engine.guided(body, grammar, state._next_reply(body)))

    # -- replies -----------------------------------------------------------------------------
    def _answer(self, body: dict[str, Any], reply: Reply) -> None:
        closing = self.server_state._closing
        if reply.drop_after_chunks == 0:
            self._drop()
            return
        if reply.stall_s and reply.stall_after_chunks is None and closing.wait(reply.stall_s):
            return
        if reply.status != 200:
            self._send_error(reply.status, reply.error_message, reply.retry_after_s)
            return
        if body.get("stream"):
            self._stream(body, reply)
        else:
            self._send_json(200, self._completion(body, reply))

    def _completion(self, body: dict[str, Any], reply: Reply) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": reply.text}
        if reply.reasoning:
            message[reply.reasoning_key] = reply.reasoning
        out: dict[str, Any] = {
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", self.server_state.models[0]),
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        }
        if reply.send_usage:
            out["usage"] = self._usage(reply)
        return out

    def _usage(self, reply: Reply) -> dict[str, int]:
        n = len(reply.stream_pieces())
        return {
            "prompt_tokens": reply.prompt_tokens,
            "completion_tokens": n,
            "total_tokens": reply.prompt_tokens + n,
        }

    def _stream(self, body: dict[str, Any], reply: Reply) -> None:
        closing = self.server_state._closing
        model = body.get("model", self.server_state.models[0])
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def event(delta: dict[str, Any], finish: str | None = None) -> None:
            chunk = {
                "id": "chatcmpl-test",
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            self._write_chunk(f"data: {json.dumps(chunk)}\n\n")

        event({"role": "assistant", "content": ""})
        for i, (key, piece) in enumerate(reply.stream_pieces()):
            if reply.drop_after_chunks is not None and i >= reply.drop_after_chunks:
                self._drop()
                return
            if i == reply.stall_after_chunks and closing.wait(reply.stall_s):
                return
            if reply.chunk_delay_s and closing.wait(reply.chunk_delay_s):
                return
            event({key: piece})
        event({}, finish="stop")
        options = body.get("stream_options") or {}
        if reply.send_usage and options.get("include_usage"):
            usage = {
                "id": "chatcmpl-test",
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": model,
                "choices": [],
                "usage": self._usage(reply),
            }
            self._write_chunk(f"data: {json.dumps(usage)}\n\n")
        self._write_chunk("data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    # -- plumbing ----------------------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        return {k.lower(): v for k, v in self.headers.items()}

    def _key_ok(self) -> bool:
        key = self.server_state.api_key
        return key is None or self.headers.get("Authorization", "") == f"Bearer {key}"

    def _authorized(self) -> bool:
        if self._key_ok():
            return True
        self._send_error(401, "invalid or missing API key")
        return False

    def _write_chunk(self, text: str) -> None:
        data = text.encode()
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _send_json(
        self, status: int, payload: Any, headers: Mapping[str, str] | None = None
    ) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def _send_error(self, status: int, message: str, retry_after_s: float | None = None) -> None:
        headers = {} if retry_after_s is None else {"Retry-After": f"{retry_after_s:g}"}
        body = {"error": {"message": message, "type": "error", "param": None, "code": status}}
        self._send_json(status, body, headers)

    def _drop(self) -> None:
        """Close the TCP connection abruptly, mid-response if one has started."""
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # the peer already went away: the connection is closed either way
