"""The node's decision outputs: ``~/next_action``, ``~/reasoning`` and ``~/debug_image``."""

from __future__ import annotations

from typing import Any

from rclpy.lifecycle import LifecycleNode
from sensor_msgs.msg import Image as ImageMsg

from cosmos_reason_ros.core.decision import Decision
from cosmos_reason_ros.core.types import WindowSnapshot
from cosmos_reason_ros.msg import NextAction, Reasoning
from cosmos_reason_ros.ros.conversions import image_msg, next_action_msg, reasoning_msg
from cosmos_reason_ros.ros.debug_image import annotate, newest_frame


class Outputs:
    """Lifecycle publishers for every decision, whatever triggered it (active state only).

    Thread-safety: ``publish`` is called from the worker thread and from future callbacks;
    rclpy publishers may be used from any thread.
    """

    def __init__(self, node: LifecycleNode) -> None:
        self._node = node
        self._action = node.create_lifecycle_publisher(NextAction, "~/next_action", 10)
        self._reasoning = node.create_lifecycle_publisher(Reasoning, "~/reasoning", 10)
        self._debug = node.create_lifecycle_publisher(ImageMsg, "~/debug_image", 2)

    def publish(self, decision: Decision, snapshot: WindowSnapshot | None, debug: bool) -> None:
        """Publish ``decision``; draw it on the newest frame of ``snapshot`` when ``debug`` and
        someone listens to ``~/debug_image``. Does nothing once the context is shut down."""
        if not self._node.context.ok():
            return
        self._action.publish(next_action_msg(decision))
        self._reasoning.publish(reasoning_msg(decision))
        if debug and snapshot is not None and self._debug.get_subscription_count():
            frame = newest_frame(snapshot)
            if frame is not None:
                annotated = annotate(frame, decision)
                self._debug.publish(image_msg(annotated, decision.stamp_ns, decision.frame_id))

    def publish_reasoning(self, decision: Decision) -> None:
        """Publish only the reasoning of ``decision`` (an alert judgment chooses no action)."""
        if self._node.context.ok():
            self._reasoning.publish(reasoning_msg(decision))

    def destroy(self) -> None:
        for pub in (self._action, self._reasoning, self._debug):
            self._node.destroy_lifecycle_publisher(pub)


def fill(response: Any, success: bool, message: str, decision: Decision | None) -> Any:
    """Fill an AskNextAction response or a Reason result (same four fields)."""
    response.success, response.message = success, message
    if decision is not None:
        response.action = next_action_msg(decision)
        response.reasoning = reasoning_msg(decision)
    return response
