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
from dataclasses import dataclass, field
from typing import Any, TypedDict

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
    SamplingSettings,
    TextCallback,
)
from cosmos_reason_ros.core.params import check_fields, param
from cosmos_reason_ros.core.prompts import (
    DEFAULT_QUESTION,
    PROFILE_OBJECTS,
    PROFILES,
    PromptProfile,
    profile_for,
)
from cosmos_reason_ros.core.types import WindowSnapshot

_LOG = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_QUESTION",
    "MAX_QUESTION_CHARS",
    "CheckedRequest",
    "Reasoner",
    "ReasonerConfig",
    "SnapshotStamps",
    "answer_schema",
    "check_answer_room",
    "snapshot_stamps",
]

MAX_QUESTION_CHARS = 16_384
"""The ceiling of ``max_question_chars``, whatever sets it. A question is prefilled in one step
that no cancellation reaches, so its length bounds how long the worker is deaf to everything
else: 16k characters (4k to 16k tokens) prefill in seconds on the GPUs we run on, and fit far
inside the context of every supported model (128k tokens and more). A 1 MB question (323k
tokens, past the context) once held the worker in prefill for minutes. The prompt as a whole
is checked against the model's context where it is tokenized (``prompt_bound.check_context``)."""


@dataclass(frozen=True)
class ReasonerConfig:
    """What the Reasoner asks and how. Validated on construction.

    The node parameters among the fields are declared on them (``core.params``).

    Attributes:
        action_space: The allowed actions and the fallback (the ``actions`` and
            ``fallback_action`` parameters, parsed).
        sampling: Sampling settings passed to the backend.
        camera_labels: (``Clip.camera``, prompt label) pairs; other cameras get
            ``prompts.camera_label`` of their name.

    Raises:
        ConfigError: A value is of the wrong type or out of range.
    """

    action_space: ActionSpace
    question: str = param(DEFAULT_QUESTION, "Default question", live=True)
    profile: str = param(
        "auto",
        "Prompt profile; auto picks it from the checkpoint's "
        "architecture (qwen2_5_vl: reason1, qwen3_vl: reason2, cosmos3_omni and cosmos3_edge: "
        "cosmos3)",
        choices=PROFILES,
    )
    sampling: SamplingSettings = field(default_factory=SamplingSettings)
    max_thinking_tokens: int = param(
        512,
        "Thinking budget in tokens; then the answer is forced (whichever of this and "
        "max_thinking_s comes first ends the thinking)",
        live=True,
        low=0,
        high=32768,
    )
    max_thinking_s: float = param(
        2.0,
        "Thinking deadline, seconds after generation starts; then the answer is forced "
        "(0 = no deadline)",
        live=True,
        low=0.0,
        high=3600.0,
    )
    constrained: bool = param(
        True,
        "Constrain the answer to the JSON schema where the backend can",
        live=True,
        name="constrained_decoding",
    )
    max_question_chars: int = param(
        4000,
        "Longer questions (and goals) are refused; a prompt past the model's context is "
        "refused too",
        live=True,
        low=1,
        high=MAX_QUESTION_CHARS,
    )
    max_choices: int = param(
        32, "More choices are refused (two-letter labels: A … ZZ)", live=True, low=1, high=702
    )
    max_target_chars: int = param(
        DEFAULT_TARGET_CHARS,
        f"Length bound of the answer's target (full bound {MAX_TARGET_CHARS})",
        live=True,
        low=1,
        high=MAX_TARGET_CHARS,
    )
    max_reason_chars: int = param(
        DEFAULT_REASON_CHARS,
        f"Length bound of the answer's reason (full bound {MAX_REASON_CHARS})",
        live=True,
        low=1,
        high=MAX_REASON_CHARS,
    )
    max_parameters: int = param(
        DEFAULT_PARAMETERS,
        f"Most key/value parameters in an answer (full bound {MAX_PARAMETERS})",
        live=True,
        low=0,
        high=MAX_PARAMETERS,
    )
    goal: str = param(
        "",
        "The task's overall goal; asks upstream's goal-conditioned question (a request's goal "
        'overrides it; "" = none)',
        live=True,
    )
    camera_labels: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.action_space, ActionSpace):
            raise ConfigError("action_space must be an ActionSpace (use ActionSpace.parse)")
        if not isinstance(self.sampling, SamplingSettings):
            raise ConfigError("sampling must be a SamplingSettings")
        check_fields(self)
        if not self.question.strip():
            raise ConfigError("question must be a non-empty string")
        if len(self.question) > self.max_question_chars:
            raise ConfigError(
                f"question is {len(self.question)} characters; "
                f"max_question_chars is {self.max_question_chars}"
            )
        _checked_text("goal", self.goal, self.max_question_chars, ConfigError)
        if self.max_thinking_tokens >= self.sampling.max_new_tokens:
            raise ConfigError(
                f"max_thinking_tokens ({self.max_thinking_tokens}) must be below "
                f"max_new_tokens ({self.sampling.max_new_tokens})"
            )
        _check_answer_room(self)

    def check_request(
        self, question: str = "", choices: Sequence[str] = (), goal: str = ""
    ) -> CheckedRequest:
        """A request as it enters (service, action, CLI), checked once into the type
        ``Reasoner.decide`` trusts.

        Args:
            question: The question; empty or blank means the configured default (resolved when
                the decision is made, so a live change of ``question`` applies to it).
            choices: Optional multiple-choice options: allowed actions, unique, non-empty.
            goal: The task's overall goal; empty means the configured one (likewise).

        Raises:
            InputError: The question or goal is too long, not text or holds NUL characters;
                the choices are too many, empty strings, duplicates or not allowed actions.
        """
        question = _checked_text("question", question, self.max_question_chars, InputError)
        goal = _checked_text("goal", goal, self.max_question_chars, InputError)
        if isinstance(choices, str):
            raise InputError("choices must be a list of action names, got a single string")
        if len(choices) > self.max_choices:
            raise InputError(f"{len(choices)} choices given; max_choices is {self.max_choices}")
        names: tuple[str, ...] = ()
        if choices:
            space = self.action_space.restricted_to(choices, self.max_choices)
            names = tuple(a.name for a in space.actions)
        return CheckedRequest(question, names, goal)


