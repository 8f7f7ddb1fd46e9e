"""``~/ask`` (AskNextAction) and ``~/reason`` (Reason action): requests in, outcomes out.

Both hand the request to the node's ``request`` function, which queues it on the inference
worker and waits (in this executor thread, never running the model here).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import CallbackGroup
from rclpy.node import Node

from cosmos_reason_ros.action import Reason
from cosmos_reason_ros.ros.outputs import fill
from cosmos_reason_ros.ros.requests import Outcome
from cosmos_reason_ros.srv import AskNextAction

RequestFn = Callable[..., Outcome]
"""(question, choices, on_text=None, cancel_requested=lambda: False) -> Outcome"""


class RequestServers:
    """The service and the action server of one activation."""

    def __init__(self, node: Node, request: RequestFn, group: CallbackGroup) -> None:
        self._node = node
        self._request = request
        self._service = node.create_service(
            AskNextAction, "~/ask", self._on_ask, callback_group=group
        )
        self._action = ActionServer(
            node,
            Reason,
            "~/reason",
            execute_callback=self._on_reason,
            goal_callback=lambda _goal: GoalResponse.ACCEPT,
            cancel_callback=lambda _goal: CancelResponse.ACCEPT,
            callback_group=group,
        )

    def destroy(self) -> None:
        self._action.destroy()
        self._node.destroy_service(self._service)

    def _on_ask(self, req: AskNextAction.Request, res: AskNextAction.Response) -> Any:
        outcome = self._request(req.question, list(req.choices))
        return fill(res, outcome.success, outcome.message, outcome.decision)

    def _on_reason(self, goal: Any) -> Reason.Result:
        def on_text(delta: str, n_tokens: int) -> None:
            goal.publish_feedback(Reason.Feedback(text_delta=delta, generated_tokens=n_tokens))

        request = goal.request
        outcome = self._request(
            request.question, list(request.choices), on_text, lambda: goal.is_cancel_requested
        )
        result = fill(Reason.Result(), outcome.success, outcome.message, outcome.decision)
        if outcome.cancelled and goal.is_cancel_requested:
            goal.canceled()
        elif outcome.success:
            goal.succeed()
        else:
            goal.abort()
        return result
