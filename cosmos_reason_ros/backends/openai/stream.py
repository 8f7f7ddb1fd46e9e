"""Reading the openai backend's streams: chunks off the socket on a reader thread (so a
deadline or a cancel is noticed while the server is silent), and the text they carry laid out
as generated text, with the thinking watched for its end.

``Transcript`` is everything passed to ``on_text``; the result's ``text`` is its join. Thinking
a server split off with a reasoning parser (``reasoning_content``, or ``reasoning`` in newer
vLLM) is laid out between ``<think>`` markers, so the text reads as the model wrote it.
``ThinkingWatch`` reads the thinking phase: it finds the end of the thinking (``think_end`` in
the content, or the first content after split-off reasoning) and counts thinking tokens (one per
streamed chunk, as vLLM and trtllm-serve stream them). ``AnswerReader`` reads an answer, trimming
the whitespace around a schema-constrained JSON answer so that ``answer_json`` is exact.
"""

from __future__ import annotations

import contextlib
import json
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from cosmos_reason_ros.core.generation import (
    AnswerFormat,
    GenerationRequest,
    GenerationResult,
    TextCallback,
)

__all__ = [
    "END",
    "WAITING",
    "AnswerReader",
    "ChunkReader",
    "GenerationRun",
    "ThinkingWatch",
    "Transcript",
]

END = object()
"""``ChunkReader.next``: the stream ended."""
WAITING = object()
"""``ChunkReader.next``: nothing arrived within the wait."""


class ChunkReader:
    """Opens a stream and reads its chunks on a daemon thread into a queue.

    ``open_stream`` and ``next_chunk`` run on the reader thread; their exceptions are handed to
    the caller by ``next``. ``close`` closes the stream; a read blocked on a silent server ends
    at the latest at the client's read timeout, and the thread with it.
    """

    def __init__(self, open_stream: Callable[[], Any], next_chunk: Callable[[Any], Any]) -> None:
        self._queue: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._stream: Any = None
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(
            target=self._run, args=(open_stream, next_chunk), daemon=True, name="openai-stream"
        )
        self._thread.start()

    def next(self, timeout_s: float) -> Any:
        """The next chunk, ``END``, or ``WAITING`` after ``timeout_s``; raises what the
        reader raised."""
        try:
            kind, value = self._queue.get(timeout=max(0.0, timeout_s))
        except queue.Empty:
            return WAITING
        if kind == "error":
            raise value
        return END if kind == "end" else value

    def close(self) -> None:
        """Stop reading and close the stream (idempotent)."""
        self._closed.set()
        with self._lock:
            stream, self._stream = self._stream, None
        if stream is not None:
            _close_quietly(stream)

    def _run(self, open_stream: Callable[[], Any], next_chunk: Callable[[Any], Any]) -> None:
        try:
            stream = open_stream()
            with self._lock:
                if self._closed.is_set():
                    _close_quietly(stream)
                    return
                self._stream = stream
            iterator = iter(stream)
            while not self._closed.is_set():
                chunk = next_chunk(iterator)
                if chunk is None:
                    self._queue.put(("end", None))
                    return
                self._queue.put(("chunk", chunk))
        except BaseException as exc:  # handed to the caller, who decides
            if not self._closed.is_set():
                self._queue.put(("error", exc))


def _close_quietly(stream: Any) -> None:
    with contextlib.suppress(Exception):  # a broken connection may fail to close: it is closed
        stream.close()


class Transcript:
    """The generated text as passed to ``on_text``: ``text`` is the join of every delta."""

    def __init__(self, on_text: TextCallback | None, start: float) -> None:
        self._on_text = on_text
        self._start = start
        self._parts: list[str] = []
        self.tokens = 0
        self.first_s = 0.0

    @property
    def text(self) -> str:
        return "".join(self._parts)

    @property
    def emitted(self) -> bool:
        return bool(self._parts)

    def count(self, n: int = 1) -> None:
        """Count ``n`` streamed tokens (reported with the next delta)."""
        self.tokens += n

    def emit(self, delta: str) -> None:
        if not delta:
            return
        if not self._parts:
            self.first_s = time.monotonic() - self._start
        self._parts.append(delta)
        if self._on_text is not None:
            self._on_text(delta, self.tokens)


def _reasoning(delta: Any) -> str:
    text = getattr(delta, "reasoning_content", None) or getattr(delta, "reasoning", None)
    return str(text or "")


class _Usage:
    """The last usage a stream reported, and whether it finished."""

    def __init__(self) -> None:
        self.usage: Any = None
        self.finished = False
        self.chunks = 0

    def note(self, chunk: Any) -> list[Any]:
        if getattr(chunk, "usage", None) is not None:
            self.usage = chunk.usage
        choices = list(chunk.choices or ())
        if any(c.finish_reason is not None for c in choices):
            self.finished = True
        return choices

    @property
    def completion_tokens(self) -> int:
        return int(getattr(self.usage, "completion_tokens", 0) or self.chunks)

    @property
    def prompt_tokens(self) -> int:
        return int(getattr(self.usage, "prompt_tokens", 0) or 0)


