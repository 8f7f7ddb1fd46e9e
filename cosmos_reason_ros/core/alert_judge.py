"""``AlertJudge``: one model call judges every alert rule on a window snapshot.

It asks with the model's prompt profile and the reasoner's sampling and thinking budgets
(``ReasonerConfig``), constrains the answer to ``alerts.judgment_schema`` where the backend can,
and returns the parsed judgment with a ``Decision`` that records its chain of thought, so the
node publishes it on ``~/reasoning`` as it does for decisions (same ``decision_id`` sequence).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cosmos_reason_ros.core.alerts import (
    AlertRule,
    ParsedJudgment,
    judgment_schema,
    judgment_text,
    parse_judgment,
)
from cosmos_reason_ros.core.answer import RAW_TEXT_MAX_CHARS, clean_text
from cosmos_reason_ros.core.decision import Decision, DecisionTimings
from cosmos_reason_ros.core.errors import InputError
from cosmos_reason_ros.core.generation import Backend, GenerationRequest
from cosmos_reason_ros.core.prompts import PromptProfile, profile_for
from cosmos_reason_ros.core.reasoner import ReasonerConfig, check_answer_room, snapshot_stamps
from cosmos_reason_ros.core.types import WindowSnapshot

_LOG = logging.getLogger(__name__)

__all__ = ["AlertJudge", "Judgment", "check_judgment_room"]


@dataclass(frozen=True)
class Judgment:
    """One judgment of every rule on one window.

    Attributes:
        parsed: The verdicts (``parsed.valid`` false: none usable, ``parsed.error`` says why).
        record: The judgment as a decision record for ``~/reasoning``: id, question (the rules),
            chain of thought, answer, stamps of the frames judged, token counts and timings.
            Its ``action`` is "" (a judgment chooses no action).
        cameras: The cameras judged, as the prompt labels them.
    """

    parsed: ParsedJudgment
    record: Decision
    cameras: tuple[str, ...]


class AlertJudge:
    """Judges rules with one backend.

    Thread-safety: ``judge`` runs on the inference worker, one call at a time (the backend's
    rule); the config is read once per call.

    Args:
        backend: The loaded model backend (shared with the Reasoner).
        config: Returns the reasoner's current config (sampling, thinking budget, profile,
            camera labels, constrained decoding).
    """

    def __init__(self, backend: Backend, config: Callable[[], ReasonerConfig]) -> None:
        self._backend = backend
        self._config = config

    def judge(
        self,
        snapshot: WindowSnapshot,
        rules: Sequence[AlertRule],
        *,
        decision_id: int,
        cancel: threading.Event | None = None,
    ) -> Judgment:
        """Ask the model about every rule on ``snapshot``.

        Raises:
            InputError: The snapshot is empty.
            BackendError: The backend failed (propagated unchanged).
            GenerationCancelled: ``cancel`` was set during generation.
        """
        start = time.perf_counter()
        if snapshot.empty:
            raise InputError("the frame window is empty: no frames to judge yet")
        config = self._config()
        info = self._backend.describe()
        profile = profile_for(config.profile, info.architecture)
        labels = dict(config.camera_labels)
        text = judgment_text(rules)
        request = GenerationRequest(
            messages=profile.build_text_messages(
                text, snapshot.clips, labels=labels, reasoning=config.max_thinking_tokens > 0
            ),
            clips=snapshot.clips,
            sampling=config.sampling,
            answer_format=profile.answer_format(
                judgment_schema(rules), config.max_thinking_tokens, config.max_thinking_s
            ),
            constrained=config.constrained,
            cancel=cancel,
        )
        result = self._backend.generate(request)
        if result.answer_json is not None:
            parsed = parse_judgment(result.answer_json, rules, result.thinking or "")
        else:
            thinking, answer = _split(clean_text(result.text, RAW_TEXT_MAX_CHARS), profile)
            parsed = parse_judgment(answer, rules, thinking)
        latency_s = time.perf_counter() - start
        record = Decision(
            decision_id=decision_id,
            action="",
            valid=parsed.valid,
            reason=parsed.error,
            confidence=parsed.confidence,
            question=text,
            thinking=parsed.thinking,
            answer=parsed.answer_text,
            raw_text=clean_text(result.text, RAW_TEXT_MAX_CHARS),
            model=info.model,
            **snapshot_stamps(snapshot),
            prompt_tokens=result.prompt_tokens,
            generated_tokens=result.generated_tokens,
            thinking_ended_by=result.thinking_ended_by,
            timings=dataclasses.replace(
                DecisionTimings(),
                latency_s=latency_s,
                time_to_first_token_s=result.time_to_first_token_s,
                thinking_s=result.thinking_s,
            ),
        )
        _LOG.info(
            "judgment decision_id=%d valid=%s positive=%s latency_s=%.3f%s",
            decision_id,
            parsed.valid,
            ",".join(v.rule for v in parsed.verdicts if v.positive) or "-",
            latency_s,
            "" if parsed.valid else f" error={parsed.error!r}",
        )
        cameras = tuple(labels.get(c.camera, c.camera) for c in snapshot.clips)
        return Judgment(parsed, record, cameras)


def check_judgment_room(config: ReasonerConfig, rules: Sequence[AlertRule]) -> None:
    """Refuse a thinking budget that leaves too few tokens for the judgment of ``rules`` (every
    rule adds a verdict to the one answer), as ``ReasonerConfig`` does for a decision.

    Raises:
        ConfigError: ``max_new_tokens - max_thinking_tokens`` is below what the shortest
            judgment of ``rules`` and the profile's markers need; the message names both.
    """
    if rules:
        check_answer_room(
            config, judgment_schema(rules), f"the shortest judgment of {len(rules)} rules"
        )


def _split(text: str, profile: PromptProfile) -> tuple[str, str]:
    """(thinking, answer part) of unconstrained ``text``: the answer follows the profile's
    ``</think>`` (or the whole text without one); ``parse_judgment`` finds the object in it."""
    end = text.find(profile.think_end)
    if end < 0:
        return "", text
    thinking = text[:end].lstrip()
    if thinking.startswith(profile.think_start):
        thinking = thinking[len(profile.think_start) :]
    return thinking, text[end + len(profile.think_end) :]
