"""The compiled-grammar cache is bounded by count: every ask's ``choices`` make a schema of
their own, so an unbounded cache would grow for as long as planners ask."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("xgrammar", reason="xgrammar is not installed: run `make setup`")

from transformers import AutoTokenizer

from cosmos_reason_ros.backends import grammar
from cosmos_reason_ros.backends.grammar import compile_answer_grammar
from cosmos_reason_ros.config import DEFAULT_ACTIONS
from cosmos_reason_ros.core.action_space import ActionSpace

VOCAB = 576


def _schemas(n: int) -> list[dict[str, Any]]:
    """n different answer schemas, as asks with different choices would make them."""
    space = ActionSpace.parse(DEFAULT_ACTIONS, "stop")
    names = [a.name for a in space.actions]
    out = []
    for i in range(n):
        restricted = space.restricted_to([names[i % len(names)]], 32)
        out.append({**restricted.answer_schema(), "title": f"ask {i}"})
    return out


def test_grammar_cache_keeps_the_most_recently_used_up_to_its_bound(
    tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    monkeypatch.setattr(grammar, "MAX_GRAMMARS", 3)
    a, b, c, d = _schemas(4)
    first = compile_answer_grammar(tokenizer, a, VOCAB)
    compile_answer_grammar(tokenizer, b, VOCAB)
    compile_answer_grammar(tokenizer, c, VOCAB)
    assert compile_answer_grammar(tokenizer, a, VOCAB) is first  # a is now the most recent
    compile_answer_grammar(tokenizer, d, VOCAB)  # evicts b, the least recently used
    cached = grammar._CACHE[tokenizer][VOCAB].grammars
    assert len(cached) == 3
    assert compile_answer_grammar(tokenizer, a, VOCAB) is first
    for schema in _schemas(20):
        compile_answer_grammar(tokenizer, schema, VOCAB)
    assert len(grammar._CACHE[tokenizer][VOCAB].grammars) == 3
