"""``SamplingParams`` and ``GuidedDecodingParams``: keyword-only, slotted, validated.

Mirrors ``tensorrt_llm/sampling_params.py`` (1.0.0rc4 at commit 000a01de66f0, 1.2.0rc2 at
commit b35ac1b64368): ``@dataclass(slots=True, kw_only=True)``, so an unknown keyword is a
``TypeError`` and an unknown attribute an ``AttributeError``; ``__post_init__`` runs the same
``_validate`` checks with the same messages; ``_setup`` tokenises the stop strings into
``_stop_word_ids``. ``SamplingParamsWithThinkingBudget`` is the later shape (main, >= 1.3)
with ``thinking_token_budget``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

__all__ = ["GuidedDecodingParams", "SamplingParams", "SamplingParamsWithThinkingBudget"]


@dataclass(slots=True, kw_only=True)
class GuidedDecodingParams:
    """At most one guide: ``json`` (schema), ``regex``, ``grammar``, ``json_object`` or
    ``structural_tag`` (xgrammar only)."""

    json: str | dict[str, Any] | None = None
    regex: str | None = None
    grammar: str | None = None
    json_object: bool = False
    structural_tag: str | None = None

    def _validate(self) -> None:
        num_guides = 0
        for _field in fields(self):
            num_guides += bool(getattr(self, _field.name))
        if num_guides > 1:
            raise ValueError(f"Only one guide can be used for a request, but got {num_guides}.")

    def guide(self) -> tuple[str, str] | None:
        """(kind, text) of the guide, or None (the stand-in's helper, not upstream API)."""
        if self.json is not None:
            text = self.json if isinstance(self.json, str) else json.dumps(self.json)
            return ("json", text)
        if self.structural_tag:
            return ("structural_tag", self.structural_tag)
        for kind in ("regex", "grammar"):
            value = getattr(self, kind)
            if value:
                return (kind, str(value))
        return ("json_object", "") if self.json_object else None


@dataclass(slots=True, kw_only=True)
class SamplingParams:
    """The sampling fields the backend may set, with upstream names and defaults."""

    end_id: int | None = None
    pad_id: int | None = None
    max_tokens: int = 32
    stop: str | list[str] | None = None
    stop_token_ids: list[int] | None = None
    include_stop_str_in_output: bool = False
    top_k: int | None = None
    top_p: float | None = None
    seed: int | None = None
    temperature: float | None = None
    repetition_penalty: float | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    guided_decoding: GuidedDecodingParams | None = None
    detokenize: bool = True
    skip_special_tokens: bool = True
    spaces_between_special_tokens: bool = True
    add_special_tokens: bool = True
    n: int = 1
    best_of: int | None = None
    logits_processor: Any = None
    truncate_prompt_tokens: int | None = None
    _stop_word_ids: list[list[int]] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.pad_id is None:
            self.pad_id = self.end_id
        self.best_of = self.best_of or self.n
        self._validate()

    def _validate(self) -> None:
        if self.best_of is not None and self.best_of < self.n:
            raise ValueError(
                f"best_of ({self.best_of}) cannot be less than n ({self.n}) for sampling"
            )
        if self.top_p is not None and not 0 <= self.top_p <= 1:
            raise ValueError(f"require 0 <= top_p <= 1, got top_p={self.top_p}")
        if self.top_k is not None and self.top_k < 0:
            raise ValueError(f"require top_k >= 0, got top_k={self.top_k}")
        if self.temperature is not None and self.temperature < 0:
            raise ValueError(f"require temperature >= 0, got temperature={self.temperature}")
        if self.truncate_prompt_tokens is not None and self.truncate_prompt_tokens < 1:
            raise ValueError(
                "truncate_prompt_tokens must be >= 1, got "
                f"truncate_prompt_tokens={self.truncate_prompt_tokens}"
            )
        if self.guided_decoding is not None:
            self.guided_decoding._validate()

    def _stop_strings(self) -> list[str]:
        if self.stop is None:
            return []
        return [self.stop] if isinstance(self.stop, str) else list(self.stop)

    def _setup(self, encode: Callable[[str], list[int]]) -> None:
        """Tokenise the stop strings (upstream: ``tokenizer.encode(s, add_special_tokens=0)``)."""
        self._stop_word_ids = [encode(s) for s in self._stop_strings()]

    def _get_stop_reasons_and_words(self) -> list[tuple[int | str, list[int]]]:
        token_stops: list[tuple[int | str, list[int]]] = [
            (t, [t]) for t in self.stop_token_ids or []
        ]
        words = self._stop_word_ids or []
        return token_stops + list(zip(self._stop_strings(), words, strict=False))


@dataclass(slots=True, kw_only=True)
class SamplingParamsWithThinkingBudget(SamplingParams):
    """``SamplingParams`` of main (>= 1.3): adds ``thinking_token_budget`` (None or -1: none)."""

    thinking_token_budget: int | None = None

    def _validate(self) -> None:
        SamplingParams._validate(self)
        budget = self.thinking_token_budget
        if budget is not None and budget != -1 and (not isinstance(budget, int) or budget < 0):
            raise ValueError(
                "thinking_token_budget must be a non-negative integer or -1 for unlimited"
            )
