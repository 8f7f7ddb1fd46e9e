"""Hints that save minutes: a misspelled parameter names the closest one, and a silent camera
says what the ROS graph shows (over real DDS for the topic typo)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("rclpy", reason="rclpy is not importable: run `make setup`")

from harness import frame, image_msg, running
from rclpy.node import Node
from sensor_msgs.msg import CompressedImage, Image
from spin import wait_for

from cosmos_reason_ros.ros.param_hints import hint, unknown_overrides
from cosmos_reason_ros.ros.topic_hints import silence_hint

IMAGE = "sensor_msgs/msg/Image"


def test_unknown_overrides_are_named_with_the_closest_known_name() -> None:
    known = ["image_topics", "model", "max_frame_age_s"]
    given = ["image_topic", "modle", "use_sim_time", "qos_overrides./x.depth", "zzz", "model"]
    assert unknown_overrides(given, known) == [
        ("image_topic", "image_topics"),
        ("modle", "model"),
        ("zzz", ""),
    ]
    assert hint("modle", "model").endswith("did you mean 'model'?")
    assert "reason_node --help" in hint("zzz", "")


def test_silence_hints_say_what_publishes_and_what_exists() -> None:
    graph = [("/camera/image_raw", [IMAGE]), ("/scan", ["sensor_msgs/msg/LaserScan"])]
    typo = silence_hint("/camera/image_rawx", graph, 0)
    assert typo.startswith("nothing publishes on /camera/image_rawx")
    assert "image topics that exist: /camera/image_raw (did you mean /camera/image_raw?)" in typo
    assert silence_hint("/cam", [], 0).endswith("no image topic is published at all")
    wrong_type = silence_hint("/c", [("/c", ["sensor_msgs/msg/CompressedImage"])], 1)
    assert "of type sensor_msgs/msg/CompressedImage, not sensor_msgs/msg/Image" in wrong_type
    qos = silence_hint("/camera/image_raw", graph, 2)
    assert "2 publisher(s) on /camera/image_raw, yet no frame arrived" in qos


def test_a_topic_typo_is_refused_with_the_hint_not_as_a_bad_request(
    ros_context: Any, tiny_model_dir: Path
) -> None:
    camera = Node("typo_camera", context=ros_context)
    pub = camera.create_publisher(Image, "/camera/image_raw", 5)
    other = camera.create_publisher(CompressedImage, "/camera/image_raw/compressed", 5)
    with running(ros_context, tiny_model_dir, topics=("/camera/image_rawx",)) as (_node, lis):
        pub.publish(image_msg(frame(), 1, "rgb8"))
        answers: list[Any] = []

        def hinted() -> bool:
            answers.append(lis.call())
            return "did you mean" in answers[-1].message

        wait_for(hinted, 30, what="the hint naming the existing topic")
    message = answers[-1].message
    assert not answers[-1].success
    assert message.startswith("no recent frames (max_frame_age_s=30): camera /camera/image_rawx")
    assert "nothing publishes on /camera/image_rawx" in message
    assert "did you mean /camera/image_raw?" in message
    assert "bad request" not in message
    camera.destroy_publisher(other)
    camera.destroy_node()
