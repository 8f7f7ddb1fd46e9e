"""``RequestOutput`` / ``CompletionOutput``: what ``generate_async`` returns, and its stream.

Mirrors ``tensorrt_llm/executor/result.py`` (≈ 1.1/1.2 and main):

- ``CompletionOutput`` (``@dataclass(slots=True)``): cumulative ``text`` and ``token_ids``;
  ``text_diff`` / ``token_ids_diff`` are what the last response added.
- ``RequestOutput`` cannot be built directly (``RuntimeError``). It picks its queue when it is
  made: an asyncio queue if a loop is running then, else a plain one, and async iteration
  without the former fails with upstream's assertion. ``__anext__`` returns the same object,
  updated; a final response sets ``finished``; an error response raises ``RequestError``.
- Responses are put on the loop from the engine thread; one that arrives while that loop is
  not running is lost with upstream's ``EventLoopShutdownError`` (logged in ``Runtime.log``).
- ``abort()`` tells the engine, which sends one last ``cancelled`` response later.
- Stop strings, as the client does it after detokenizing (PR 5948): a stop string found in the
  text trims the text there, sets ``finish_reason='stop'`` and ends the iteration; 1.1/1.2 also
  call ``abort()``, main does not, so there the engine keeps generating. When the engine itself
  stopped on a stop word's ids, its ids are trimmed from ``token_ids``.
"""

from __future__ import annotations

import asyncio
import queue
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cosmos_reason_ros.testing.tensorrt_llm_standin.releases import Release
from cosmos_reason_ros.testing.tensorrt_llm_standin.runtime import Response, Runtime

__all__ = ["CompletionOutput", "RequestError", "RequestOutput"]

_NO_LOOP = (
    "The asyncio event loop was not present during initialization, so async operations are "
    "not available."
)


class RequestError(RuntimeError):
    """The error raised when the request is failed."""


@dataclass(slots=True)
class CompletionOutput:
    """One sequence of a request's output (upstream field names and defaults)."""

    index: int
    text: str = ""
    token_ids: list[int] = field(default_factory=list)
    cumulative_logprob: float | None = None
    logprobs: list[Any] = field(default_factory=list)
    prompt_logprobs: list[Any] = field(default_factory=list)
    finish_reason: str | None = None
    stop_reason: int | str | None = None
    _last_text_len: int = field(default=0, init=False, repr=False)
    _last_token_ids_len: int = field(default=0, init=False, repr=False)

    @property
    def length(self) -> int:
        return len(self.token_ids)

    @property
    def text_diff(self) -> str:
        return self.text[self._last_text_len :]

    @property
    def token_ids_diff(self) -> list[int]:
        return self.token_ids[self._last_token_ids_len :]


