"""The scripted engine behind the stand-in ``LLM``: token pieces, delays, stop words, aborts.

Upstream, ``generate_async`` hands the request to an executor (a worker process by default)
that prefills, then sends one response per generated token back to the client's queue. Here a
thread per request plays the executor: it waits ``Reply.prefill_s`` (vision encode + prefill),
then emits ``Reply.pieces`` one token each, ``Reply.step_s`` apart, and ends with a final
response: ``stop`` when the pieces run out (end id) or the token ids end with a stop word's
ids (``_stop_word_ids``, the runtime's id-level match), ``length`` at ``max_tokens``,
``cancelled`` after ``abort``. A text-level stop string does not stop it (the client trims the
text, as upstream): only ``abort`` does. ``thinking_token_budget`` (main) is matched on token
ids as ``llmapi/thinking_budget.py`` does (``reasoning.forced_token``, over the prompt's and the
generated ids): once it forces the ``</think>`` ids, the reply continues after its own
``</think>``. A guide that must open with a tag (the reasoning parser's adaptation,
``reasoning.adapt_guided_decoding_for_reasoning_parser``) has that opening forced first when
the reply does not start with it.

The tokenizer: with ``Runtime(tokenizer=…)`` (a checkpoint's Hugging Face tokenizer) every
piece is encoded with it and emitted one real token at a time, and the prompt is tokenized with
it too. Without one, the pieces are the vocabulary: each distinct piece gets an id; a stop
string is one token unless ``Runtime.stop_tokens`` splits it.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cosmos_reason_ros.testing.tensorrt_llm_standin.inputs import VideoInput
from cosmos_reason_ros.testing.tensorrt_llm_standin.reasoning import (
    forced_token,
    required_opening,
)

__all__ = ["CallRecord", "Reply", "Response", "Runtime"]

THINK_START = "<think>"
THINK_END = "</think>"


@dataclass(frozen=True)
class Reply:
    """What the engine generates for one request.

    Attributes:
        pieces: The generated text, one token per piece.
        prefill_s: Seconds before the first token (vision encode and prefill).
        step_s: Seconds per token.
        error: When set, the request fails with this message (a ``RequestError`` at the
            client), after ``prefill_s``.
    """

    pieces: tuple[str, ...]
    prefill_s: float = 0.0
    step_s: float = 0.0
    error: str | None = None

    @classmethod
    def of(cls, *pieces: str, prefill_s: float = 0.0, step_s: float = 0.0) -> Reply:
        return cls(tuple(pieces), prefill_s, step_s)


@dataclass(frozen=True)
class Response:
    """One response from the executor to the client."""

    token_ids: list[int]
    final: bool = False
    finish_reason: str | None = None
    stop_reason: int | str | None = None
    error: str | None = None


@dataclass
class CallRecord:
    """One ``generate_async`` call, as the engine saw it.

    Attributes:
        request_id: The request id.
        inputs: The prompt inputs as given.
        sampling_params: The ``SamplingParams`` as given (after ``_setup``).
        prompt_token_ids: The prompt tokens, each video expanded to its visual tokens.
        videos: What the input processor made of each video.
        generated: Tokens the engine generated, including any after the client stopped reading.
        aborted: ``abort`` reached the engine.
        ended: How the engine ended the request: ``stop``, ``length``, ``cancelled``, ``error``.
        text: Everything the engine generated, joined.
        applied_penalties: ``repetition_penalty`` / ``presence_penalty`` as the sampler
            applies them; empty where the release's sampler ignores them (see ``llm.py``).
    """

    request_id: int
    inputs: dict[str, Any]
    sampling_params: Any
    prompt_token_ids: list[int]
    videos: list[VideoInput]
    generated: int = 0
    aborted: bool = False
    ended: str = ""
    text: str = ""
    applied_penalties: dict[str, float] = field(default_factory=dict)

    @property
    def prompt(self) -> str:
        return str(self.inputs.get("prompt", ""))

    @property
    def guide(self) -> tuple[str, str] | None:
        guided = self.sampling_params.guided_decoding
        return None if guided is None else guided.guide()  # type: ignore[no-any-return]


@dataclass
class _Request:
    record: CallRecord
    reply: Reply
    post: Callable[[Response], None]
    thinking_budget: int | None
    error: str | None
    abort: threading.Event = field(default_factory=threading.Event)


class Runtime:
    """The engine every stand-in ``LLM`` of one installation shares. Thread-safe.

    Attributes:
        replies: Replies for the next requests, in order.
        respond: Makes the reply when ``replies`` is empty; None: an empty reply (end at once).
        stop_tokens: How the tokenizer splits a stop string into pieces (no ``tokenizer``).
        tokenizer: A real tokenizer (``encode``/``decode``), or None: the pieces are tokens.
        calls: Every request, in order.
        log: Every API call and engine event, in order, as one line each.
    """

    def __init__(
        self,
        respond: Callable[[CallRecord], Reply] | None = None,
        stop_tokens: dict[str, tuple[str, ...]] | None = None,
        tokenizer: Any = None,
    ) -> None:
        self.replies: collections.deque[Reply] = collections.deque()
        self.respond = respond
        self.stop_tokens = dict(stop_tokens or {})
        self.tokenizer = tokenizer
        self.calls: list[CallRecord] = []
        self.log: list[str] = []
        self._vocab: dict[str, int] = {}
        self._pieces: list[str] = []
        self._lock = threading.Lock()
        self._requests: dict[int, _Request] = {}
        self._threads: list[threading.Thread] = []
        self._last_id = 0

    # -- tokenizer -----------------------------------------------------------------------------
    def token_id(self, piece: str) -> int:
        with self._lock:
            if piece not in self._vocab:
                self._vocab[piece] = len(self._pieces)
                self._pieces.append(piece)
            return self._vocab[piece]

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``: the real tokenizer's, else its ``stop_tokens`` split, else one
        token."""
        if self.tokenizer is not None:
            return list(self.tokenizer.encode(text, add_special_tokens=False))
        return [self.token_id(p) for p in self.stop_tokens.get(text, (text,))]

    def decode(self, ids: list[int]) -> str:
        if self.tokenizer is not None:
            return str(self.tokenizer.decode(ids))
        with self._lock:
            return "".join(self._pieces[i] for i in ids)

    # -- requests ------------------------------------------------------------------------------
    def push(self, *replies: Reply) -> None:
        """Queue replies for the next requests."""
        with self._lock:
            self.replies.extend(replies)

    def new_request_id(self) -> int:
        with self._lock:
            self._last_id += 1
            return self._last_id

    def note(self, line: str) -> None:
        with self._lock:
            self.log.append(line)

    def events(self, prefix: str) -> list[str]:
        with self._lock:
            return [line for line in self.log if line.startswith(prefix)]

    def start(
        self,
        record: CallRecord,
        post: Callable[[Response], None],
        thinking_budget: int | None,
        error: str | None = None,
    ) -> None:
        """Serve ``record`` on a new engine thread, posting responses through ``post``."""
        with self._lock:
            self.calls.append(record)
            reply = self.replies.popleft() if self.replies else None
        if reply is None:
            reply = self.respond(record) if self.respond else Reply(())
        request = _Request(record, reply, post, thinking_budget, error)
        thread = threading.Thread(
            target=self._serve, args=(request,), name=f"standin-request-{record.request_id}"
        )
        with self._lock:
            self._requests[record.request_id] = request
            self._threads.append(thread)
        thread.start()

    def abort(self, request_id: int) -> None:
        self.note(f"abort_request({request_id})")
        with self._lock:
            request = self._requests.get(request_id)
        if request is not None:
            request.record.aborted = True
            request.abort.set()

    def join(self, timeout_s: float = 5.0) -> None:
        """Wait for every engine thread (tests call this before reading ``generated``)."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    # -- the engine thread ---------------------------------------------------------------------
    def _serve(self, request: _Request) -> None:  # noqa: PLR0912 (one engine step, in order)
        record, reply = request.record, request.reply
        if request.error is not None:
            self._end(request, Response([], True, None, error=request.error), "error")
            return
        if not _wait(reply.prefill_s, request.abort):
            self._end(request, Response([], True, "cancelled"), "cancelled")
            return
        if reply.error is not None:
            self._end(request, Response([], True, None, error=reply.error), "error")
            return
        params = record.sampling_params
        stops = [(reason, words) for reason, words in params._get_stop_reasons_and_words()]
        pieces, index = list(reply.pieces), 0
        pending: collections.deque[int] = collections.deque()  # the rest of a piece's tokens
        opening = required_opening(params.guided_decoding)
        if opening and not "".join(pieces).lstrip().startswith(opening):
            pending.extend(self.encode(opening))  # the guide allows nothing else first
        ids: list[int] = []
        forcing = False
        while True:
            budget_token = self._budget_token(request, ids)
            if budget_token is not None:
                token = budget_token
                if not forcing:  # the reply goes on after its own </think>
                    forcing, index = True, _after_think_end(pieces, index)
                    pending.clear()
            elif pending:
                token = pending.popleft()
            elif index < len(pieces):
                piece, index = pieces[index], index + 1
                token, *rest = self._piece_ids(piece)
                pending.extend(rest)  # one token a step
            else:
                waited = _wait(reply.step_s, request.abort)
                end = Response([], True, "stop") if waited else Response([], True, "cancelled")
                self._end(request, end, "stop" if waited else "cancelled")
                return
            if not _wait(reply.step_s, request.abort):
                self._end(request, Response([], True, "cancelled"), "cancelled")
                return
            ids.append(token)
            record.generated += 1
            record.text += self.decode([token])
            for reason, words in stops:
                if words and ids[-len(words) :] == words:
                    self._end(request, Response([token], True, "stop", reason), "stop")
                    return
            if len(ids) >= params.max_tokens:
                self._end(request, Response([token], True, "length"), "length")
                return
            request.post(Response([token]))

    def _piece_ids(self, piece: str) -> list[int]:
        if self.tokenizer is not None:
            return self.encode(piece) or [self.token_id(piece)]
        return [self.token_id(piece)]

    def _budget_token(self, request: _Request, ids: list[int]) -> int | None:
        """The token ``thinking_token_budget`` forces now, or None: upstream's
        ``ThinkingBudgetLogitsProcessor`` on the request's tokens (prompt and generated)."""
        budget = request.thinking_budget
        if budget is None or budget < 0:
            return None
        tokens = request.record.prompt_token_ids + ids
        return forced_token(tokens, budget, self.encode(THINK_START), self.encode(THINK_END))

    def _end(self, request: _Request, response: Response, ended: str) -> None:
        request.record.ended = ended
        self.note(f"request {request.record.request_id} ended: {ended}")
        request.post(response)


def _after_think_end(pieces: list[str], index: int) -> int:
    """Where the reply continues after a forced ``</think>``: after its own, if it has one."""
    text = ""
    for n, piece in enumerate(pieces):
        text += piece
        if THINK_END in text:
            return max(index, n + 1)
    return index


def _wait(seconds: float, abort: threading.Event) -> bool:
    """Sleep ``seconds``; False as soon as ``abort`` is set."""
    if abort.is_set():
        return False
    if seconds > 0:
        return not abort.wait(seconds)
    return True
