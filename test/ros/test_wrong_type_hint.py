"""A camera that publishes ``CompressedImage`` on a topic the node reads as ``Image``: real
rclpy nodes over real DDS. The refusal names the publisher's type (the graph also lists the
node's own subscription type on that topic, which once hid the mismatch behind a QoS hint)."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("rclpy", reason="rclpy is not importable: run `make setup`")

import rclpy
from harness import frame, image_msg, running
from rclpy.context import Context
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage
from spin import wait_for

TOPIC = "/cam/image_raw"


def test_a_compressed_publisher_on_a_raw_topic_is_named_as_the_wrong_type(
    ros_context: Any, tiny_model_dir: Any
) -> None:
    camera_context = Context()  # a participant of its own, as the camera driver's process
    rclpy.init(context=camera_context)
    camera = Node("test_compressed_camera", context=camera_context)
    try:
        with running(ros_context, tiny_model_dir, topics=[TOPIC], max_frame_age_s=0.5) as (
            node,
            listener,
        ):
            qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
            pub = camera.create_publisher(CompressedImage, TOPIC, qos)
            wait_for(lambda: node.count_publishers(TOPIC) == 1, what="the compressed publisher")
            for i in range(3):
                pub.publish(image_msg(frame(seed=i), 1_700_000_000 * 10**9 + i, "jpeg"))
            res = listener.call()
    finally:
        camera.destroy_node()
        rclpy.shutdown(context=camera_context)
    assert not res.success
    assert (
        f"1 publisher(s) on {TOPIC}, but of type sensor_msgs/msg/CompressedImage, "
        "not sensor_msgs/msg/Image"
    ) in res.message, res.message
    assert "QoS" not in res.message
