"""The package's own interfaces over real DDS between two rclpy nodes (no mocks)."""

from __future__ import annotations

import math
import threading
import time
from typing import Any

import pytest

pytest.importorskip("rclpy", reason="rclpy is not importable: run `make setup` / `make test`")

from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import KeyValue
from rclpy.action import ActionClient, ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node
from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy
from spin import spinning, wait_for

from cosmos_reason_ros.action import Reason
from cosmos_reason_ros.msg import NextAction, Reasoning
from cosmos_reason_ros.srv import AskNextAction


def _next_action() -> NextAction:
    msg = NextAction()
    msg.header.stamp = Time(sec=1_700_000_000, nanosec=123_456_789)
    msg.header.frame_id = "camera_optical_frame"
    msg.decision_id = 2**40 + 7
    msg.action = "stop"
    msg.target = "red ball"
    msg.parameters = [KeyValue(key="distance_m", value="0.5"), KeyValue(key="why", value="ü")]
    msg.confidence = 0.75
    msg.valid = True
    msg.reason = "A ball rolls toward the robot."
    msg.window_start = Time(sec=1_699_999_996, nanosec=1)
    msg.frame_count = 16
    return msg


def test_next_action_crosses_dds_with_every_field_intact(ros_context: Any) -> None:
    pub_node = Node("na_pub", context=ros_context)
    sub_node = Node("na_sub", context=ros_context)
    qos = QoSProfile(
        depth=5,
        reliability=QoSReliabilityPolicy.RELIABLE,
        durability=QoSDurabilityPolicy.TRANSIENT_LOCAL,
    )
    received: list[NextAction] = []
    pub = pub_node.create_publisher(NextAction, "next_action", qos)
    sub_node.create_subscription(NextAction, "next_action", received.append, qos)
    sent = _next_action()
    with spinning(ros_context, pub_node, sub_node):
        wait_for(lambda: pub.get_subscription_count() > 0, what="the subscriber to match")
        pub.publish(sent)
        wait_for(lambda: bool(received), what="the NextAction to arrive")
    got = received[0]
    assert got == sent
    assert got.parameters[1].value == "ü"
    assert math.isclose(got.confidence, 0.75)
    pub_node.destroy_node()
    sub_node.destroy_node()


def test_ask_next_action_service_answers_across_two_nodes(ros_context: Any) -> None:
    server = Node("ask_server", context=ros_context)
    client_node = Node("ask_client", context=ros_context)

    def handle(req: AskNextAction.Request, res: AskNextAction.Response) -> Any:
        res.success = True
        res.action = _next_action()
        res.action.action = req.choices[0] if req.choices else "stop"
        res.reasoning = Reasoning(question=req.question, decision_id=res.action.decision_id)
        return res

    server.create_service(AskNextAction, "ask", handle)
    client = client_node.create_client(AskNextAction, "ask")
    with spinning(ros_context, server, client_node):
        assert client.wait_for_service(timeout_sec=10.0)
        future = client.call_async(
            AskNextAction.Request(question="what next?", choices=["wait", "stop"])
        )
        wait_for(future.done, what="the service response")
    res = future.result()
    assert res.success
    assert res.action.action == "wait"
    assert res.reasoning.question == "what next?"
    assert res.reasoning.decision_id == res.action.decision_id
    server.destroy_node()
    client_node.destroy_node()


class _StreamingReasonServer(Node):
    """Streams ten feedback deltas, checking for cancellation between them."""

    def __init__(self, context: Any) -> None:
        super().__init__("reason_server", context=context)
        self._server = ActionServer(
            self,
            Reason,
            "reason",
            execute_callback=self._execute,
            goal_callback=lambda _goal: GoalResponse.ACCEPT,
            cancel_callback=lambda _goal: CancelResponse.ACCEPT,
            callback_group=ReentrantCallbackGroup(),
        )

    def _execute(self, goal: Any) -> Reason.Result:
        result = Reason.Result()
        for i in range(10):
            if goal.is_cancel_requested:
                goal.canceled()
                result.message = f"cancelled after {i} tokens"
                return result
            goal.publish_feedback(Reason.Feedback(text_delta=f"t{i} ", generated_tokens=i + 1))
            time.sleep(0.1)
        goal.succeed()
        result.success = True
        result.action = _next_action()
        result.reasoning = Reasoning(question=goal.request.question)
        return result


def _send_goal(client_node: Node, client: ActionClient, question: str) -> tuple[Any, list[Any]]:
    feedback: list[Any] = []
    accepted = threading.Event()
    handle_box: list[Any] = []

    def on_response(future: Any) -> None:
        handle_box.append(future.result())
        accepted.set()

    future = client.send_goal_async(
        Reason.Goal(question=question), feedback_callback=lambda fb: feedback.append(fb.feedback)
    )
    future.add_done_callback(on_response)
    wait_for(accepted.is_set, what="the goal to be accepted")
    assert handle_box[0].accepted
    return handle_box[0], feedback


def test_reason_action_streams_feedback_then_returns_result(ros_context: Any) -> None:
    server = _StreamingReasonServer(ros_context)
    client_node = Node("reason_client", context=ros_context)
    client = ActionClient(client_node, Reason, "reason")
    with spinning(ros_context, server, client_node):
        assert client.wait_for_server(timeout_sec=10.0)
        handle, feedback = _send_goal(client_node, client, "what next?")
        result_future = handle.get_result_async()
        wait_for(result_future.done, what="the result")
    result = result_future.result().result
    assert result.success
    assert result.reasoning.question == "what next?"
    assert "".join(f.text_delta for f in feedback).startswith("t0 t1 ")
    assert feedback[-1].generated_tokens >= len(feedback)
    server.destroy_node()
    client_node.destroy_node()


def test_reason_action_cancel_is_honored(ros_context: Any) -> None:
    server = _StreamingReasonServer(ros_context)
    client_node = Node("reason_cancel_client", context=ros_context)
    client = ActionClient(client_node, Reason, "reason")
    with spinning(ros_context, server, client_node):
        assert client.wait_for_server(timeout_sec=10.0)
        handle, feedback = _send_goal(client_node, client, "q")
        wait_for(lambda: len(feedback) >= 2, what="some feedback")
        cancel_future = handle.cancel_goal_async()
        wait_for(cancel_future.done, what="the cancel response")
        result_future = handle.get_result_async()
        wait_for(result_future.done, what="the result after cancel")
    wrapped = result_future.result()
    assert len(cancel_future.result().goals_canceling) == 1
    assert not wrapped.result.success
    assert wrapped.result.message.startswith("cancelled after")
    assert len(feedback) < 10
    server.destroy_node()
    client_node.destroy_node()
