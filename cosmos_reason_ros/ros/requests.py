"""Turning a request (service, action, timer) into a decision on the worker, and any failure
into one clear message. The one place that maps engine errors to ``success=false``."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

from cosmos_reason_ros.core.decision import Decision
from cosmos_reason_ros.core.errors import (
    BackendError,
    ConfigError,
    GenerationCancelled,
    GenerationTimeout,
    InputError,
)
from cosmos_reason_ros.core.reasoner import Reasoner
from cosmos_reason_ros.core.worker import Job, QueueFullError

_LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """What a request came to: a decision, or why not."""

    success: bool
    message: str
    decision: Decision | None = None
    cancelled: bool = False


def failure_message(exc: BaseException) -> str:
    """One clear sentence for any failure of a request."""
    if isinstance(exc, GenerationTimeout):
        return f"inference timed out: {exc}"
    if isinstance(exc, GenerationCancelled):
        return f"cancelled: {exc}" if str(exc) else "cancelled"
    if isinstance(exc, QueueFullError):
        return str(exc)
    if isinstance(exc, (InputError, ConfigError)):
        return f"bad request: {exc}"
    if isinstance(exc, BackendError):
        return f"backend failed: {exc}"
    if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":
        return "backend failed: out of memory"  # torch.OutOfMemoryError: no torch import here
    return f"internal error: {type(exc).__name__}: {exc}"


def validated_request(
    reasoner: Reasoner, question: str, choices: Sequence[str]
) -> tuple[str, tuple[str, ...]]:
    """``reasoner.validate_request``, after the size limits, which are checked here first so
    that the message names the parameter to change (and a huge request is not processed)."""
    cfg = reasoner.config
    if len(question) > cfg.max_question_chars:
        raise InputError(
            f"question is {len(question)} characters; max_question_chars is "
            f"{cfg.max_question_chars}"
        )
    if len(choices) > cfg.max_choices:
        raise InputError(f"{len(choices)} choices given; max_choices is {cfg.max_choices}")
    return reasoner.validate_request(question, choices)


def wait_for(
    job: Job[Decision], cancel_requested: Callable[[], bool] = lambda: False, poll_s: float = 0.02
) -> Outcome:
    """Wait for ``job``; cancel it when ``cancel_requested()`` turns true. Never raises."""
    future: Future[Decision] = job.future
    while True:
        if cancel_requested() and not job.cancel_event.is_set():
            job.cancel()
        try:
            decision = future.result(timeout=poll_s)
        except FutureTimeout:
            continue
        except GenerationCancelled as exc:
            return Outcome(False, failure_message(exc), cancelled=True)
        except Exception as exc:  # the one boundary: every failure becomes a message
            if not isinstance(exc, (BackendError, InputError, ConfigError, QueueFullError)):
                _LOG.exception("decision failed unexpectedly")
            return Outcome(False, failure_message(exc))
        return Outcome(True, "", decision)


def elapsed_since(t0: float) -> float:
    return time.monotonic() - t0
