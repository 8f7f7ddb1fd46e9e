"""Constrained decoding of an ``AnswerFormat`` for transformers' ``generate``.

``AnswerConstraint`` is a ``LogitsProcessor`` (batch size 1) that lets the model think freely,
then forces the answer layout, and cannot leak:

1. Thinking: free, except that no stop or end-of-turn token (nor any other special token) may
   end the turn. It ends at whichever comes first: the model writes ``think_end`` ("model"),
   ``max_thinking_tokens`` tokens ("tokens"), ``max_thinking_s`` seconds after generation
   started ("deadline"), or the point past which the answer would no longer fit in
   ``max_new_tokens`` ("tokens").
2. The rest of ``answer_prefix`` is forced, completing a half-written marker, never repeating it.
3. The JSON answer is masked by an xgrammar ``GrammarMatcher`` compiled from the schema, and
   every stop, special and added token stays forbidden until the grammar terminates. When the
   tokens left are about to be too few to close the object, the constraint steers: it picks, of
   the tokens the grammar allows, the one that closes the current string or object soonest, so
   the shortest valid completion is always within the budget.
4. ``answer_suffix`` and the end-of-turn token are forced.

After ``generate`` the processor knows the exact spans (``spans``): the thinking as generated
and the JSON text as generated, which the Reasoner parses without searching the text.

Put it *before* temperature / top-p warpers: masking after top-p can leave no token to sample.
A processor serves one ``generate`` call; create a new one per generation. Compiled grammars and
token tables are cached per tokenizer and are safe to share between threads.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import xgrammar as xgr
from transformers import LogitsProcessor

from cosmos_reason_ros.backends.grammar import (
    END_OF_TURN,
    TokenTable,
    compile_answer_grammar,
    token_table,
)
from cosmos_reason_ros.core.action_space import shortest_answer_bytes
from cosmos_reason_ros.core.errors import BackendError
from cosmos_reason_ros.core.generation import AnswerFormat

_LOG = logging.getLogger(__name__)

__all__ = ["END_OF_TURN", "AnswerConstraint", "AnswerSpans", "compile_answer_grammar"]

THINKING, PREFIX, JSON_ANSWER, SUFFIX, DONE = "thinking", "prefix", "json", "suffix", "done"


@dataclass(frozen=True)
class AnswerSpans:
    """What one constrained generation produced, exactly.

    Attributes:
        thinking: The thinking as generated, without the markers ("" when there was none).
        answer_json: The JSON answer as generated; None when the grammar never terminated
            (generation was cut short, e.g. cancelled).
        thinking_ended_by: ``model``, ``tokens`` or ``deadline``; "" if thinking never ended.
        thinking_s: Seconds from the start of generation to the end of thinking.
        thinking_tokens: Tokens generated before the answer prefix.
    """

    thinking: str
    answer_json: str | None
    thinking_ended_by: str
    thinking_s: float
    thinking_tokens: int


class AnswerConstraint(LogitsProcessor):
    """Forces ``answer_format`` on one generation. See the module docstring.

    Not thread-safe; ``generate`` calls it once per step from one thread.

    Attributes:
        phase: ``thinking``, ``prefix``, ``json``, ``suffix`` or ``done``.
    """

    def __init__(
        self,
        tokenizer: Any,
        answer_format: AnswerFormat,
        vocab_size: int,
        *,
        max_new_tokens: int,
        stop_ids: Iterable[int] = (),
        started_at: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Compile the grammar (cached) and prepare the forced pieces.

        Args:
            tokenizer: The Hugging Face tokenizer the model generates with.
            answer_format: The layout to force.
            vocab_size: The model's vocabulary size (logits width).
            max_new_tokens: The generation's token budget: the answer is fitted inside it.
            stop_ids: Further tokens that end generation (the model's generation config).
            started_at: ``clock()`` when generation started (the deadline counts from it);
                None: the first call.
            clock: Monotonic seconds (tests may pass their own).

        Raises:
            BackendError: The schema cannot be compiled, there is no end-of-turn token, or
                ``answer_prefix`` does not start with ``think_end``.
        """
        if not answer_format.answer_prefix.startswith(answer_format.think_end):
            raise BackendError(
                f"answer_prefix {answer_format.answer_prefix!r} must start with think_end "
                f"{answer_format.think_end!r}"
            )
        self._tokenizer = tokenizer
        self._format = answer_format
        self._vocab_size = vocab_size
        self._table: TokenTable = token_table(tokenizer, vocab_size)
        self._grammar = compile_answer_grammar(tokenizer, answer_format.json_schema, vocab_size)
        self._eos = self._table.end_of_turn
        self._thinking_forbidden = sorted(self._table.special | set(stop_ids) | {self._eos})
        self._json_forbidden = sorted(
            self._table.special | self._table.added | set(stop_ids) | {self._eos}
        )
        self._suffix = self._encode(answer_format.answer_suffix)
        reserve = shortest_answer_bytes(answer_format.json_schema) + len(self._suffix) + 1
        self._json_reserve = reserve
        self._max_new_tokens = max_new_tokens
        # Thinking stops early enough for the prefix and the answer to fit.
        prefix_tokens = len(self._encode(answer_format.answer_prefix))
        self._thinking_budget = min(
            answer_format.max_thinking_tokens, max_new_tokens - prefix_tokens - reserve
        )
        self._clock = clock
        self._started = started_at
        self._window = len(answer_format.think_end.encode("utf-8")) + 1
        self._prompt_len: int | None = None
        self._generated: list[int] = []
        self._forced: list[int] = []
        self._matcher: Any = None
        self._bitmask: Any = None
        self._accept_last = False
        self._in_string = self._escaped = False
        self._json_start = self._json_end = self._thinking_end = -1
        self._ended_by = ""
        self._thinking_s = 0.0
        self.phase = THINKING

    def __call__(
        self, input_ids: torch.LongTensor, scores: torch.FloatTensor
    ) -> torch.FloatTensor:
        """Constrain the next-token ``scores`` given everything generated so far."""
        if input_ids.shape[0] != 1:
            raise BackendError(
                f"constrained decoding supports batch size 1, got {input_ids.shape[0]}"
            )
        if scores.shape[-1] != self._vocab_size:
            raise BackendError(
                f"logits have {scores.shape[-1]} entries but the grammar was built for "
                f"vocab_size={self._vocab_size}"
            )
        if self._prompt_len is None:
            self._prompt_len = int(input_ids.shape[1])
            if self._started is None:
                self._started = self._clock()
        elif input_ids.shape[1] > self._prompt_len + len(self._generated):
            self._generated.append(int(input_ids[0, -1]))
        if self.phase == THINKING and not self._thinking_ended():
            scores[:, self._thinking_forbidden] = float("-inf")
            return scores
        if self.phase == PREFIX:
            if self._forced:
                return _force(scores, self._forced.pop(0))
            self._start_json()
        if self.phase == JSON_ANSWER:
            masked = self._json_step(scores)
            if masked is not None:
                return masked
        if self._forced:
            return _force(scores, self._forced.pop(0))
        self.phase = DONE
        return _force(scores, self._eos)

    @property
    def end_of_turn(self) -> int:
        """The token forced after the answer; generation must end on it."""
        return int(self._eos)

    def spans(self) -> AnswerSpans:
        """The exact thinking and JSON answer of the generation (call after ``generate``)."""
        decode = self._tokenizer.decode
        if self._json_start < 0:
            thinking = decode(self._generated, skip_special_tokens=True)
        else:
            before = decode(self._generated[: self._json_start], skip_special_tokens=True)
            cut = before.rfind(self._format.think_end)
            thinking = before[:cut] if cut >= 0 else before
        thinking = thinking.strip()
        if thinking.startswith("<think>"):
            thinking = thinking[len("<think>") :].strip()
        answer = None
        if self._json_end >= 0:
            answer = decode(self._generated[self._json_start : self._json_end])
        return AnswerSpans(
            thinking=thinking,
            answer_json=answer,
            thinking_ended_by=self._ended_by,
            thinking_s=self._thinking_s,
            thinking_tokens=self._thinking_end
            if self._thinking_end >= 0
            else len(self._generated),
        )

    # ----- thinking --------------------------------------------------------------------
    def _thinking_ended(self) -> bool:
        """Decide whether thinking ends now; if so, queue the rest of the answer prefix."""
        generated = self._generated
        think_end, prefix = self._format.think_end, self._format.answer_prefix
        tail = self._tokenizer.decode(generated[-self._window :], skip_special_tokens=False)
        at = tail.rfind(think_end) if generated else -1
        deadline = self._format.max_thinking_s
        if at >= 0:
            after_marker = tail[at:]
            # The token that completed the marker may carry more text; keep it if it agrees.
            done = len(after_marker) if prefix.startswith(after_marker) else len(think_end)
            self._ended_by = "model"
        elif len(generated) >= self._thinking_budget or (
            deadline > 0 and self._clock() - (self._started or 0.0) >= deadline
        ):
            # Maybe in the middle of the marker: complete it, don't repeat it.
            done = next(
                (k for k in range(len(think_end) - 1, 0, -1) if tail.endswith(think_end[:k])), 0
            )
            budget_hit = len(generated) >= self._thinking_budget
            self._ended_by = "tokens" if budget_hit else "deadline"
        else:
            return False
        self._thinking_s = self._clock() - (self._started or 0.0)
        self._thinking_end = len(generated)
        _LOG.debug(
            "thinking ended: by=%s thinking_tokens=%d thinking_s=%.3f",
            self._ended_by,
            len(generated),
            self._thinking_s,
        )
        self._forced = self._encode(prefix[done:])
        self.phase = PREFIX
        return True

    # ----- the JSON answer -------------------------------------------------------------
    def _start_json(self) -> None:
        self._matcher = xgr.GrammarMatcher(self._grammar, terminate_without_stop_token=True)
        self._bitmask = xgr.allocate_token_bitmask(1, self._vocab_size)
        self._accept_last = False
        self._json_start = len(self._generated)
        self.phase = JSON_ANSWER

    def _json_step(self, scores: torch.FloatTensor) -> torch.FloatTensor | None:
        """Mask ``scores`` to the grammar, or return None once the JSON is complete."""
        if self._accept_last:
            token = self._generated[-1]
            if not self._matcher.accept_token(token):
                raise BackendError(
                    f"the grammar rejected token {token} that it had allowed; "
                    "the tokenizer and the model's vocabulary disagree"
                )
            self._scan(self._table.text[token])
        if self._matcher.is_terminated():
            self._json_end = len(self._generated)
            self.phase = SUFFIX
            self._forced = list(self._suffix)
            return None
        self._matcher.fill_next_token_bitmask(self._bitmask)
        self._accept_last = True
        left = self._max_new_tokens - len(self._generated)
        if left <= self._json_reserve:
            return _force(scores, self._closing_token())
        xgr.apply_token_bitmask_inplace(scores, self._bitmask.to(scores.device))
        scores[:, self._json_forbidden] = float("-inf")
        return scores

    def _closing_token(self) -> int:
        """Of the allowed tokens, the one that closes the current string or object soonest."""
        allowed = _unpack(self._bitmask, self._vocab_size)
        allowed[self._json_forbidden] = False
        table = self._table
        order = (table.quote,) if self._in_string else (table.brace, table.comma, table.quote)
        for token in (*order, table.zero):
            if token is not None and allowed[token]:
                return int(token)
        # Part of an enum name, a key, an escape or a UTF-8 character: make the most progress.
        lengths = np.where(allowed, table.lengths, -1)
        return int(np.argmax(lengths))

    def _scan(self, text: bytes) -> None:
        """Follow whether the JSON text so far ends inside a string."""
        for byte in text:
            if self._in_string:
                if self._escaped:
                    self._escaped = False
                elif byte == 0x5C:  # backslash
                    self._escaped = True
                elif byte == 0x22:  # quote
                    self._in_string = False
            elif byte == 0x22:
                self._in_string = True

    def _encode(self, text: str) -> list[int]:
        if not text:
            return []
        ids: list[int] = self._tokenizer.encode(text, add_special_tokens=False)
        return ids


def _force(scores: torch.FloatTensor, token_id: int) -> torch.FloatTensor:
    """Scores that allow only ``token_id`` (a fresh tensor: earlier masks don't matter)."""
    forced = torch.full_like(scores, float("-inf"))
    forced[:, token_id] = 0.0
    return forced  # type: ignore[return-value]


def _unpack(bitmask: torch.Tensor, vocab_size: int) -> np.ndarray:
    """xgrammar's packed int32 bitmask (1, ceil(V/32)) as a bool array of length V."""
    words = bitmask[0].cpu().numpy().astype(np.uint32).view(np.uint8)
    return np.unpackbits(words, bitorder="little")[:vocab_size].astype(bool)