@dataclass(frozen=True)
class CheckedRequest:
    """A checked request: what ``Reasoner.decide`` asks, trusted as it is.

    Made by ``ReasonerConfig.check_request`` (``Reasoner.validate_request``) where the request
    enters; ``CheckedRequest()`` asks the configured default question.

    Attributes:
        question: The question to ask ("" = the configured default).
        choices: Allowed actions to choose from (() = the whole action space).
        goal: The task's overall goal ("" = the configured one).
    """

    question: str = ""
    choices: tuple[str, ...] = ()
    goal: str = ""


def _checked_text(name: str, text: object, limit: int, error: type[Exception]) -> str:
    """``text`` stripped, if usable as a question or goal; raises ``error`` if not."""
    if not isinstance(text, str):
        raise error(f"{name} must be a string, got {type(text).__name__}")
    text = text.strip()
    if len(text) > limit:
        raise error(f"{name} is {len(text)} characters; max_question_chars is {limit}")
    if "\x00" in text:
        raise error(f"{name} contains NUL characters")
    return text


def _check_answer_room(config: ReasonerConfig) -> None:
    """Refuse budgets that cannot hold the answer after the thinking, naming the parameters."""
    check_answer_room(
        config,
        answer_schema(config.action_space, config),
        "the shortest answer with the longest action name",
    )


