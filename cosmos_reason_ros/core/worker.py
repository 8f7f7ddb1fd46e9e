"""One inference worker: a single thread that runs jobs one at a time from a bounded queue.

The node never runs the model in an executor callback. Triggers submit jobs here; a job that
arrives while the queue is full is refused at once (``QueueFullError``) with a message naming
the queue. Each job gets its own cancel event and an optional deadline, counted from its
submission, so a job that waits behind others has one too: when the deadline passes, the
event is set (a well-behaved backend stops within a token or two) and the job's future fails
with ``GenerationTimeout`` at once, even if the backend ignores the event; a job still waiting
gives its place back. A job that is about to deliver its result (publish a decision) first
claims it (``CancelEvent.claim``): from then on neither its deadline nor a cancel or a stop
fails it (it settles when the delivery ends), and a job whose deadline came first cannot
claim, so no caller is told "timed out" about a decision that is published anyway.

``close`` (refuse new jobs, fail every pending and running one with "node is stopping", but a
running one that claimed its result) and ``join`` are the two halves of ``stop``: a caller
first answers everyone, then waits as long as it can afford for the running job to end.

Thread-safety: ``submit``, ``reserve``, ``cancel_all``, ``stats``, ``close``, ``join`` and
``stop`` may be called from any thread.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import queue
import threading
import time
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

STOPPING = "node is stopping"
"""What every job still waiting or running is told when the worker closes."""


class QueueFullError(CosmosReasonError):
    """The worker's queue is full; the request was refused."""


class WorkerStopped(CosmosReasonError):
    """The worker is closed (the node is stopping); the request was refused."""


@dataclass(frozen=True)
class WorkerStats:
    """A consistent view of the worker: is a job running, how many wait."""

    busy: bool
    pending: int
    max_pending: int


class CancelEvent(threading.Event):
    """A job's cancel event, which the job can close before it delivers its result.

    ``claim`` (the job, just before it publishes) and ``cancel`` (a deadline, a cancel, a stop)
    exclude each other: a result is either claimed and delivered, or cancelled (its future
    settled by the canceller, inside the exclusion) and never published; a caller is never told
    "timed out" about a decision that is then published. ``set`` is ``cancel``.
    """

    def __init__(self) -> None:
        super().__init__()
        self._guard = threading.Lock()
        self._claimed = False

    def cancel(self, settle: Callable[[], object] | None = None) -> bool:
        """Set the event unless the job claimed its result; returns whether it was set.

        Args:
            settle: Run first, under the exclusion (e.g. fail the job's future), so that
                nothing the job does after a failed ``claim`` settles it before.
        """
        with self._guard:
            if self._claimed:
                return False
            if settle is not None:
                settle()
            super().set()
            return True

    def set(self) -> None:
        self.cancel()

    def claim(self) -> bool:
        """Claim the result for delivery unless the job was cancelled; after a True, ``cancel``
        does nothing."""
        with self._guard:
            if self.is_set():
                return False
            self._claimed = True
            return True


