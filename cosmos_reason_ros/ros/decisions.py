"""Decisions on the inference worker: requests from the servers and periodic ticks in, each
decision published. Nothing here waits for the model in a ROS callback: jobs are queued (or
refused at once) and finish on the worker thread.
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
import time
from concurrent.futures import Future

from rclpy.lifecycle import LifecycleNode

from cosmos_reason_ros.config import NodeConfig
from cosmos_reason_ros.core.decision import Decision
from cosmos_reason_ros.core.errors import GenerationCancelled
from cosmos_reason_ros.core.generation import TextCallback
from cosmos_reason_ros.core.reasoner import CheckedRequest, Reasoner
from cosmos_reason_ros.core.window import WindowSet
from cosmos_reason_ros.core.worker import (
    STOP_TIMEOUT_S,
    CancelEvent,
    InferenceWorker,
    Job,
    QueueFullError,
    Reservation,
    WorkerStopped,
)
from cosmos_reason_ros.ros.cameras import Camera, fresh_snapshot
from cosmos_reason_ros.ros.diagnostics import DecisionCounters
from cosmos_reason_ros.ros.memory import release_free_memory
from cosmos_reason_ros.ros.outputs import Outputs
from cosmos_reason_ros.ros.requests import Outcome, failure_message
from cosmos_reason_ros.ros.servers import Request


class Decisions:
    """The decision pipeline of one activation. Thread-safe.

    Args:
        node: The node (logger, clock, context).
        reasoner: The configured Reasoner.
        outputs: Where decisions are published.
        cameras: The cameras feeding ``windows``.
        windows: The frame windows.
        config: The configuration at activation (``update`` changes the live parts).
        counters: Decision counters shared with diagnostics (guarded by ``lock``).
        lock: Guards ``counters``.
    """

    def __init__(
        self,
        node: LifecycleNode,
        *,
        reasoner: Reasoner,
        outputs: Outputs,
        cameras: list[Camera],
        windows: WindowSet,
        config: NodeConfig,
        counters: DecisionCounters,
        lock: threading.Lock,
    ) -> None:
        self._node = node
        self._reasoner = reasoner
        self._outputs = outputs
        self._cameras = cameras
        self._windows = windows
        self._config = config
        self._counters = counters
        self._lock = lock
        self._ids = itertools.count(1)
        self.worker = InferenceWorker(config.max_pending)

    def next_id(self) -> int:
        """The next ``decision_id``: judgments of alert rules share the sequence."""
        return next(self._ids)

    def update(self, config: NodeConfig) -> None:
        """Take the live parameters of ``config`` (the reasoner is reconfigured by the node)."""
        self._config = config
        self.worker.max_pending = config.max_pending

    def close(self) -> None:
        """Refuse new requests and answer every queued and running one now ("node is
        stopping"); the running decision is cancelled, unless it is being published (then its
        caller gets it when the publish ends). Returns at once (``join`` waits)."""
        self.worker.close()

    def join(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for the running decision to end (after ``close``); returns
        whether it did."""
        return self.worker.join(timeout_s)

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> bool:
        """``close``, then wait up to ``timeout_s`` for the running decision to end; returns
        whether it did (if not, its model must not be released under it)."""
        started = time.monotonic()
        self.close()
        ended = self.join(timeout_s)
        if not ended:
            self._node.get_logger().error(
                f"the decision in progress did not end within {timeout_s:g} s of its "
                "cancellation (a prefill cannot be interrupted)"
            )
        elif time.monotonic() - started > 1.0:
            self._node.get_logger().info(
                f"waited {time.monotonic() - started:.1f} s for the decision in progress to end"
            )
        return ended

    # ----- the Submitter of the servers ------------------------------------------------
    def submit(
        self,
        request: Request,
        on_text: TextCallback | None = None,
        reservation: Reservation | None = None,
    ) -> Job[Decision]:
        """Check ``request`` (the one check of a service or action request) and queue it;
        raises ``CosmosReasonError`` to refuse it."""
        checked = self._reasoner.validate_request(request.question, request.choices, request.goal)
        return self.worker.submit(
            lambda cancel: self._decide(checked, on_text, cancel),
            timeout_s=self._config.inference_timeout_s,
            reservation=reservation,
        )

    def reserve(self) -> Reservation:
        return self.worker.reserve()

    def failed(self, outcome: Outcome) -> None:
        with self._lock:
            self._counters.failed += 1

    # ----- periodic decisions ----------------------------------------------------------
    def tick(self) -> None:
        """A periodic decision, unless the worker is busy (then it is counted as skipped)."""
        job = None
        if self.worker.idle():
            try:
                job = self.worker.submit(
                    lambda cancel: self._decide(CheckedRequest(), None, cancel),
                    timeout_s=self._config.inference_timeout_s,
                )
            except (QueueFullError, WorkerStopped):  # a request took the place, or stopping
                job = None
        if job is None:
            with self._lock:
                self._counters.skipped += 1
            return
        job.future.add_done_callback(self._after_tick)

    def _after_tick(self, future: Future[Decision]) -> None:
        exc = future.exception()
        if exc is None or isinstance(exc, GenerationCancelled) or not self._node.context.ok():
            return  # cancelled: the node is deactivating or shutting down; nothing to report
        message = failure_message(exc)
        self.failed(Outcome(False, message))
        self._node.get_logger().warning(
            f"periodic decision failed: {message}", throttle_duration_sec=10.0
        )
        if self._config.publish_on_failure:
            decision = self._reasoner.fallback(next(self._ids), message)
            now_ns = self._node.get_clock().now().nanoseconds
            self._outputs.publish(dataclasses.replace(decision, stamp_ns=now_ns), None, False)

    # ----- the job (worker thread) -----------------------------------------------------
    def _decide(
        self,
        request: CheckedRequest,
        on_text: TextCallback | None,
        cancel: CancelEvent,
    ) -> Decision:
        t0 = time.monotonic()
        snapshot = fresh_snapshot(self._cameras, self._windows, self._config.max_frame_age_s)
        try:
            decision = self._reasoner.decide(
                snapshot,
                decision_id=next(self._ids),
                request=request,
                on_text=on_text,
                cancel=cancel,
                snapshot_s=time.monotonic() - t0,
            )
            if not cancel.claim():  # timed out or cancelled meanwhile: never publish it late
                raise GenerationCancelled(f"decision {decision.decision_id} finished too late")
            self._outputs.publish(decision, snapshot, self._config.debug_image)
        finally:
            release_free_memory()  # the decision's working set is free now: give it back
        with self._lock:
            self._counters.made += 1
            self._counters.invalid += 0 if decision.valid else 1
            self._counters.latencies_s.append(decision.timings.latency_s)
        return decision