def check_answer_room(config: ReasonerConfig, schema: dict[str, Any], answer: str) -> None:
    """Refuse budgets that cannot hold an answer of ``schema`` (described as ``answer``) and the
    profile's markers after the thinking, naming the parameters.

    Raises:
        ConfigError: ``max_new_tokens - max_thinking_tokens`` is below what the answer needs.
    """
    profile = profile_for(config.profile, "qwen2_5_vl") if config.profile != "auto" else None
    prefixes = [p for p in PROFILE_OBJECTS if profile is None or p is profile]
    markers = max(len((p.answer_prefix + p.answer_suffix).encode("utf-8")) for p in prefixes)
    needed = shortest_answer_bytes(schema) + markers + 1
    room = config.sampling.max_new_tokens - config.max_thinking_tokens
    if room < needed:
        raise ConfigError(
            f"max_new_tokens ({config.sampling.max_new_tokens}) minus max_thinking_tokens "
            f"({config.max_thinking_tokens}) leaves {room} tokens for the answer, which needs "
            f"up to {needed} ({answer}, and its markers); raise max_new_tokens or lower "
            "max_thinking_tokens"
        )


def answer_schema(space: ActionSpace, config: ReasonerConfig) -> dict[str, Any]:
    return space.answer_schema(
        max_target_chars=config.max_target_chars,
        max_reason_chars=config.max_reason_chars,
        max_parameters=config.max_parameters,
    )


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
        self, question: str = "", choices: Sequence[str] = (), goal: str = ""
    ) -> CheckedRequest:
        """Checks a request where it enters, under the current config
        (``ReasonerConfig.check_request``); ``decide`` trusts the result.

        Raises:
            InputError: The request is unusable; the message says why.
        """
        return self.config.check_request(question, choices, goal)

    def decide(
        self,
        snapshot: WindowSnapshot,
        *,
        decision_id: int,
        request: CheckedRequest | None = None,
        on_text: TextCallback | None = None,
        cancel: threading.Event | None = None,
        snapshot_s: float = 0.0,
    ) -> Decision:
        """Asks the model about ``snapshot`` and returns a validated decision.

        An answer that does not parse or validate gives ``valid=False``, the fallback action
        and a reason; it does not raise.

        Args:
            snapshot: The frames to reason over, one clip per camera.
            decision_id: Sequence number of the decision.
            request: What to ask, as ``validate_request`` checked it where it entered; None:
                the configured default question and goal.
            on_text: Streaming callback, called from this thread while generating, with the
                text as ``raw_text`` keeps it (no control characters, which a ROS string
                cannot always carry: a NUL ends it).
            cancel: When set, generation stops and ``GenerationCancelled`` is raised.
            snapshot_s: Seconds the caller spent taking the snapshot (added to the latency).

        Returns:
            The decision, stamped with the snapshot's frames.

        Raises:
            InputError: The snapshot is empty, or a choice is no longer an allowed action.
            BackendError: The backend failed (propagated unchanged).
            GenerationCancelled: ``cancel`` was set during generation.
        """
        start = time.perf_counter()
        config = self.config
        if snapshot.empty:
            raise InputError("the frame window is empty: no frames to reason over yet")
        request = request or CheckedRequest()
        question = request.question or config.question
        choices, goal = request.choices, request.goal or config.goal
        space = config.action_space
        if choices:  # counted at entry; the actions may have changed live since
            space = space.restricted_to(choices, len(choices))
        info = self._backend.describe()
        profile = profile_for(config.profile, info.architecture)
        generation = GenerationRequest(
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
        result = self._backend.generate(generation)
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
            **snapshot_stamps(snapshot),
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
        stamps = (
            snapshot_stamps(snapshot)
            if snapshot is not None and not snapshot.empty
            else SnapshotStamps()
        )
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


class SnapshotStamps(TypedDict, total=False):
    """The ``Decision`` fields that say which frames a decision was made from."""

    stamp_ns: int
    frame_id: str
    window_start_ns: int
    frame_count: int
    frame_stamps_ns: tuple[tuple[str, tuple[int, ...]], ...]


def snapshot_stamps(snapshot: WindowSnapshot) -> SnapshotStamps:
    """The stamps a decision record carries of the frames it was made from."""
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
