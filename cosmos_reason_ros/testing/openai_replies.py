"""What the loopback chat-completions server (``openai_server``) answers, and what it records:
scripted ``Reply`` objects and ``RecordedRequest`` objects."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = [
    "VALID_ANSWER",
    "LoadedVideo",
    "RecordedRequest",
    "Reply",
    "reason1_text",
    "reason2_text",
]

VALID_ANSWER = {
    "action": "slow_down",
    "target": "ball",
    "parameters": {"speed_mps": "0.2"},
    "confidence": 0.8,
    "reason": "A ball rolls toward the robot.",
}
"""A next action the node's default action schema admits, its properties in the schema's order
(a guided decoder, xgrammar's, writes them in that order)."""


def reason1_text(answer: Mapping[str, Any], thinking: str = "ok") -> str:
    """A Cosmos-Reason1 style output whose answer is ``answer`` as JSON.

    ``<think>\\n{thinking}\\n</think>\\n\\n<answer>\\n{json}\\n</answer>``
    """
    return f"<think>\n{thinking}\n</think>\n\n<answer>\n{json.dumps(answer)}\n</answer>"


def reason2_text(answer: Mapping[str, Any], thinking: str = "ok") -> str:
    """A Cosmos-Reason2 style output: thinking, ``</think>``, then the JSON answer."""
    return f"<think>\n{thinking}\n</think>\n\n{json.dumps(answer)}"


@dataclass(frozen=True)
class Reply:
    """What the server does with one chat-completions request.

    Build replies with the class methods (``answer``, ``error``, ``stall``, ``drop``).

    Attributes:
        text: The answer text (``message.content``), streamed in ``chunks`` pieces.
        constrained_text: What the content is instead when the request carries a
            ``response_format`` (as a server constraining the answer to the schema would send:
            the JSON alone); None: ``text`` regardless.
        reasoning: Text sent before the answer in ``reasoning_key`` deltas, as vLLM does when
            it runs a reasoning parser, in ``reasoning_chunks`` pieces.
        chunks: How many content pieces a streamed answer is split into (one "token" each).
        reasoning_chunks: How many pieces the reasoning is split into.
        reasoning_key: ``reasoning_content`` (vLLM <= 0.10) or ``reasoning`` (newer vLLM).
        chunk_delay_s: Pause before each streamed piece (reasoning and content).
        status: HTTP status; other than 200 answers an OpenAI-style error body.
        error_message: The error message of a non-200 reply.
        retry_after_s: Sent as the ``Retry-After`` header when set.
        stall_s: Pause before the response starts (or, with ``stall_after_chunks``, mid-stream).
        stall_after_chunks: Stream this many pieces (reasoning first), then stall ``stall_s``.
        drop_after_chunks: Close the connection without finishing: before any response when
            0, else after this many streamed pieces (reasoning first).
        prompt_tokens: Reported in ``usage``.
        send_usage: Whether to report ``usage`` at all.
    """

    text: str = "ok"
    constrained_text: str | None = None
    reasoning: str = ""
    chunks: int = 4
    reasoning_chunks: int = 1
    reasoning_key: str = "reasoning_content"
    chunk_delay_s: float = 0.0
    status: int = 200
    error_message: str = ""
    retry_after_s: float | None = None
    stall_s: float = 0.0
    stall_after_chunks: int | None = None
    drop_after_chunks: int | None = None
    prompt_tokens: int = 100
    send_usage: bool = True

    @classmethod
    def answer(cls, text: str, chunks: int = 4, **kwargs: Any) -> Reply:
        """A successful answer with ``text``."""
        return cls(text=text, chunks=chunks, **kwargs)

    @classmethod
    def decision(cls, answer: Mapping[str, Any], thinking: str = "ok", **kwargs: Any) -> Reply:
        """A successful Cosmos-Reason1 style answer whose JSON is ``answer`` (a valid decision
        when ``answer`` matches the node's action schema); asked with a ``response_format``
        (the constrained answer after the thinking), the JSON alone."""
        return cls(
            text=reason1_text(answer, thinking), constrained_text=json.dumps(answer), **kwargs
        )

    def for_request(self, body: Mapping[str, Any]) -> Reply:
        """The reply as sent for ``body``: ``constrained_text`` when it asks for a schema."""
        if self.constrained_text is None or "response_format" not in body:
            return self
        return replace(self, text=self.constrained_text, constrained_text=None)

    @classmethod
    def error(cls, status: int, message: str = "", retry_after_s: float | None = None) -> Reply:
        """An HTTP error reply (e.g. 400, 429, 500)."""
        return cls(
            status=status,
            error_message=message or f"simulated error {status}",
            retry_after_s=retry_after_s,
        )

    @classmethod
    def stall(cls, seconds: float, after_chunks: int | None = None, text: str = "ok") -> Reply:
        """Say nothing for ``seconds`` (before the response, or after ``after_chunks`` pieces)."""
        return cls(text=text, stall_s=seconds, stall_after_chunks=after_chunks)

    @classmethod
    def drop(cls, after_chunks: int = 0, text: str = "ok") -> Reply:
        """Close the connection without a complete response."""
        return cls(text=text, drop_after_chunks=after_chunks)

    def pieces(self) -> list[str]:
        """``text`` split into ``chunks`` non-empty pieces (fewer when the text is short)."""
        return _split(self.text, self.chunks) or [""]

    def stream_pieces(self) -> list[tuple[str, str]]:
        """What a streamed reply sends, in order: (delta key, text) for the reasoning pieces,
        then the content pieces."""
        key = self.reasoning_key
        reasoning = [(key, p) for p in _split(self.reasoning, self.reasoning_chunks)]
        return reasoning + [("content", p) for p in self.pieces()]


def _split(text: str, n: int) -> list[str]:
    """``text`` in at most ``n`` non-empty pieces of near-equal length ([] for "")."""
    n = max(1, min(n, len(text)))
    size = -(-len(text) // n) if text else 1
    return [text[i : i + size] for i in range(0, len(text), size)]


@dataclass(frozen=True)
class LoadedVideo:
    """A video as a server engine (``trtllm_serve``) loaded it.

    Attributes:
        frames: How many frames it kept.
        height: The frames' height in pixels, as decoded.
        width: The frames' width in pixels, as decoded.
        fps: The video's own frame rate (``CAP_PROP_FPS``).
    """

    frames: int
    height: int
    width: int
    fps: float


@dataclass(frozen=True)
class RecordedRequest:
    """One HTTP request the server received.

    Attributes:
        method: ``GET`` or ``POST``.
        path: The request path, e.g. ``/v1/chat/completions``.
        headers: Header names in lower case.
        body: The parsed JSON body, or None.
        rendered: With an engine (``ChatCompletionsServer(engine=...)``) that accepted the chat
            request: (role, content) per message as it rendered them; else empty.
        videos: Likewise, each video as the engine loaded it.
        images: Likewise, how many images the engine loaded.
    """

    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    rendered: tuple[tuple[str, str], ...] = ()
    videos: tuple[LoadedVideo, ...] = ()
    images: int = 0

    @property
    def authorization(self) -> str:
        """The ``Authorization`` header, "" if absent."""
        return self.headers.get("authorization", "")

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The chat messages of a chat-completions request."""
        if isinstance(self.body, dict):
            return list(self.body.get("messages", []))
        return []

    @property
    def prefill(self) -> str | None:
        """The assistant turn the request asks the model to continue, if any."""
        messages = self.messages
        if messages and messages[-1].get("role") == "assistant":
            return str(messages[-1].get("content", ""))
        return None

    def content_parts(self, role: str = "user") -> list[dict[str, Any]]:
        """All content parts of the messages with ``role``, in order (text content as a part)."""
        parts: list[dict[str, Any]] = []
        for m in self.messages:
            if m.get("role") != role:
                continue
            content = m.get("content")
            if isinstance(content, str):
                parts.append({"type": "text", "text": content})
            elif isinstance(content, list):
                parts.extend(content)
        return parts
