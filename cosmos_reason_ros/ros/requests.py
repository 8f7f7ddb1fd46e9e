"""What a request (service, action, timer) comes to, and the one place that turns any failure
into a clear message for ``success=false``."""

from __future__ import annotations

import logging
from concurrent.futures import Future
from dataclasses import dataclass

from cosmos_reason_ros.core.decision import Decision
from cosmos_reason_ros.core.errors import (
    BackendError,
    ConfigError,
    CosmosReasonError,
    GenerationCancelled,
    GenerationTimeout,
    InputError,
)
from cosmos_reason_ros.core.worker import QueueFullError, WorkerStopped

_LOG = logging.getLogger(__name__)


class Refused(CosmosReasonError):
    """A request the node declines before queueing it (not active, no fresh camera, …); the
    message is sent as it is."""


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
    if isinstance(exc, (QueueFullError, Refused, WorkerStopped)):
        return str(exc)
    if isinstance(exc, (InputError, ConfigError)):
        return f"bad request: {exc}"
    if isinstance(exc, BackendError):
        return f"backend failed: {exc}"
    if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":
        return "backend failed: out of memory"  # torch.OutOfMemoryError: no torch import here
    return f"internal error: {type(exc).__name__}: {exc}"


def outcome_of(future: Future[Decision]) -> Outcome:
    """The outcome of a finished job's future. Never raises; unexpected failures are logged
    with their traceback."""
    exc = future.exception()
    if exc is None:
        return Outcome(True, "", future.result())
    if isinstance(exc, GenerationCancelled):
        return Outcome(False, failure_message(exc), cancelled=True)
    if not isinstance(exc, CosmosReasonError):
        _LOG.error("decision failed unexpectedly", exc_info=exc)
    return Outcome(False, failure_message(exc))
