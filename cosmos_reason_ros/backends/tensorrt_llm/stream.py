"""Streaming one TensorRT-LLM call: deltas, stop strings, cancellation, deadline, abort.

TensorRT-LLM's ``RequestOutput`` is consumed with ``async for`` on the event loop it was made
on; responses are put on that loop from TensorRT-LLM's own threads, and one that arrives while
the loop is not running is lost with ``EventLoopShutdownError`` (some releases then shut the
LLM down). ``EventLoopThread`` therefore keeps one loop running for the backend's lifetime, so
late responses (after an abort, between phases) always land.

``stream_call`` streams one call:

- Deltas come from the cumulative ``text``, never ``text_diff``: any tail of the text that could
  begin a stop string is held back until it cannot, so a stop string of several tokens (``</``,
  ``think``, ``>``) never reaches ``on_text`` even though TensorRT-LLM's client trims it from
  ``text`` only once it is complete.
- A stop string found in the text ends the call, and the request is aborted: TensorRT-LLM's
  client trims the text but (main) does not stop the runtime, which would otherwise generate
  on to ``max_tokens``.
- Cancellation and the deadline are raced against the next response, so they are seen within
  a poll (10 ms) also while nothing arrives (queueing, vision encoding, prefill). Then the
  request is aborted and its remaining responses are drained, up to ``DRAIN_S``, so the
  runtime has let go of it before the next request.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from cosmos_reason_ros.core.errors import GenerationCancelled
from cosmos_reason_ros.core.generation import GenerationRequest

__all__ = ["DRAIN_S", "CallOutcome", "EventLoopThread", "Run", "held_back", "stream_call"]

T = TypeVar("T")

POLL_S = 0.01
DRAIN_S = 2.0


class EventLoopThread:
    """An asyncio loop running in a daemon thread until ``close``. Thread-safe."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="tensorrt-llm-loop", daemon=True
        )
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the loop and wait for its result (or exception) here."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def close(self) -> None:
        """Stop the loop and its thread. Idempotent."""
        if self._loop.is_closed():
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5.0)
        if not self._thread.is_alive():
            self._loop.close()


class Run:
    """The text and counters of one ``generate`` call, across its TensorRT-LLM calls."""

    def __init__(self, request: GenerationRequest, start: float) -> None:
        self.on_text: Callable[[str, int], None] | None = request.on_text
        self.cancel = request.cancel
        self.start = start
        self.parts: list[str] = []
        self.prompt_tokens = 0
        self.generated = 0  # tokens of the calls finished so far
        self.ttft = 0.0

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def emit(self, delta: str, n_tokens: int | None = None) -> str:
        """Append ``delta`` to the output and stream it; returns it."""
        if delta:
            if not self.parts:
                self.ttft = time.monotonic() - self.start
            self.parts.append(delta)
            if self.on_text is not None:
                self.on_text(delta, self.generated if n_tokens is None else n_tokens)
        return delta

    def cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()


@dataclass(frozen=True)
class CallOutcome:
    """How one call ended.

    Attributes:
        text: The text kept (and streamed): stop strings and any partial one at the end cut.
        tokens: Tokens the call generated.
        end: ``stop_string`` (a stop string was written), ``eos`` (the model ended),
            ``length`` (``max_tokens``) or ``deadline``.
        marker_tokens: Tokens generated when ``marker`` first appeared in the text; None if
            it never did.
        marker_at: ``time.monotonic()`` at that moment; None if never.
    """

    text: str
    tokens: int
    end: str
    marker_tokens: int | None = None
    marker_at: float | None = None


def held_back(text: str, stops: tuple[str, ...]) -> int:
    """Characters at the end of ``text`` that could be the start of a stop string."""
    longest = 0
    for stop in stops:
        for n in range(min(len(stop) - 1, len(text)), longest, -1):
            if text.endswith(stop[:n]):
                longest = n
                break
    return longest


