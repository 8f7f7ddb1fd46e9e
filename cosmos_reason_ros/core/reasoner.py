"""The ``Reasoner``: window snapshot + question + action space → backend → validated decision.

It builds the request with the model's prompt profile, calls the backend, parses and validates
the answer and fills every field of a ``Decision``, stamped with the frames it came from.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict

from cosmos_reason_ros.core.action_space import (
    MAX_PARAMETERS,
    MAX_REASON_CHARS,
    MAX_TARGET_CHARS,
    ActionSpace,
)
from cosmos_reason_ros.core.answer import RAW_TEXT_MAX_CHARS, clean_text, parse_answer
from cosmos_reason_ros.core.decision import Decision, DecisionTimings
from cosmos_reason_ros.core.errors import ConfigError, InputError
from cosmos_reason_ros.core.generation import (
    Backend,
    GenerationRequest,
    SamplingSettings,
    TextCallback,
)
from cosmos_reason_ros.core.prompts import DEFAULT_QUESTION, PROFILES, PromptProfile, profile_for
from cosmos_reason_ros.core.types import WindowSnapshot

_LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReasonerConfig:
    """What the Reasoner asks and how. Validated on construction.

    Attributes:
        action_space: The allowed actions and the fallback.
        question: The default question, used when a request brings none.
        profile: Prompt profile: ``auto`` (from the model's architecture), ``reason1`` or
            ``reason2``.
        sampling: Sampling settings passed to the backend.
        max_thinking_tokens: Thinking budget; then the answer is forced (constrained decoding).
            Must be below ``sampling.max_new_tokens`` to leave room for the answer.
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
    max_thinking_tokens: int = 256
    constrained: bool = True
    max_question_chars: int = 4000
    max_choices: int = 32
    max_target_chars: int = MAX_TARGET_CHARS
    max_reason_chars: int = MAX_REASON_CHARS
    max_parameters: int = MAX_PARAMETERS
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
        if not _finite(s.temperature) or s.temperature < 0:
            raise ConfigError(f"temperature must be >= 0, got {s.temperature!r}")
        if not _finite(s.top_p) or not 0 < s.top_p <= 1:
            raise ConfigError(f"top_p must be in (0, 1], got {s.top_p!r}")
        if not _finite(s.repetition_penalty) or s.repetition_penalty <= 0:
            raise ConfigError(f"repetition_penalty must be > 0, got {s.repetition_penalty!r}")
        if s.seed is not None and (not isinstance(s.seed, int) or s.seed < 0):
            raise ConfigError(f"seed must be a non-negative integer or None, got {s.seed!r}")


class Reasoner:
    """Turns window snapshots into decisions with one backend.

    Thread-safety: ``decide`` is called from one worker thread at a time (the backend's rule);
    ``validate_request``, ``fallback``, ``reconfigure`` and ``config`` may be called from any
    thread. A ``decide`` in progress keeps the config it started with.
    """

    def __init__(self, backend: Backend, config: ReasonerConfig) -> None:
        """Wraps a loaded (or lazily loading) backend.

        Args:
            backend: The model backend; ``load()`` must have been called before ``decide``.
            config: What to ask and how.
        """
        if not isinstance(config, ReasonerConfig):
            raise ConfigError(f"config must be a ReasonerConfig, got {type(config).__name__}")
        self._backend = backend
        self._config = config
        self._lock = threading.Lock()

    @property
    def config(self) -> ReasonerConfig:
        """The current config."""
        with self._lock:
            return self._config

    def reconfigure(self, config: ReasonerConfig) -> None:
        """Swaps the config; the next ``decide`` uses it. Thread-safe."""
        if not isinstance(config, ReasonerConfig):
            raise ConfigError(f"config must be a ReasonerConfig, got {type(config).__name__}")
        with self._lock:
            self._config = config

    def profile(self) -> PromptProfile:
        """The prompt profile for the current config and the backend's model."""
        config = self.config
        architecture = self._backend.describe().architecture if config.profile == "auto" else ""
        return profile_for(config.profile, architecture)

    def validate_request(
        self, question: str = "", choices: Sequence[str] = ()
    ) -> tuple[str, tuple[str, ...]]:
        """Checks a request before it is queued.

        Args:
            question: The question; empty or blank means the configured default.
            choices: Optional multiple-choice options: allowed actions, unique, non-empty.

        Returns:
            The question to ask and the choices, stripped.

        Raises:
            InputError: The question is too long or not text, or the choices are empty
                strings, duplicates, not allowed actions, or too many.
        """
        config = self.config
        return check_request(config, question, choices)

    def decide(
        self,
        snapshot: WindowSnapshot,
        *,
        decision_id: int,
        question: str = "",
        choices: Sequence[str] = (),
        on_text: TextCallback | None = None,
        cancel: threading.Event | None = None,
        snapshot_s: float = 0.0,
        goal: str = "",
    ) -> Decision:
        """Asks the model about ``snapshot`` and returns a validated decision.

        An answer that does not parse or validate gives ``valid=False``, the fallback action
        and a reason; it does not raise.

        Args:
            snapshot: The frames to reason over, one clip per camera.
            decision_id: Sequence number of the decision.
            question: The question; "" means the configured default.
            choices: Optional multiple-choice options (allowed actions).
            on_text: Streaming callback, called from this thread while generating.
            cancel: When set, generation stops and ``GenerationCancelled`` is raised.
            snapshot_s: Seconds the caller spent taking the snapshot (added to the latency).
            goal: The task's overall goal; "" means the configured one.

        Returns:
            The decision, stamped with the snapshot's frames.

        Raises:
            InputError: The snapshot is empty, or the question or choices are unusable.
            BackendError: The backend failed (propagated unchanged).
            GenerationCancelled: ``cancel`` was set during generation.
        """
        start = time.perf_counter()
        config = self.config
        if snapshot.empty:
            raise InputError("the frame window is empty: no frames to reason over yet")
        question, choices = check_request(config, question, choices)
        goal = check_goal(config, goal) or config.goal
        space = config.action_space
        if choices:
            space = space.restricted_to(choices, config.max_choices)
        info = self._backend.describe()
        profile = profile_for(config.profile, info.architecture)
        request = GenerationRequest(
            messages=profile.build_messages(
                question,
                snapshot.clips,
                space,
                choices,
                goal=goal,
                labels=dict(config.camera_labels),
                reasoning=config.max_thinking_tokens > 0,
            ),
            clips=snapshot.clips,
            sampling=config.sampling,
            answer_format=profile.answer_format(
                _schema(space, config), config.max_thinking_tokens
            ),
            constrained=config.constrained,
            on_text=on_text,
            cancel=cancel,
        )
        built = time.perf_counter()
        result = self._backend.generate(request)
        generated = time.perf_counter()
        parsed = parse_answer(result.text, profile, space, multiple_choice=bool(choices))
        reason = parsed.reason
        if not parsed.valid and result.generated_tokens >= config.sampling.max_new_tokens:
            reason += f" (generation stopped at max_new_tokens={config.sampling.max_new_tokens})"
        parsed_at = time.perf_counter()
        timings = DecisionTimings(
            snapshot_s=snapshot_s,
            preprocess_s=(built - start) + result.preprocess_s,
            generation_s=max(0.0, (generated - built) - result.preprocess_s),
            parse_s=parsed_at - generated,
            latency_s=snapshot_s + (parsed_at - start),
            time_to_first_token_s=result.time_to_first_token_s,
        )
        decision = Decision(
            decision_id=decision_id,
            action=parsed.action,
            valid=parsed.valid,
            reason=reason,
            target=parsed.target,
            parameters=parsed.parameters,
            confidence=parsed.confidence,
            question=question,
            choices=choices,
            thinking=parsed.thinking,
            answer=parsed.answer_text,
            raw_text=clean_text(result.text, RAW_TEXT_MAX_CHARS),
            model=info.model,
            prompt_tokens=result.prompt_tokens,
            generated_tokens=result.generated_tokens,
            timings=timings,
            **_stamps(snapshot),
        )
        _LOG.info(
            "decision_id=%d action=%s valid=%s latency_s=%.3f generated_tokens=%d%s",
            decision_id,
            decision.action,
            decision.valid,
            timings.latency_s,
            result.generated_tokens,
            "" if parsed.valid else f" error={parsed.error!r}",
        )
        return decision

    def fallback(
        self,
        decision_id: int,
        reason: str,
        snapshot: WindowSnapshot | None = None,
        question: str = "",
    ) -> Decision:
        """A decision carrying the fallback action, for callers that must publish something.

        Args:
            decision_id: Sequence number of the decision.
            reason: Why there is no model decision (e.g. the backend failed).
            snapshot: The frames the decision would have used; stamps come from it if given.
            question: The question that was asked.

        Returns:
            A decision with ``valid=False`` and the fallback action.
        """
        config = self.config
        stamps = _stamps(snapshot) if snapshot is not None and not snapshot.empty else _Stamps()
        return Decision(
            decision_id=decision_id,
            action=config.action_space.fallback,
            valid=False,
            reason=clean_text(reason, 1000),
            question=clean_text(question, config.max_question_chars) or config.question,
            model=self._backend.describe().model,
            **stamps,
        )


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


def _schema(space: ActionSpace, config: ReasonerConfig) -> dict[str, Any]:
    return space.answer_schema(
        max_target_chars=config.max_target_chars,
        max_reason_chars=config.max_reason_chars,
        max_parameters=config.max_parameters,
    )


class _Stamps(TypedDict, total=False):
    stamp_ns: int
    frame_id: str
    window_start_ns: int
    frame_count: int
    frame_stamps_ns: tuple[tuple[str, tuple[int, ...]], ...]


def _stamps(snapshot: WindowSnapshot) -> _Stamps:
    return {
        "stamp_ns": snapshot.newest_ns,
        "frame_id": snapshot.newest_frame_id,
        "window_start_ns": snapshot.oldest_ns,
        "frame_count": snapshot.frame_count,
        "frame_stamps_ns": tuple((c.camera, tuple(c.stamps_ns)) for c in snapshot.clips),
    }


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_int(name: str, value: object, low: int, high: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ConfigError(f"{name} must be an integer in [{low}, {high}], got {value!r}")
