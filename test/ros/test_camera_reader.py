"""The serialized camera path: the stamp read from CDR bytes that rclpy itself serialized, the
message deserialized only when a field is read, and a subscription no executor serves."""

from __future__ import annotations

import struct
import time
from typing import Any

import pytest

pytest.importorskip("rclpy", reason="rclpy is not importable: run `make setup` / `make test`")

from rclpy.executors import SingleThreadedExecutor
from rclpy.serialization import serialize_message
from sensor_msgs.msg import CompressedImage, Image

from cosmos_reason_ros.ros.camera_reader import (
    NotByExecutor,
    ReaderThread,
    SerializedFrame,
    header_of,
    stamp_and_frame_id,
)


def _image(sec: int, nanosec: int, frame_id: str) -> Image:
    msg = Image(height=2, width=3, encoding="rgb8", step=9, data=bytes(range(18)))
    msg.header.stamp.sec, msg.header.stamp.nanosec = sec, nanosec
    msg.header.frame_id = frame_id
    return msg


@pytest.mark.parametrize("frame_id", ["", "cam", "front_camera_optical_frame", "kamera_ü"])
def test_header_of_reads_stamp_and_frame_id_of_images_rclpy_serialized(frame_id: str) -> None:
    raw = serialize_message(_image(1_700_000_123, 456_789_012, frame_id))
    assert header_of(raw) == (1_700_000_123_456_789_012, frame_id)
    compressed = CompressedImage(format="jpeg", data=b"\xff\xd8\xff")
    compressed.header.stamp.sec, compressed.header.frame_id = 7, frame_id
    assert header_of(serialize_message(compressed)) == (7_000_000_000, frame_id)


def test_header_of_reads_big_endian_cdr() -> None:
    raw = b"\x00\x00\x00\x00" + struct.pack(">iII", 12, 34, 4) + b"cam\x00" + b"\x00" * 8
    assert header_of(raw) == (12_000_000_034, "cam")


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\x01\x00\x00\x01",  # truncated
        b"\x00\x0c\x00\x00" + bytes(20),  # an encapsulation it does not know
        b"\x00\x01\x00\x00" + struct.pack("<iII", 1, 0, 99) + b"x",  # frame_id past the end
        b"\x00\x01\x00\x00" + struct.pack("<iII", 1, 2_000_000_000, 1) + b"\x00",  # nanosec
    ],
)
def test_header_of_returns_none_for_bytes_it_cannot_read(raw: bytes) -> None:
    assert header_of(raw) is None


def test_serialized_frame_deserializes_once_on_first_field_access() -> None:
    raw = serialize_message(_image(5, 6, "cam"))
    frame = SerializedFrame(raw, Image)
    assert frame._msg is None
    assert (frame.width, frame.height, frame.encoding) == (3, 2, "rgb8")
    assert bytes(frame.data) == bytes(range(18))
    assert frame.message() is frame.message()
    assert not hasattr(frame, "format")  # the decoder tells raw from compressed this way
    assert stamp_and_frame_id(frame, raw) == (5_000_000_006, "cam")


def test_stamp_falls_back_to_the_message_when_the_header_is_unreadable() -> None:
    raw = serialize_message(_image(8, 9, "cam"))
    frame = SerializedFrame(raw, Image)
    assert stamp_and_frame_id(frame, b"\x00\x0c" + raw[2:]) == (8_000_000_009, "cam")


def test_reader_thread_takes_what_the_executor_leaves_alone(ros_context: Any) -> None:
    """Real DDS: a NotByExecutor subscription is never served by a spinning executor; its
    ReaderThread takes every message, serialized, and stops promptly."""
    from rclpy.node import Node
    from rclpy.qos import QoSProfile, ReliabilityPolicy

    node = Node("reader_test", context=ros_context)
    qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    by_executor: list[Any] = []
    sub = node.create_subscription(
        Image,
        "/reader_test/image",
        by_executor.append,
        qos,
        callback_group=NotByExecutor(),
        raw=True,
    )
    pub = node.create_publisher(Image, "/reader_test/image", qos)
    taken: list[bytes] = []
    errors: list[BaseException] = []
    reader = ReaderThread(sub, ros_context, taken.append, errors.append)
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(node)
    try:
        deadline = time.monotonic() + 10.0
        while not sub.get_publisher_count() and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.05)
        for i in range(5):
            pub.publish(_image(100 + i, 0, "cam"))
            executor.spin_once(timeout_sec=0.05)
        while len(taken) < 5 and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.05)
        started = time.monotonic()
        reader.stop()
        stop_s = time.monotonic() - started
    finally:
        executor.shutdown()
        node.destroy_node()
    assert by_executor == [] and errors == []
    assert [header_of(raw) for raw in taken] == [(sec * 10**9, "cam") for sec in range(100, 105)]
    assert stop_s < 1.0


def test_no_part_of_a_camera_subscription_is_served_by_the_executor(ros_context: Any) -> None:
    """Neither frames nor QoS events: served by the executor, the subscription's event
    handlers kept it spinning at half a core while frames were dropped (see the revert of
    'QoS event handlers stay with the executor')."""
    from rclpy.node import Node

    from cosmos_reason_ros.core.window import WindowSet
    from cosmos_reason_ros.ros.cameras import create_cameras

    node = Node("camera_events_test", context=ros_context)
    cameras = create_cameras(node, WindowSet(["/events_test/image"]), "sensor_data", 10**8)
    try:
        (sub,) = node.subscriptions
        assert isinstance(sub.callback_group, NotByExecutor)
        assert not any(h.callback_group.can_execute(h) for h in sub.event_handlers)
    finally:
        for camera in cameras:
            camera.destroy()
        node.destroy_node()