class ThinkingWatch:
    """Reads the thinking phase of a stream into ``out``; see the module docstring.

    Args:
        fmt: The answer layout (``think_end``, ``answer_prefix``, the thinking budget).
        out: Where text goes.
        stop_at_end: Stop when the model ends its thinking (the answer is asked for in a second,
            constrained request); False: the stream goes on with the answer, read by ``answer``.
        answer: Reads the answer when the stream goes on after the thinking.
    """

    def __init__(
        self,
        fmt: AnswerFormat,
        out: Transcript,
        stop_at_end: bool,
        answer: AnswerReader,
    ) -> None:
        self.fmt = fmt
        self._out = out
        self._stop_at_end = stop_at_end
        self._answer = answer
        self._think_start = fmt.think_end.replace("</", "<", 1)
        self._raw = ""  # content while thinking (no reasoning parser)
        self._shown = 0  # of _raw, the characters emitted
        self._marker_shown = False  # the model's own think_end was emitted
        self._forced = False
        self.reasoning = ""  # thinking split off by a reasoning parser
        self.tokens = 0
        self.ended_by = ""
        self.ended_at = 0.0
        self.stream = _Usage()

    @property
    def stopped(self) -> bool:
        """The thinking ended and this stream is not needed any more: the answer must be asked
        for (``prefix_rest`` completes the emitted text into its start)."""
        if not self.ended_by:
            return False
        return self._stop_at_end or self._forced or self.ended_by != "model"

    def feed(self, chunk: Any) -> None:
        """Take one chunk (call until ``stopped`` or the stream ends)."""
        for choice in self.stream.note(chunk):
            delta = choice.delta
            reasoning, content = _reasoning(delta), delta.content or ""
            if reasoning or content:
                self.stream.chunks += 1
            if self.ended_by:
                self._answer.feed(reasoning + content)
                continue
            if reasoning:
                self._think(reasoning, split=True)
            if content and not self.ended_by:
                if self.reasoning:  # the parser saw the end of the thinking
                    self.end("model")
                    if not self._stop_at_end:
                        self._out.emit(self.prefix_rest(self._answer.wrapped))
                        self._answer.feed(content)
                else:
                    self._think(content, split=False)
            if self.stopped:
                return

    def end(self, cause: str, stop: bool = False) -> None:
        """End the thinking now: ``model``, ``tokens`` or ``deadline`` (``stop``: the answer
        must be asked for even though the model ended it, e.g. its stream stopped)."""
        if not self.ended_by:
            self.ended_by = cause
            self.ended_at = time.monotonic()
            self._forced = stop

    def check_budget(self) -> None:
        if not self.ended_by and self.tokens >= self.fmt.max_thinking_tokens:
            self.end("tokens")

    @property
    def thinking(self) -> str:
        """The thinking as generated, without its markers."""
        if self.reasoning:
            return self.reasoning
        body = self._raw[: self._shown]
        if self._marker_shown:
            body = body[: body.rfind(self.fmt.think_end)]
        at = body.find(self._think_start)
        if at >= 0 and not body[:at].strip():
            body = body[at + len(self._think_start) :]
        return body

    def prefix_rest(self, full: bool = True) -> str:
        """What completes the emitted thinking into the answer's start: the rest of
        ``answer_prefix`` (``full``) or of ``think_end`` (an unconstrained answer follows)."""
        target = self.fmt.answer_prefix if full else self.fmt.think_end
        if self.reasoning:
            return ("" if self.reasoning.endswith("\n") else "\n") + target
        if self._marker_shown:
            return target[len(self.fmt.think_end) :]
        return target

    def _think(self, text: str, split: bool) -> None:
        self.tokens += 1
        self._out.count()
        if split:
            if not self.reasoning:
                self._out.emit(self._think_start + "\n")
            self.reasoning += text
            self._out.emit(text)
            self.check_budget()
            return
        self._raw += text
        marker = self.fmt.think_end
        at = self._raw.find(marker, max(0, self._shown - len(marker)))
        if at >= 0:
            end = at + len(marker)
            self._out.emit(self._raw[self._shown : end])
            self._shown = end
            self._marker_shown = True
            rest, self._raw = self._raw[end:], self._raw[:end]
            self.end("model")
            if not self._stop_at_end:
                if self._answer.lead:  # the layout the guide makes the server write next
                    self._out.emit(self.prefix_rest())
                self._answer.feed(rest, count=False)
            return
        hold = next(
            (k for k in range(len(marker) - 1, 0, -1) if self._raw.endswith(marker[:k])), 0
        )
        self._out.emit(self._raw[self._shown : len(self._raw) - hold])
        self._shown = len(self._raw) - hold
        self.check_budget()


