"""Constrained decoding of an ``AnswerFormat`` for transformers' ``generate``.

``AnswerConstraint`` is a ``LogitsProcessor`` (batch size 1) that lets the model think freely,
then forces the answer layout: when the generated text contains ``think_end`` (or the thinking
budget is spent) the rest of ``answer_prefix`` is forced token by token, the JSON answer is
constrained by an xgrammar ``GrammarMatcher`` compiled from the schema, and when the matcher
terminates ``answer_suffix`` and the end-of-turn token are forced.

Put it *before* temperature / top-p warpers: masking after top-p can leave no token to sample.
A processor serves one ``generate`` call; create a new one per generation. Compiled grammars are
cached per (tokenizer, schema, vocabulary size), the ``MAX_GRAMMARS`` most recently used per
tokenizer and vocabulary size (each ask's ``choices`` make a schema of their own), and are safe
to share between threads.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import torch
import xgrammar as xgr
from transformers import LogitsProcessor

from cosmos_reason_ros.core.errors import BackendError
from cosmos_reason_ros.core.generation import AnswerFormat

_LOG = logging.getLogger(__name__)

END_OF_TURN = "<|im_end|>"

THINKING = "thinking"
PREFIX = "prefix"
JSON_ANSWER = "json"
SUFFIX = "suffix"


MAX_GRAMMARS = 64
"""Compiled grammars kept per tokenizer and vocabulary size; the least recently used goes."""


@dataclass
class _TokenizerGrammars:
    compiler: Any
    grammars: OrderedDict[str, Any] = field(default_factory=OrderedDict)


_GRAMMARS: weakref.WeakKeyDictionary[Any, dict[int, _TokenizerGrammars]] = (
    weakref.WeakKeyDictionary()
)
_GRAMMARS_LOCK = threading.Lock()


def compile_answer_grammar(tokenizer: Any, json_schema: dict[str, Any], vocab_size: int) -> Any:
    """Compile (or fetch from the cache) the xgrammar grammar of ``json_schema``.

    Args:
        tokenizer: The Hugging Face tokenizer the model generates with.
        json_schema: JSON schema of the answer object.
        vocab_size: The model's vocabulary size (its logits width), which may exceed
            ``len(tokenizer)``.

    Returns:
        An ``xgrammar.CompiledGrammar`` with no whitespace between JSON tokens.

    Raises:
        BackendError: The schema cannot be compiled.
    """
    key = json.dumps(json_schema)  # property order matters: it is the order generated
    with _GRAMMARS_LOCK:
        per_vocab = _GRAMMARS.setdefault(tokenizer, {})
        entry = per_vocab.get(vocab_size)
        if entry is None:
            info = xgr.TokenizerInfo.from_huggingface(tokenizer, vocab_size=vocab_size)
            entry = _TokenizerGrammars(compiler=xgr.GrammarCompiler(info, max_threads=2))
            per_vocab[vocab_size] = entry
        grammar = entry.grammars.get(key)
        if grammar is not None:
            entry.grammars.move_to_end(key)
            return grammar
        start = time.monotonic()
        try:
            ebnf = str(xgr.Grammar.from_json_schema(key, any_whitespace=False))
            grammar = entry.compiler.compile_grammar(_strict_json_strings(ebnf))
        except (RuntimeError, ValueError, TypeError) as exc:
            raise BackendError(f"the answer JSON schema cannot be compiled: {exc}") from exc
        entry.grammars[key] = grammar
        while len(entry.grammars) > MAX_GRAMMARS:
            entry.grammars.popitem(last=False)
    _LOG.debug(
        "compiled answer grammar: compile_s=%.3f vocab_size=%d",
        time.monotonic() - start,
        vocab_size,
    )
    return grammar


# xgrammar 0.2.x spells the characters of a length-bounded string as [^"\\\r\n], which admits
# raw control characters that strict JSON parsers reject. Its unbounded strings exclude them.
_LOOSE_STRING_CHAR = r"[^\"\\\r\n]"
_STRICT_STRING_CHAR = r"[^\0-\x1f\"\\\r\n]"


def _strict_json_strings(ebnf: str) -> str:
    """Keep control characters out of bounded JSON strings (no-op where already excluded)."""
    return ebnf.replace(_LOOSE_STRING_CHAR, _STRICT_STRING_CHAR)


class AnswerConstraint(LogitsProcessor):
    """Forces ``answer_format`` on one generation. See the module docstring.

    Not thread-safe; ``generate`` calls it once per step from one thread.

    Attributes:
        phase: ``thinking``, ``prefix``, ``json`` or ``suffix``.
        thinking_tokens: Tokens generated before the answer prefix was started or detected.
    """

    def __init__(
        self,
        tokenizer: Any,
        answer_format: AnswerFormat,
        vocab_size: int,
        eos_token_id: int | None = None,
    ) -> None:
        """Compile the grammar (cached) and prepare the forced pieces.

        Args:
            tokenizer: The Hugging Face tokenizer the model generates with.
            answer_format: The layout to force.
            vocab_size: The model's vocabulary size (logits width).
            eos_token_id: Token forced after ``answer_suffix``; defaults to ``<|im_end|>``, or
                the tokenizer's EOS when it has no such token.

        Raises:
            BackendError: The schema cannot be compiled or there is no end-of-turn token.
        """
        if not answer_format.answer_prefix.startswith(answer_format.think_end):
            raise BackendError(
                f"answer_prefix {answer_format.answer_prefix!r} must start with think_end "
                f"{answer_format.think_end!r}"
            )
        self._tokenizer = tokenizer
        self._format = answer_format
        self._vocab_size = vocab_size
        self._grammar = compile_answer_grammar(tokenizer, answer_format.json_schema, vocab_size)
        self._eos = eos_token_id if eos_token_id is not None else _end_of_turn_id(tokenizer)
        # Thinking may not end the turn: the answer must follow.
        self._stops = sorted(_stop_ids(tokenizer) | {self._eos})
        # Enough tokens to hold the marker even if every byte is its own token, plus one.
        self._window = len(answer_format.think_end.encode("utf-8")) + 1
        self._prompt_len: int | None = None
        self._forced: list[int] = []
        self._matcher: Any = None
        self._bitmask: Any = None
        self._accept_last = False
        self.phase = THINKING
        self.thinking_tokens = 0

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
        generated = input_ids[0, self._prompt_len :].tolist()
        if self.phase == THINKING and not self._end_thinking(generated):
            scores[:, self._stops] = float("-inf")
            return scores
        if self.phase == PREFIX:
            if self._forced:
                return _force(scores, self._forced.pop(0))
            self._start_json()
        if self.phase == JSON_ANSWER:
            masked = self._json_step(generated, scores)
            if masked is not None:
                return masked
        if self._forced:
            return _force(scores, self._forced.pop(0))
        return _force(scores, self._eos)

    def _end_thinking(self, generated: list[int]) -> bool:
        """Decide whether thinking ends now; if so, queue the rest of the answer prefix."""
        self.thinking_tokens = len(generated)
        tail = self._tokenizer.decode(generated[-self._window :], skip_special_tokens=False)
        think_end = self._format.think_end
        prefix = self._format.answer_prefix
        at = tail.rfind(think_end) if generated else -1
        if at >= 0:
            after_marker = tail[at:]
            # The token that completed the marker may carry more text; keep it if it agrees.
            rest = (
                prefix[len(after_marker) :]
                if prefix.startswith(after_marker)
                else (prefix[len(think_end) :])
            )
            reason = "marker"
        elif len(generated) >= self._format.max_thinking_tokens:
            # The budget ran out, maybe in the middle of the marker: complete it, don't repeat it.
            done = next(
                (k for k in range(len(think_end) - 1, 0, -1) if tail.endswith(think_end[:k])), 0
            )
            rest = prefix[done:]
            reason = "budget"
        else:
            return False
        _LOG.debug("thinking ended: reason=%s thinking_tokens=%d", reason, len(generated))
        self._forced = self._encode(rest)
        self.phase = PREFIX
        return True

    def _start_json(self) -> None:
        self._matcher = xgr.GrammarMatcher(self._grammar, terminate_without_stop_token=True)
        self._bitmask = xgr.allocate_token_bitmask(1, self._vocab_size)
        self._accept_last = False
        self.phase = JSON_ANSWER

    def _json_step(
        self, generated: list[int], scores: torch.FloatTensor
    ) -> torch.FloatTensor | None:
        """Mask ``scores`` to the grammar, or return None once the JSON is complete."""
        if self._accept_last and not self._matcher.accept_token(generated[-1]):
            raise BackendError(
                f"the grammar rejected token {generated[-1]} that it had allowed; "
                "the tokenizer and the model's vocabulary disagree"
            )
        if self._matcher.is_terminated():
            self.phase = SUFFIX
            self._forced = self._encode(self._format.answer_suffix)
            return None
        self._matcher.fill_next_token_bitmask(self._bitmask)
        xgr.apply_token_bitmask_inplace(scores, self._bitmask.to(scores.device))
        self._accept_last = True
        return scores

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


def _stop_ids(tokenizer: Any) -> set[int]:
    ids = {tokenizer.convert_tokens_to_ids(t) for t in (END_OF_TURN, "<|endoftext|>")}
    ids.add(tokenizer.eos_token_id)
    return {i for i in ids if isinstance(i, int) and i != tokenizer.unk_token_id}


def _end_of_turn_id(tokenizer: Any) -> int:
    token_id = tokenizer.convert_tokens_to_ids(END_OF_TURN)
    if isinstance(token_id, int) and token_id != tokenizer.unk_token_id:
        return token_id
    if tokenizer.eos_token_id is None:
        raise BackendError(f"the tokenizer has neither {END_OF_TURN} nor an EOS token")
    return int(tokenizer.eos_token_id)