async def stream_call(
    llm: Any,
    inputs: dict[str, Any],
    params: Any,
    run: Run,
    *,
    stops: tuple[str, ...] = (),
    deadline: float | None = None,
    marker: str = "",
) -> CallOutcome:
    """Stream one ``generate_async`` call into ``run``. See the module docstring.

    Args:
        llm: The ``tensorrt_llm.LLM``.
        inputs: The prompt inputs.
        params: The ``SamplingParams``.
        run: Where the text goes.
        stops: Stop strings: the first one written ends the call (and aborts the request).
        deadline: ``time.monotonic()`` at which the call is aborted; None: never.
        marker: The end of the thinking in a one-call answer: until it is written, a tail
            that could begin it is held back and ``deadline`` applies; after it, neither.

    Raises:
        GenerationCancelled: ``run.cancel`` was set (the request is aborted and drained).
        Exception: Whatever TensorRT-LLM raises (the caller translates it).
    """
    output = llm.generate_async(inputs, sampling_params=params, streaming=True)
    steps = output.__aiter__()
    if not run.prompt_tokens:
        run.prompt_tokens = len(output.prompt_token_ids or ())
    text, tokens, emitted, end = "", 0, 0, ""
    marker_tokens: int | None = None
    marker_at: float | None = None
    while True:
        step = asyncio.ensure_future(steps.__anext__())
        thinking = not marker or marker_tokens is None
        why = await _race(step, run, deadline if thinking else None)
        if why != "step":
            output.abort()
            await _drain(step, steps, output)
            if why == "cancel":
                raise GenerationCancelled("generation cancelled by the caller")
            end = "deadline"
            break
        try:
            step.result()
        except StopAsyncIteration:
            break
        completion = output.outputs[0]
        text, tokens = str(completion.text), len(completion.token_ids)
        if marker and marker_tokens is None and marker in text:
            marker_tokens, marker_at = tokens, time.monotonic()
        cut = min((text.find(s) for s in stops if s in text), default=-1)
        if cut >= 0:  # a stop string: TensorRT-LLM may not have trimmed or stopped yet
            text, end = text[:cut], "stop_string"
            break
        held = (*stops, marker) if marker and marker_tokens is None else stops
        safe = len(text) - held_back(text, held)
        if safe > emitted:
            run.emit(text[emitted:safe], run.generated + tokens)
            emitted = safe
    if not end:
        reason = output.outputs[0].finish_reason
        stopped = output.outputs[0].stop_reason in stops
        end = "stop_string" if stopped else ("length" if reason == "length" else "eos")
    if end == "stop_string":
        if not _aborted(output):
            output.abort()  # main's client ends the iteration without stopping the runtime
        run.emit(text[emitted:], run.generated + tokens)
        emitted = len(text)
    elif not stops and (not marker or marker_tokens is not None):
        run.emit(text[emitted:], run.generated + tokens)
        emitted = len(text)
    run.generated += tokens
    return CallOutcome(text[:emitted], tokens, end, marker_tokens, marker_at)


async def _race(step: asyncio.Future[Any], run: Run, deadline: float | None) -> str:
    """``step`` (the next response), ``cancel`` or ``deadline``: whichever comes first."""
    while True:
        if run.cancelled():
            return "cancel"
        now = time.monotonic()
        if deadline is not None and now >= deadline:
            return "deadline"
        wait = POLL_S if deadline is None else max(0.0, min(POLL_S, deadline - now))
        done, _ = await asyncio.wait({step}, timeout=wait)
        if done:
            return "step"


async def _drain(step: asyncio.Future[Any], steps: Any, output: Any) -> None:
    """Read responses after ``abort()`` until the final one (``cancelled``), up to DRAIN_S."""
    give_up = time.monotonic() + DRAIN_S
    while True:
        done, _ = await asyncio.wait({step}, timeout=max(0.0, give_up - time.monotonic()))
        if not done:
            step.cancel()
            return
        if step.exception() is not None or output.finished:
            return  # StopAsyncIteration, or an error after the abort: either way it is over
        step = asyncio.ensure_future(steps.__anext__())


def _aborted(output: Any) -> bool:
    aborted = getattr(output, "aborted", None)
    return bool(aborted()) if callable(aborted) else False