class Job(Generic[T]):
    """A submitted job: its future, and its cancel event (set by ``cancel()``)."""

    def __init__(self, fn: Callable[[CancelEvent], T], timeout_s: float | None) -> None:
        self.fn = fn
        self.timeout_s = timeout_s
        self.submitted = time.monotonic()
        self.cancel_event = CancelEvent()
        self.future: Future[T] = Future()

    def cancel(self) -> bool:
        """Ask the job to stop unless it claimed its result (then False: it is delivering it);
        a well-behaved backend stops within a token or two."""
        return self.cancel_event.cancel()


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

    A second thread watches the jobs' deadlines.

    Args:
        max_pending: Jobs that may wait while one runs; more are refused.
        name: Thread name.
    """

    def __init__(self, max_pending: int, name: str = "cosmos_reason_worker") -> None:
        self._max_pending = max_pending
        self._queue: queue.Queue[object] = queue.Queue()
        self._lock = threading.Lock()
        self._deadline_changed = threading.Condition(self._lock)
        self._deadlines: list[tuple[float, int, Job[object]]] = []  # a heap
        self._order = itertools.count()
        self._pending: list[Job[object]] = []
        self._running: Job[object] | None = None
        self._reserved = 0
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._watcher = threading.Thread(target=self._watch, name=f"{name}_deadlines", daemon=True)
        self._thread.start()
        self._watcher.start()

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
            WorkerStopped: The worker is closed.
        """
        with self._lock:
            self._check_room()
            self._reserved += 1
        return Reservation(self)

    def submit(
        self,
        fn: Callable[[CancelEvent], T],
        timeout_s: float | None = None,
        reservation: Reservation | None = None,
    ) -> Job[T]:
        """Queue ``fn(cancel_event)``; returns the job (its ``future`` settles with the result).

        Args:
            fn: The work; it receives the job's cancel event.
            timeout_s: Deadline of the job, counted from now (its wait in the queue
                included); None: none.
            reservation: A place held by ``reserve()``; it is used up here.

        Raises:
            QueueFullError: ``max_pending`` jobs already wait behind a running one.
            WorkerStopped: The worker is closed.
        """
        job: Job[T] = Job(fn, timeout_s)
        with self._lock:
            if self._closed:
                if reservation is not None and reservation.take():
                    self._reserved -= 1
                raise WorkerStopped(STOPPING)
            if reservation is not None and reservation.take():
                self._reserved -= 1
            else:
                self._check_room()
            queued: Job[object] = job  # type: ignore[assignment]
            self._pending.append(queued)
            if timeout_s is not None:
                entry = (job.submitted + timeout_s, next(self._order), queued)
                heapq.heappush(self._deadlines, entry)
                self._deadline_changed.notify()
        self._queue.put(job)
        return job

    def _check_room(self) -> None:
        """Raise unless one more job fits (call with the lock held)."""
        if self._closed:
            raise WorkerStopped(STOPPING)
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

    def cancel_all(self, reason: str = STOPPING) -> None:
        """Cancel the running job and every pending one; each future fails with
        ``GenerationCancelled(reason)`` now, whatever the running job does, except a job that
        claimed its result: it settles when its delivery ends (a publish: milliseconds)."""
        with self._lock:
            jobs = [*self._pending, *([self._running] if self._running else [])]
            self._pending.clear()
        for job in jobs:
            job.cancel_event.cancel(_failing(job.future, GenerationCancelled(reason)))

    def close(self) -> None:
        """Refuse new jobs (``WorkerStopped``) and cancel every job (``cancel_all``): every
        caller is answered now (one whose decision is being published, when it is). Returns at
        once; ``join`` waits for the running job."""
        with self._lock:
            self._closed = True
            self._deadline_changed.notify_all()
        self.cancel_all()
        self._queue.put(_STOP)

    def join(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for the worker thread to end (after ``close``); returns
        whether it did. A job still in native code (a long prefill) may outlast any wait: the
        caller must then neither release the model nor let the interpreter finalize under it
        (a daemon thread in C++ at exit aborts the process: "terminate called without an
        active exception")."""
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> bool:
        """``close``, then ``join(timeout_s)``. Returns whether the thread ended in time.

        The running job ends at its next cancellation check (one model step; a prefill is one
        step, and no cancellation reaches inside it).
        """
        self.close()
        return self.join(timeout_s)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            job: Job[object] = item  # type: ignore[assignment]
            with self._lock:
                if job not in self._pending:  # expired or cancelled while it waited
                    continue
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
        try:
            result = job.fn(job.cancel_event)
        except BaseException as exc:  # handed to the caller through the future
            _fail(job.future, exc)
        else:
            # Already timed out or cancelled: the result is late and dropped.
            with contextlib.suppress(InvalidStateError):
                job.future.set_result(result)

    def _watch(self) -> None:
        """Fail each job at its deadline (the deadlines thread)."""
        while True:
            with self._deadline_changed:
                while True:
                    if self._closed:
                        return
                    heap = self._deadlines
                    while heap and heap[0][2].future.done():
                        heapq.heappop(heap)  # settled: nothing to enforce
                    now = time.monotonic()
                    if heap and heap[0][0] <= now:
                        job = heapq.heappop(heap)[2]
                        waiting = job in self._pending
                        if waiting:
                            self._pending.remove(job)  # its place is free again
                        break
                    self._deadline_changed.wait(heap[0][0] - now if heap else None)
            self._expire(job, waiting)

    @staticmethod
    def _expire(job: Job[object], waiting: bool) -> None:
        timeout_s = job.timeout_s or 0.0
        if waiting:
            exc = GenerationTimeout(
                f"no decision within {timeout_s:g} s: the request waited that long behind "
                "others without starting"
            )
        else:
            exc = GenerationTimeout(f"inference timed out after {timeout_s:g} s")
        settled: list[bool] = []
        # A job that claimed its result is delivering it: its deadline no longer applies.
        job.cancel_event.cancel(lambda: settled.append(_fail(job.future, exc)))
        if any(settled):
            _LOG.warning("inference timed out after timeout_s=%.1f waiting=%s", timeout_s, waiting)


def _failing(future: Future[T], exc: BaseException) -> Callable[[], bool]:
    """``_fail(future, exc)``, to run later."""
    return lambda: _fail(future, exc)


def _fail(future: Future[T], exc: BaseException) -> bool:
    """Fail ``future`` unless it is already settled; returns whether this call settled it."""
    try:
        future.set_exception(exc)
    except InvalidStateError:
        return False
    return True