class AnswerReader:
    """Reads answer text into ``out``. With ``wrapped`` (a schema-constrained JSON answer) the
    whitespace around the JSON is left out, so ``json`` is exactly the JSON text emitted, and
    any split-off reasoning counts as answer text; without, split-off reasoning is laid out
    between ``<think>`` markers before the answer.

    ``lead`` and ``tail`` (wrapped only) are layout a structural tag makes the server write
    around the JSON (``\n\n<answer>\n`` … ``\n</answer>``): they are not part of ``json`` and
    not emitted (the caller emits the profile's layout itself). The lead is matched after any
    whitespace; text that does not start with it is all answer. The tail ends the answer only
    where the JSON before it is complete (a string may hold ``</answer>``); text after it is
    dropped.
    """

    def __init__(self, out: Transcript, wrapped: bool, lead: str = "", tail: str = "") -> None:
        self._out = out
        self.wrapped = wrapped
        self.lead = lead if wrapped else ""
        self._lead = self.lead.strip()
        self._deciding = bool(self._lead)  # whether the text opens with the lead is not known
        self._tail = tail.strip() if wrapped else ""
        self._tail_seen = False
        self._held = ""
        self._reasoning = ""
        self._think_open = False
        self.json = ""
        self.stream = _Usage()

    def reset(self) -> None:
        """Forget a failed attempt's stream (nothing of it was emitted)."""
        self.stream = _Usage()

    def feed(self, text: str, count: bool = True) -> None:
        """Take answer text (``count``: it came in a chunk of its own)."""
        if not text:
            return
        if count:
            self._out.count()
        if not self.wrapped:
            self._out.emit(text)
            return
        if self._tail_seen:
            return
        text, self._held = self._held + text, ""
        if self._deciding:
            start = text.lstrip()
            if len(start) < len(self._lead) and self._lead.startswith(start):
                self._held = text  # may still be the lead
                return
            self._deciding = False
            if start.startswith(self._lead):
                text = start[len(self._lead) :]
        if not self.json:
            text = text.lstrip()
        at = self._tail_at(text)
        if at is not None:
            body = text[:at].rstrip()
            self._tail_seen = True
        else:
            body = text.rstrip()
            if self._tail:  # hold back what may be the start of the tail
                hold = next(
                    (
                        k
                        for k in range(len(self._tail) - 1, 0, -1)
                        if body.endswith(self._tail[:k])
                    ),
                    0,
                )
                body = body[: len(body) - hold].rstrip()
            self._held = text[len(body) :]
        self.json += body
        self._out.emit(body)

    def _tail_at(self, text: str) -> int | None:
        """Where in ``text`` the tail starts, the JSON before it complete; None: nowhere."""
        if not self._tail:
            return None
        at = text.find(self._tail)
        while at >= 0:
            try:
                json.loads(self.json + text[:at])
            except ValueError:
                at = text.find(self._tail, at + 1)
            else:
                return at
        return None

    def feed_chunk(self, chunk: Any) -> None:
        """Take one chunk of a stream that carries only the answer."""
        for choice in self.stream.note(chunk):
            reasoning, content = _reasoning(choice.delta), choice.delta.content or ""
            if reasoning or content:
                self.stream.chunks += 1
            if self.wrapped:
                self.feed(reasoning + content)
                continue
            if reasoning:
                if not self._reasoning:
                    self._out.emit("<think>\n")
                    self._think_open = True
                self._reasoning += reasoning
                self.feed(reasoning)
            if content and self._think_open:
                self._think_open = False
                self._out.emit(("" if self._reasoning.endswith("\n") else "\n") + "</think>")
            self.feed(content, count=not reasoning)


class GenerationRun:
    """One ``generate`` call's bookkeeping, across its one or two requests."""

    def __init__(self, request: GenerationRequest, start: float) -> None:
        self.request = request
        self.out = Transcript(request.on_text, start)
        self.start = start
        self.sent = 0.0  # when the first request went out: "generation starts"
        self.preprocess_s = 0.0
        self.thinking_s = 0.0
        self.ended_by = ""
        self.prompt_tokens = 0
        self.generated = 0

    def result(
        self, thinking: str | None = None, answer_json: str | None = None
    ) -> GenerationResult:
        total_s = time.monotonic() - self.start
        return GenerationResult(
            text=self.out.text,
            prompt_tokens=self.prompt_tokens,
            generated_tokens=self.generated,
            time_to_first_token_s=self.out.first_s if self.out.emitted else total_s,
            total_s=total_s,
            preprocess_s=self.preprocess_s,
            thinking=thinking,
            answer_json=answer_json,
            thinking_ended_by=self.ended_by,
            thinking_s=self.thinking_s,
        )
