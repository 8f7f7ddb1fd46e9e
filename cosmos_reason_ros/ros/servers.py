"""``~/ask`` (AskNextAction) and ``~/reason`` (Reason action), answered without holding an
executor thread while the model works.

A request is queued on the inference worker at once (or refused at once, with the reason);
its answer is sent from the job's completion. rclpy's service callbacks must return the
response, so a queued ask returns a ``_Deferred`` that the service's ``send_response`` (which
the executor calls with the request's header) holds until the job is done. Action goals take a
place in the worker's queue in the goal callback, so a goal beyond capacity is rejected at goal
time; an accepted goal is executed (``ServerGoalHandle.execute``) when its job completes, by a
callback that only fills in the result. The service and the action keep every request
(``KEEP_ALL``): none is dropped unanswered by a full DDS queue.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Protocol

from rclpy.action.server import ActionServer, CancelResponse, GoalResponse, ServerGoalHandle
from rclpy.callback_groups import CallbackGroup
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy

from cosmos_reason_ros.action import Reason
from cosmos_reason_ros.core.decision import Decision
from cosmos_reason_ros.core.errors import CosmosReasonError
from cosmos_reason_ros.core.generation import TextCallback
from cosmos_reason_ros.core.worker import Job, Reservation
from cosmos_reason_ros.ros.guard import guarded
from cosmos_reason_ros.ros.outputs import fill
from cosmos_reason_ros.ros.rclpy_adapter import SendResponse, replace_send_response
from cosmos_reason_ros.ros.requests import Outcome, failure_message, outcome_of
from cosmos_reason_ros.srv import AskNextAction

KEEP_ALL = QoSProfile(
    history=HistoryPolicy.KEEP_ALL, reliability=ReliabilityPolicy.RELIABLE, depth=1
)


@dataclass(frozen=True)
class Request:
    """A request as the planner sent it."""

    question: str
    choices: tuple[str, ...]
    goal: str = ""


class Submitter(Protocol):
    """What the servers need from the node."""

    def submit(
        self,
        request: Request,
        on_text: TextCallback | None = None,
        reservation: Reservation | None = None,
    ) -> Job[Decision]:
        """Queue ``request``; raises ``CosmosReasonError`` with the reason to refuse it."""

    def reserve(self) -> Reservation:
        """Hold a place in the queue; raises ``CosmosReasonError`` when there is none."""

    def failed(self, outcome: Outcome) -> None:
        """Count a request that ended without a decision."""


RESERVATION_TTL_S = 10.0
"""A goal's place in the queue not claimed by its accept callback within this long is given
back. rclpy skips the accept callback when it cannot send the goal response (the client's
reply reader not yet discovered, seen under load); the place would otherwise be held for
ever, and each such goal would shrink the node's capacity by one."""


