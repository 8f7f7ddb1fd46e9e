"""One inference worker: a single thread that runs jobs one at a time from a bounded queue.

The node never runs the model in an executor callback. Triggers submit jobs here; a job that
arrives while the queue is full is refused at once (``QueueFullError``) with a message naming
the queue. Each job gets its own cancel event and an optional deadline: when the deadline
passes, the event is set (a well-behaved backend stops within a token or two) and the job's
future fails with ``GenerationTimeout`` at once, even if the backend ignores the event.

Thread-safety: ``submit``, ``cancel_all``, ``stats`` and ``stop`` may be called from any
thread.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass
from typing import Generic, TypeVar

from cosmos_reason_ros.core.errors import (
    CosmosReasonError,
    GenerationCancelled,
    GenerationTimeout,
)

_LOG = logging.getLogger(__name__)

T = TypeVar("T")


class QueueFullError(CosmosReasonError):
    """The worker's queue is full; the request was refused."""


@dataclass(frozen=True)
class WorkerStats:
    """A consistent view of the worker: is a job running, how many wait."""

    busy: bool
    pending: int
    max_pending: int


class Job(Generic[T]):
    """A submitted job: its future, and its cancel event (set by ``cancel()``)."""

    def __init__(self, fn: Callable[[threading.Event], T], timeout_s: float | None) -> None:
        self.fn = fn
        self.timeout_s = timeout_s
        self.cancel_event = threading.Event()
        self.future: Future[T] = Future()

    def cancel(self) -> None:
        """Ask the job to stop; a well-behaved backend stops within a token or two."""
        self.cancel_event.set()


class Reservation:
    """A place in the worker's queue held for one later ``submit``; ``release`` gives it back
    unused. Thread-safe; using or releasing it twice does nothing."""

    def __init__(self, worker: InferenceWorker) -> None:
        self._worker = worker
        self._lock = threading.Lock()
        self._held = True

    def take(self) -> bool:
        """Mark the place used; True the first time only (the worker calls this)."""
        with self._lock:
            held, self._held = self._held, False
            return held

    def release(self) -> None:
        """Give the place back without submitting."""
        self._worker._release(self)


_STOP = object()


STOP_TIMEOUT_S = 120.0
"""Longest wait in ``InferenceWorker.stop`` for the running job to notice its cancellation."""


class InferenceWorker:
    """Runs submitted jobs on one thread, in order, with at most ``max_pending`` waiting.

    Args:
        max_pending: Jobs that may wait while one runs; more are refused.
        name: Thread name.
    """

    def __init__(self, max_pending: int, name: str = "cosmos_reason_worker") -> None:
        self._max_pending = max_pending
        self._queue: queue.Queue[object] = queue.Queue()
        self._lock = threading.Lock()
        self._pending: list[Job[object]] = []
        self._running: Job[object] | None = None
        self._reserved = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    @property
    def max_pending(self) -> int:
        return self._max_pending

    @max_pending.setter
    def max_pending(self, value: int) -> None:
        with self._lock:
            self._max_pending = value

    def stats(self) -> WorkerStats:
        with self._lock:
            pending = len(self._pending) + self._reserved
            return WorkerStats(self._running is not None, pending, self._max_pending)

    def idle(self) -> bool:
        """True when nothing runs, waits or is reserved."""
        with self._lock:
            return self._running is None and not self._pending and not self._reserved

    def reserve(self) -> Reservation:
        """Hold a place for a job submitted later (an action goal between its acceptance and
        its submission), so that the goal is refused now rather than failed later.

        Raises:
            QueueFullError: No place is free.
        """
        with self._lock:
            self._check_room()
            self._reserved += 1
        return Reservation(self)

    def submit(
        self,
        fn: Callable[[threading.Event], T],
        timeout_s: float | None = None,
        reservation: Reservation | None = None,
    ) -> Job[T]:
        """Queue ``fn(cancel_event)``; returns the job (its ``future`` settles with the result).

        Args:
            fn: The work; it receives the job's cancel event.
            timeout_s: Deadline of the job once it starts; None: none.
            reservation: A place held by ``reserve()``; it is used up here.

        Raises:
            QueueFullError: ``max_pending`` jobs already wait behind a running one.
        """
        job: Job[T] = Job(fn, timeout_s)
        with self._lock:
            if reservation is not None and reservation.take():
                self._reserved -= 1
            else:
                self._check_room()
            self._pending.append(job)  # type: ignore[arg-type]
        self._queue.put(job)
        return job

    def _check_room(self) -> None:
        """Raise ``QueueFullError`` unless one more job fits (call with the lock held)."""
        waiting = len(self._pending) + self._reserved
        if waiting >= self._max_pending + (0 if self._running is not None else 1):
            running = 1 if self._running is not None else 0
            raise QueueFullError(
                f"inference queue full: {running} running and {waiting} pending "
                f"(max_pending={self._max_pending}); try again later"
            )

    def _release(self, reservation: Reservation) -> None:
        with self._lock:
            if reservation.take():
                self._reserved -= 1

    def cancel_all(self) -> None:
        """Cancel the running job and every pending one."""
        with self._lock:
            jobs = [*self._pending, *([self._running] if self._running else [])]
        for job in jobs:
            job.cancel_event.set()
            _fail(job.future, GenerationCancelled("cancelled: the node is stopping"))

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> bool:
        """Cancel everything and end the thread. Returns whether it ended in time.

        The running job ends at its next cancellation check (one model step, a long prefill
        included), and this waits for it: its model must not be released under it, and a
        thread still in native code when the process exits aborts the process (Python ends
        daemon threads with ``pthread_exit``, which unwinds through C++: "terminate called
        without an active exception": 1 of 10 SIGINTs with 4 cameras on 2 cores, when this
        waited 5 s; the running decision took up to 7.9 s to end after its cancellation).
        """
        self.cancel_all()
        self._queue.put(_STOP)
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            job: Job[object] = item  # type: ignore[assignment]
            with self._lock:
                self._pending.remove(job)
                self._running = job
            try:
                self._execute(job)
            finally:
                with self._lock:
                    self._running = None

    def _execute(self, job: Job[object]) -> None:
        if job.future.done():  # timed out or cancelled while it waited
            return
        if job.cancel_event.is_set():
            _fail(job.future, GenerationCancelled("cancelled before it started"))
            return
        timer = None
        if job.timeout_s is not None:
            timer = threading.Timer(job.timeout_s, self._expire, args=(job,))
            timer.daemon = True
            timer.start()
        try:
            result = job.fn(job.cancel_event)
        except BaseException as exc:  # handed to the caller through the future
            _fail(job.future, exc)
        else:
            # Already timed out or cancelled: the result is late and dropped.
            with contextlib.suppress(InvalidStateError):
                job.future.set_result(result)
        finally:
            if timer is not None:
                timer.cancel()

    @staticmethod
    def _expire(job: Job[object]) -> None:
        job.cancel_event.set()
        if _fail(job.future, GenerationTimeout(f"inference timed out after {job.timeout_s:g} s")):
            _LOG.warning("inference timed out after timeout_s=%.1f", job.timeout_s)


def _fail(future: Future[T], exc: BaseException) -> bool:
    """Fail ``future`` unless it is already settled; returns whether this call settled it."""
    try:
        future.set_exception(exc)
    except InvalidStateError:
        return False
    return True
