"""The ``Reasoner``: window snapshot + question + action space → backend → validated decision.

It builds the request with the model's prompt profile, calls the backend, parses and validates
the answer and fills every field of a ``Decision``, stamped with the frames it came from.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Sequence
from typing import TypedDict

from cosmos_reason_ros.core.action_space import (
    ActionSpace,
)
from cosmos_reason_ros.core.answer import (
    RAW_TEXT_MAX_CHARS,
    ParsedAnswer,
    clean_text,
    parse_answer,
    parse_constrained_answer,
    printable,
)
from cosmos_reason_ros.core.decision import Decision, DecisionTimings
from cosmos_reason_ros.core.errors import ConfigError, InputError
from cosmos_reason_ros.core.generation import (
    Backend,
    GenerationRequest,
    GenerationResult,
    TextCallback,
)
from cosmos_reason_ros.core.prompts import (
    PromptProfile,
    profile_for,
)
from cosmos_reason_ros.core.reasoner_config import (
    DEFAULT_MAX_THINKING_S,
    DEFAULT_MAX_THINKING_TOKENS,
    DEFAULT_QUESTION,
    ReasonerConfig,
    answer_schema,
    check_goal,
    check_request,
)
from cosmos_reason_ros.core.types import WindowSnapshot

_LOG = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_MAX_THINKING_S",
    "DEFAULT_MAX_THINKING_TOKENS",
    "DEFAULT_QUESTION",
    "Reasoner",
    "ReasonerConfig",
    "check_request",
]


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
            on_text: Streaming callback, called from this thread while generating, with the
                text as ``raw_text`` keeps it (no control characters, which a ROS string
                cannot always carry: a NUL ends it).
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
                answer_schema(space, config), config.max_thinking_tokens, config.max_thinking_s
            ),
            constrained=config.constrained,
            on_text=None if on_text is None else _printable_stream(on_text),
            cancel=cancel,
        )
        built = time.perf_counter()
        result = self._backend.generate(request)
        generated = time.perf_counter()
        parsed = _parse(result, profile, space, bool(choices))
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
            thinking_ended_by=result.thinking_ended_by,
            timings=dataclasses.replace(timings, thinking_s=result.thinking_s),
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


def _parse(
    result: GenerationResult, profile: PromptProfile, space: ActionSpace, multiple_choice: bool
) -> ParsedAnswer:
    """The answer from the span the backend reported; text search only for free output."""
    if result.answer_json is not None:
        return parse_constrained_answer(
            result.thinking or "", result.answer_json, space, multiple_choice=multiple_choice
        )
    return parse_answer(result.text, profile, space, multiple_choice=multiple_choice)


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


def _printable_stream(on_text: TextCallback) -> TextCallback:
    """``on_text`` given each delta cleaned by ``printable``: they join to ``raw_text``
    (up to its ``RAW_TEXT_MAX_CHARS`` cap)."""

    def clean(delta: str, tokens: int) -> None:
        on_text(printable(delta), tokens)

    return clean
