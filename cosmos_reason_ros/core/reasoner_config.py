"""``ReasonerConfig``: what the Reasoner asks and how, validated on construction, and the
checks every request passes before it is queued."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from cosmos_reason_ros.core.action_space import (
    DEFAULT_PARAMETERS,
    DEFAULT_REASON_CHARS,
    DEFAULT_TARGET_CHARS,
    MAX_PARAMETERS,
    MAX_REASON_CHARS,
    MAX_TARGET_CHARS,
    ActionSpace,
    shortest_answer_bytes,
)
from cosmos_reason_ros.core.errors import ConfigError, InputError
from cosmos_reason_ros.core.generation import SamplingSettings
from cosmos_reason_ros.core.prompts import (
    DEFAULT_QUESTION,
    PROFILE_OBJECTS,
    PROFILES,
    profile_for,
)

__all__ = [
    "DEFAULT_MAX_THINKING_S",
    "DEFAULT_MAX_THINKING_TOKENS",
    "DEFAULT_QUESTION",
    "ReasonerConfig",
    "answer_schema",
    "check_goal",
    "check_request",
]


DEFAULT_MAX_THINKING_TOKENS = 512
"""The one thinking budget default (tokens), used by the node, the CLIs and eval."""

DEFAULT_MAX_THINKING_S = 2.0
"""The one thinking deadline default (seconds after generation starts; 0 = none)."""


@dataclass(frozen=True)
class ReasonerConfig:
    """What the Reasoner asks and how. Validated on construction.

    Attributes:
        action_space: The allowed actions and the fallback.
        question: The default question, used when a request brings none.
        profile: Prompt profile: ``auto`` (from the model's architecture), ``reason1`` or
            ``reason2``.
        sampling: Sampling settings passed to the backend.
        max_thinking_tokens: Thinking budget in tokens; then the answer is forced (where the
            backend constrains it). ``sampling.max_new_tokens`` minus this must hold the answer.
        max_thinking_s: Thinking deadline, seconds after generation starts (0: none);
            whichever of the two comes first ends the thinking.
        constrained: Constrain the answer to the JSON schema where the backend can.
        max_question_chars: Longest question accepted.
        max_choices: Most multiple-choice options accepted.
        max_target_chars: Longest ``target`` the answer schema allows.
        max_reason_chars: Longest ``reason`` the answer schema allows.
        max_parameters: Most ``parameters`` the answer schema allows. Short answers keep
            constrained decoding fast: a string may run to its bound.
        goal: The task's overall goal, used when a request brings none ("" = no goal).
        camera_labels: (``Clip.camera``, prompt label) pairs; other cameras get
            ``prompts.camera_label`` of their name.

    Raises:
        ConfigError: A value is of the wrong type or out of range.
    """

    action_space: ActionSpace
    question: str = DEFAULT_QUESTION
    profile: str = "auto"
    sampling: SamplingSettings = field(default_factory=SamplingSettings)
    max_thinking_tokens: int = DEFAULT_MAX_THINKING_TOKENS
    max_thinking_s: float = DEFAULT_MAX_THINKING_S
    constrained: bool = True
    max_question_chars: int = 4000
    max_choices: int = 32
    max_target_chars: int = DEFAULT_TARGET_CHARS
    max_reason_chars: int = DEFAULT_REASON_CHARS
    max_parameters: int = DEFAULT_PARAMETERS
    goal: str = ""
    camera_labels: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.action_space, ActionSpace):
            raise ConfigError("action_space must be an ActionSpace (use ActionSpace.parse)")
        if self.profile not in PROFILES:
            raise ConfigError(
                f"profile must be one of {', '.join(PROFILES)}; got {self.profile!r}"
            )
        _check_int("max_question_chars", self.max_question_chars, 1, 1_000_000)
        _check_int("max_choices", self.max_choices, 1, 702)  # two-letter labels: A … ZZ
        _check_int("max_target_chars", self.max_target_chars, 0, MAX_TARGET_CHARS)
        _check_int("max_reason_chars", self.max_reason_chars, 0, MAX_REASON_CHARS)
        _check_int("max_parameters", self.max_parameters, 0, MAX_PARAMETERS)
        if not isinstance(self.question, str) or not self.question.strip():
            raise ConfigError("question must be a non-empty string")
        if len(self.question) > self.max_question_chars:
            raise ConfigError(
                f"question is {len(self.question)} characters; "
                f"max_question_chars is {self.max_question_chars}"
            )
        check_goal(self, self.goal, ConfigError)
        s = self.sampling
        _check_int("max_new_tokens", s.max_new_tokens, 1, 1_000_000)
        _check_int("max_thinking_tokens", self.max_thinking_tokens, 0, s.max_new_tokens - 1)
        if not _finite(self.max_thinking_s) or self.max_thinking_s < 0:
            raise ConfigError(f"max_thinking_s must be >= 0, got {self.max_thinking_s!r}")
        _check_answer_room(self)
        if not _finite(s.temperature) or s.temperature < 0:
            raise ConfigError(f"temperature must be >= 0, got {s.temperature!r}")
        if not _finite(s.top_p) or not 0 < s.top_p <= 1:
            raise ConfigError(f"top_p must be in (0, 1], got {s.top_p!r}")
        if not _finite(s.repetition_penalty) or s.repetition_penalty <= 0:
            raise ConfigError(f"repetition_penalty must be > 0, got {s.repetition_penalty!r}")
        if s.seed is not None and (not isinstance(s.seed, int) or s.seed < 0):
            raise ConfigError(f"seed must be a non-negative integer or None, got {s.seed!r}")


def check_request(
    config: ReasonerConfig, question: str, choices: Sequence[str] = ()
) -> tuple[str, tuple[str, ...]]:
    """The question and choices to ask under ``config`` (see ``Reasoner.validate_request``).

    Raises:
        InputError: The question or the choices are unusable.
    """
    if not isinstance(question, str):
        raise InputError(f"question must be a string, got {type(question).__name__}")
    question = question.strip() or config.question
    if len(question) > config.max_question_chars:
        raise InputError(
            f"question is {len(question)} characters; the limit is {config.max_question_chars}"
        )
    if "\x00" in question:
        raise InputError("question contains NUL characters")
    if isinstance(choices, str):
        raise InputError("choices must be a list of action names, got a single string")
    if not choices:
        return question, ()
    space = config.action_space.restricted_to(choices, config.max_choices)
    return question, tuple(a.name for a in space.actions)


def check_goal(config: ReasonerConfig, goal: str, error: type[Exception] = InputError) -> str:
    """``goal`` stripped, if usable under ``config``; raises ``error`` (InputError) if not."""
    if not isinstance(goal, str):
        raise error(f"goal must be a string, got {type(goal).__name__}")
    goal = goal.strip()
    if len(goal) > config.max_question_chars:
        raise error(f"goal is {len(goal)} characters; the limit is {config.max_question_chars}")
    if "\x00" in goal:
        raise error("goal contains NUL characters")
    return goal


def _check_answer_room(config: ReasonerConfig) -> None:
    """Refuse budgets that cannot hold the answer after the thinking, naming the parameters."""
    profile = profile_for(config.profile, "qwen2_5_vl") if config.profile != "auto" else None
    prefixes = [p for p in PROFILE_OBJECTS if profile is None or p is profile]
    markers = max(len((p.answer_prefix + p.answer_suffix).encode("utf-8")) for p in prefixes)
    needed = shortest_answer_bytes(answer_schema(config.action_space, config)) + markers + 1
    room = config.sampling.max_new_tokens - config.max_thinking_tokens
    if room < needed:
        raise ConfigError(
            f"max_new_tokens ({config.sampling.max_new_tokens}) minus max_thinking_tokens "
            f"({config.max_thinking_tokens}) leaves {room} tokens for the answer, which needs "
            f"up to {needed} (the shortest answer with the longest action name, and its "
            "markers); raise max_new_tokens or lower max_thinking_tokens"
        )


def answer_schema(space: ActionSpace, config: ReasonerConfig) -> dict[str, Any]:
    return space.answer_schema(
        max_target_chars=config.max_target_chars,
        max_reason_chars=config.max_reason_chars,
        max_parameters=config.max_parameters,
    )


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_int(name: str, value: object, low: int, high: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ConfigError(f"{name} must be an integer in [{low}, {high}], got {value!r}")