class RequestOutput:
    """The output of one request; async-iterate it to stream (see the module docstring)."""

    _request_id: int
    _prompt: str | None
    _prompt_token_ids: list[int]
    _outputs: list[CompletionOutput]
    _sampling_params: Any
    _runtime: Runtime
    _release: Release
    _decode: Callable[[list[int]], str]
    _done: bool
    _aborted: bool
    _loop: asyncio.AbstractEventLoop | None
    _aqueue: asyncio.Queue[Response] | None
    _queue: queue.Queue[Response] | None

    def __init__(self) -> None:
        name = self.__class__.__name__
        raise RuntimeError(
            f"{name} is designed to be instantiated using {name}._from_generation_result by "
            f"GenerationExecutor. Users are not expected to create {name} directly."
        )

    @classmethod
    def _create(  # noqa: PLR0917 (upstream's signature)
        cls,
        request_id: int,
        prompt: str | None,
        prompt_token_ids: list[int],
        sampling_params: Any,
        runtime: Runtime,
        release: Release,
    ) -> RequestOutput:
        self = cls.__new__(cls)
        self._request_id = request_id
        self._prompt = prompt
        self._prompt_token_ids = prompt_token_ids
        self._outputs = [CompletionOutput(index=0)]
        self._sampling_params = sampling_params
        self._runtime = runtime
        self._release = release
        self._decode = runtime.decode
        self._done = False
        self._aborted = False
        try:
            self._loop = asyncio.get_running_loop()
        except RuntimeError:
            self._loop = None
        self._aqueue = asyncio.Queue() if self._loop is not None else None
        self._queue = None if self._loop is not None else queue.Queue()
        return self

    # -- what the engine calls (from its thread) -----------------------------------------------
    def _post(self, response: Response) -> None:
        if self._queue is not None:
            self._queue.put(response)
            return
        loop, aqueue = self._loop, self._aqueue
        assert loop is not None and aqueue is not None
        try:
            if not loop.is_running():
                raise RuntimeError("loop not running")
            loop.call_soon_threadsafe(aqueue.put_nowait, response)
        except RuntimeError:
            self._runtime.note(
                f"request {self._request_id}: EventLoopShutdownError (a response reached an "
                "event loop that is not running)"
            )

    # -- public API ----------------------------------------------------------------------------
    @property
    def request_id(self) -> int:
        return self._request_id

    @property
    def prompt(self) -> str | None:
        return self._prompt

    @property
    def prompt_token_ids(self) -> list[int]:
        return self._prompt_token_ids

    @property
    def outputs(self) -> list[CompletionOutput]:
        return self._outputs

    @property
    def finished(self) -> bool:
        return self._done

    def abort(self) -> None:
        self._runtime.note(f"RequestOutput.abort() request {self._request_id}")
        self._runtime.abort(self._request_id)
        self._aborted = True

    def aborted(self) -> bool:
        return self._aborted

    def __aiter__(self) -> RequestOutput:
        return self

    async def __anext__(self) -> RequestOutput:
        if self._done:
            raise StopAsyncIteration
        assert self._aqueue is not None, _NO_LOOP
        self._handle_response(await self._aqueue.get())
        return self

    async def aresult(self) -> RequestOutput:
        while not self._done:
            await self.__anext__()
        return self

    def result(self, timeout: float | None = None) -> RequestOutput:
        """Block until finished (only for outputs made without a running loop, here)."""
        if self._queue is None:
            raise NotImplementedError("stand-in: iterate asynchronously on the creating loop")
        while not self._done:
            self._handle_response(self._queue.get(timeout=timeout))
        return self

    # -- the client side of a response ---------------------------------------------------------
    def _handle_response(self, response: Response) -> None:
        if response.error is not None:
            self._done = True
            raise RequestError(response.error)
        out = self._outputs[0]
        params = self._sampling_params
        out._last_text_len = len(out.text)
        out._last_token_ids_len = len(out.token_ids)
        out.token_ids.extend(response.token_ids)
        if response.final:
            self._done = True
            out.finish_reason = response.finish_reason
            if response.stop_reason is not None:
                out.stop_reason = response.stop_reason
                words: list[int] = dict(params._get_stop_reasons_and_words()).get(
                    response.stop_reason, []
                )
                trim = bool(words) and out.token_ids[-len(words) :] == words
                if trim and not params.include_stop_str_in_output:
                    del out.token_ids[-len(words) :]
        out.text = self._decode(out.token_ids)
        if not self._done or out.finish_reason in ("stop", "length"):
            self._check_stop_strings(out, params)

    def _check_stop_strings(self, out: CompletionOutput, params: Any) -> None:
        for stop_reason, _ in params._get_stop_reasons_and_words():
            if isinstance(stop_reason, str) and stop_reason in out.text:
                stop_pos = out.text.find(stop_reason)
                if not params.include_stop_str_in_output:
                    out.text = out.text[:stop_pos]
                else:
                    out.text = out.text[: stop_pos + len(stop_reason)]
                out.finish_reason = "stop"
                out.stop_reason = stop_reason
                if self._release.client_stop_aborts:
                    self.abort()
                self._done = True
                break
