"""What constrained decoding knows about a tokenizer: the compiled answer grammar (xgrammar)
and a table of its tokens (bytes, lengths, which are special, stop or added, the end-of-turn
token, the single-character tokens that close JSON). Both are cached per tokenizer and
vocabulary size and are safe to share between threads."""

from __future__ import annotations

import json
import logging
import threading
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xgrammar as xgr

from cosmos_reason_ros.core.errors import BackendError

_LOG = logging.getLogger(__name__)

END_OF_TURN = "<|im_end|>"
_STOP_TEXTS = (END_OF_TURN, "<|endoftext|>")


@dataclass(frozen=True)
class TokenTable:
    """A tokenizer's tokens as constrained decoding sees them.

    Attributes:
        text: The bytes each token id decodes to (xgrammar's decoded vocabulary), padded with
            ``b""`` up to the model's vocabulary size.
        lengths: ``len(text[i])`` as an array.
        special: Ids that never belong in generated text: the tokenizer's special tokens, its
            stop and end-of-turn tokens, and ids beyond the tokenizer (padding of the logits).
        added: Ids added on top of the byte-level vocabulary that are not special (e.g.
            ``<think>``); text in the thinking, never in a JSON answer.
        end_of_turn: The token that ends the assistant's turn.
        quote: The id of ``"`` alone (None if the tokenizer has no such token); likewise
            ``brace`` (``}``), ``comma`` (``,``) and ``zero`` (``0``).
    """

    text: tuple[bytes, ...]
    lengths: np.ndarray
    special: frozenset[int]
    added: frozenset[int]
    end_of_turn: int
    quote: int | None
    brace: int | None
    comma: int | None
    zero: int | None


MAX_GRAMMARS = 64
"""Compiled grammars kept per tokenizer and vocabulary size (each ask's ``choices`` make a schema
of their own); the least recently used goes first."""


@dataclass
class _Entry:
    info: Any
    compiler: Any
    table: TokenTable
    grammars: OrderedDict[str, Any] = field(default_factory=OrderedDict)


_CACHE: weakref.WeakKeyDictionary[Any, dict[int, _Entry]] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def token_table(tokenizer: Any, vocab_size: int) -> TokenTable:
    """The token table of ``tokenizer`` for a model whose logits have ``vocab_size`` entries.

    Raises:
        BackendError: The tokenizer has neither ``<|im_end|>`` nor an EOS token.
    """
    return _entry(tokenizer, vocab_size).table


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
    entry = _entry(tokenizer, vocab_size)
    with _LOCK:
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


def _entry(tokenizer: Any, vocab_size: int) -> _Entry:
    with _LOCK:
        per_vocab = _CACHE.setdefault(tokenizer, {})
        entry = per_vocab.get(vocab_size)
        if entry is None:
            info = xgr.TokenizerInfo.from_huggingface(tokenizer, vocab_size=vocab_size)
            entry = _Entry(
                info=info,
                compiler=xgr.GrammarCompiler(info, max_threads=2),
                table=_build_table(tokenizer, info, vocab_size),
            )
            per_vocab[vocab_size] = entry
        return entry


def _build_table(tokenizer: Any, info: Any, vocab_size: int) -> TokenTable:
    decoded = list(info.decoded_vocab)
    text = tuple(decoded) + (b"",) * (vocab_size - len(decoded))
    eos = _end_of_turn(tokenizer)
    stops = {tokenizer.convert_tokens_to_ids(t) for t in _STOP_TEXTS} | {tokenizer.eos_token_id}
    special = {i for i in stops if isinstance(i, int) and i != tokenizer.unk_token_id}
    special |= set(tokenizer.all_special_ids) | set(info.special_token_ids) | {eos}
    added: set[int] = set()
    for token_id, token in tokenizer.added_tokens_decoder.items():
        (special if token.special else added).add(int(token_id))
    special |= set(range(len(tokenizer), vocab_size))
    special.discard(getattr(tokenizer, "unk_token_id", None))
    added -= special
    return TokenTable(
        text=text,
        lengths=np.array([len(t) for t in text], dtype=np.int64),
        special=frozenset(i for i in special if isinstance(i, int) and 0 <= i < vocab_size),
        added=frozenset(added),
        end_of_turn=eos,
        quote=_single(tokenizer, '"'),
        brace=_single(tokenizer, "}"),
        comma=_single(tokenizer, ","),
        zero=_single(tokenizer, "0"),
    )


def _single(tokenizer: Any, char: str) -> int | None:
    ids = tokenizer.encode(char, add_special_tokens=False)
    return int(ids[0]) if len(ids) == 1 else None


def _end_of_turn(tokenizer: Any) -> int:
    token_id = tokenizer.convert_tokens_to_ids(END_OF_TURN)
    if isinstance(token_id, int) and token_id != tokenizer.unk_token_id:
        return token_id
    if tokenizer.eos_token_id is None:
        raise BackendError(f"the tokenizer has neither {END_OF_TURN} nor an EOS token")
    return int(tokenizer.eos_token_id)


# xgrammar 0.2.x spells the characters of a length-bounded string as [^"\\\r\n], which admits
# raw control characters that strict JSON parsers reject. Its unbounded strings exclude them.
_LOOSE_STRING_CHAR = r"[^\"\\\r\n]"
_STRICT_STRING_CHAR = r"[^\0-\x1f\"\\\r\n]"


def _strict_json_strings(ebnf: str) -> str:
    """Keep control characters out of bounded JSON strings (no-op where already excluded)."""
    return ebnf.replace(_LOOSE_STRING_CHAR, _STRICT_STRING_CHAR)