class RequestServers:
    """The service and the action server of the node. Thread-safe."""

    def __init__(self, node: Node, submitter: Submitter, group: CallbackGroup) -> None:
        self._node = node
        self._submitter = submitter
        self._lock = threading.Lock()
        self._reservations: list[tuple[float, Reservation]] = []  # (taken at, place)
        self._jobs: dict[bytes, Job[Decision]] = {}
        self._last_activity = time.monotonic()
        log = node.get_logger()
        self._service = node.create_service(
            AskNextAction,
            "~/ask",
            guarded(log, "~/ask", _internal_error)(self._on_ask),
            qos_profile=KEEP_ALL,
            callback_group=group,
        )
        _defer_responses(self._service, log)
        self._action = ActionServer(
            node,
            Reason,
            "~/reason",
            execute_callback=_never_called,
            goal_callback=guarded(log, "~/reason goal", _reject)(self._on_goal),
            handle_accepted_callback=guarded(log, "~/reason accept", _none)(self._on_accepted),
            cancel_callback=guarded(log, "~/reason cancel", _accept)(self._on_cancel),
            callback_group=group,
            goal_service_qos_profile=KEEP_ALL,
            result_service_qos_profile=KEEP_ALL,
            cancel_service_qos_profile=KEEP_ALL,
        )

    def quiet_for(self) -> float:
        """Seconds since the last request arrived or was answered (a node that is stopping
        keeps answering until its servers have been quiet for a while)."""
        with self._lock:
            return time.monotonic() - self._last_activity

    def touch(self) -> None:
        """Count now as activity (the stop begins: answer what arrives from here on)."""
        with self._lock:
            self._last_activity = time.monotonic()

    def destroy(self) -> None:
        self._action.destroy()
        self._node.destroy_service(self._service)
        with self._lock:
            reservations, self._reservations = self._reservations, []
        for _, reservation in reservations:
            reservation.release()

    def _release_stale(self) -> None:
        """Give back the places of goals whose accept callback never came."""
        cutoff = time.monotonic() - RESERVATION_TTL_S
        with self._lock:
            stale = [r for taken, r in self._reservations if taken < cutoff]
            self._reservations = [(t, r) for t, r in self._reservations if t >= cutoff]
        for reservation in stale:
            reservation.release()
        if stale:
            self._node.get_logger().warning(
                f"~/reason: {len(stale)} accepted goal(s) never reached their accept callback "
                "(the goal response could not be sent: a client not yet discovered); their "
                "places in the queue are given back"
            )

    # ----- ~/ask -----------------------------------------------------------------------
    def _on_ask(self, req: AskNextAction.Request, res: AskNextAction.Response) -> Any:
        request = Request(req.question, tuple(req.choices), req.goal)
        self.touch()
        self._release_stale()
        try:
            job = self._submitter.submit(request)
        except CosmosReasonError as exc:
            outcome = Outcome(False, failure_message(exc))
            self._submitter.failed(outcome)
            return fill(res, outcome.success, outcome.message, None)
        deferred = _Deferred()
        job.future.add_done_callback(lambda f: deferred.resolve(self._response(f, res)))
        return deferred

    def _response(self, future: Future[Decision], res: AskNextAction.Response) -> Any:
        self.touch()
        outcome = outcome_of(future)
        if not outcome.success:
            self._submitter.failed(outcome)
        return fill(res, outcome.success, outcome.message, outcome.decision)

    # ----- ~/reason --------------------------------------------------------------------
    def _on_goal(self, goal: Reason.Goal) -> GoalResponse:
        self.touch()
        self._release_stale()
        try:
            reservation = self._submitter.reserve()
        except CosmosReasonError as exc:
            self._node.get_logger().warning(
                f"~/reason goal rejected: {failure_message(exc)}", throttle_duration_sec=5.0
            )
            return GoalResponse.REJECT
        with self._lock:
            self._reservations.append((time.monotonic(), reservation))
        return GoalResponse.ACCEPT

    def _on_accepted(self, handle: ServerGoalHandle[Any, Any, Any]) -> None:
        with self._lock:
            reservation = self._reservations.pop(0)[1] if self._reservations else None
        goal = handle.request
        key = bytes(handle.goal_id.uuid)

        def on_text(delta: str, tokens: int) -> None:
            handle.publish_feedback(Reason.Feedback(text_delta=delta, generated_tokens=tokens))

        try:
            job = self._submitter.submit(
                Request(goal.question, tuple(goal.choices), goal.goal), on_text, reservation
            )
        except CosmosReasonError as exc:
            if reservation is not None:
                reservation.release()
            self._complete(handle, key, Outcome(False, failure_message(exc)))
            return
        with self._lock:
            self._jobs[key] = job
        job.future.add_done_callback(lambda f: self._complete(handle, key, outcome_of(f)))

    def _on_cancel(self, handle: ServerGoalHandle[Any, Any, Any]) -> CancelResponse:
        with self._lock:
            job = self._jobs.get(bytes(handle.goal_id.uuid))
        if job is not None and not job.cancel():
            return CancelResponse.REJECT  # its decision is being published: it succeeds
        return CancelResponse.ACCEPT

    def _complete(
        self, handle: ServerGoalHandle[Any, Any, Any], key: bytes, outcome: Outcome
    ) -> None:
        with self._lock:
            self._jobs.pop(key, None)
            self._last_activity = time.monotonic()
        if not outcome.success:
            self._submitter.failed(outcome)
        handle.execute(lambda h: _result(h, outcome))


def _result(handle: ServerGoalHandle[Any, Any, Any], outcome: Outcome) -> Reason.Result:
    """The finished goal's terminal state and result (runs in the executor, never waits)."""
    result = fill(Reason.Result(), outcome.success, outcome.message, outcome.decision)
    if handle.is_cancel_requested:
        handle.canceled()
    elif outcome.success:
        handle.succeed()
    else:
        handle.abort()
    return result


class _Deferred:
    """A service response that is sent when both it and the request's sender are known."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._send: Callable[[Any], None] | None = None
        self._response: Any = None

    def bind(self, send: Callable[[Any], None]) -> None:
        with self._lock:
            self._send, response = send, self._response
        if response is not None:
            send(response)

    def resolve(self, response: Any) -> None:
        with self._lock:
            self._response, send = response, self._send
        if send is not None:
            send(response)


def _defer_responses(service: Any, logger: Any) -> None:
    """Let the service's callback return a ``_Deferred``: the executor passes it, with the
    request's header, to ``send_response`` (see ``rclpy_adapter.replace_send_response``)."""

    def send_later(send: SendResponse, response: Any, header: Any) -> None:
        def send_now(resolved: Any) -> None:
            try:
                send(resolved, header)
            except Exception as exc:  # the service was destroyed meanwhile (deactivation)
                logger.warning(f"~/ask answer not sent: {exc!r}", throttle_duration_sec=5.0)

        if isinstance(response, _Deferred):
            response.bind(send_now)
        else:
            send_now(response)

    replace_send_response(service, send_later)


def _internal_error(_req: Any, res: AskNextAction.Response) -> Any:
    return fill(res, False, "internal error: see the node's log", None)


def _reject(*_args: Any) -> GoalResponse:
    return GoalResponse.REJECT


def _accept(*_args: Any) -> CancelResponse:
    return CancelResponse.ACCEPT


def _none(*_args: Any) -> None:
    return None


def _never_called(handle: ServerGoalHandle[Any, Any, Any]) -> Reason.Result:
    """Goals are executed with a result callback of their own (``_complete``)."""
    handle.abort()
    return Reason.Result(success=False, message="internal error: goal executed early")
