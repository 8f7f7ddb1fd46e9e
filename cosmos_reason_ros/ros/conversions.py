"""The one boundary between core types and ROS messages."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import KeyValue
from sensor_msgs.msg import CompressedImage
from sensor_msgs.msg import Image as ImageMsg
from std_msgs.msg import Header

from cosmos_reason_ros.core.decision import Decision
from cosmos_reason_ros.core.types import Image
from cosmos_reason_ros.msg import NextAction, Reasoning

_NS = 1_000_000_000


def time_from_ns(stamp_ns: int) -> Time:
    """builtin_interfaces/Time from integer nanoseconds (clamped to the message's range)."""
    stamp_ns = max(0, stamp_ns)
    return Time(sec=min(stamp_ns // _NS, 2**31 - 1), nanosec=stamp_ns % _NS)


def ns_from_time(stamp: Time) -> int:
    """Integer nanoseconds from builtin_interfaces/Time (or any object with sec/nanosec)."""
    return int(stamp.sec) * _NS + int(stamp.nanosec)


def _header(decision: Decision) -> Header:
    """The header of both messages of a decision: the newest frame it used."""
    return Header(stamp=time_from_ns(decision.stamp_ns), frame_id=decision.frame_id)


def next_action_msg(decision: Decision) -> NextAction:
    """NextAction for ``decision``: stamped with the newest frame it used."""
    msg = NextAction()
    msg.header = _header(decision)
    msg.decision_id = decision.decision_id
    msg.action = decision.action
    msg.target = decision.target
    msg.parameters = [KeyValue(key=k, value=v) for k, v in decision.parameters]
    msg.confidence = float(decision.confidence) if math.isfinite(decision.confidence) else math.nan
    msg.valid = decision.valid
    msg.reason = decision.reason
    msg.window_start = time_from_ns(decision.window_start_ns)
    msg.frame_count = decision.frame_count
    return msg


def reasoning_msg(decision: Decision) -> Reasoning:
    """Reasoning for ``decision``; same header and decision_id as its NextAction."""
    msg = Reasoning()
    msg.header = _header(decision)
    msg.decision_id = decision.decision_id
    msg.question = decision.question
    msg.thinking = decision.thinking
    msg.answer = decision.answer
    msg.raw_text = decision.raw_text
    msg.model = decision.model
    msg.latency_s = float(decision.timings.latency_s)
    msg.time_to_first_token_s = float(decision.timings.time_to_first_token_s)
    msg.prompt_tokens = decision.prompt_tokens
    msg.generated_tokens = decision.generated_tokens
    msg.thinking_s = float(decision.timings.thinking_s)
    msg.thinking_ended_by = decision.thinking_ended_by
    return msg


def image_msg(image: Image, stamp_ns: int, frame_id: str) -> ImageMsg:
    """sensor_msgs/Image (rgb8) from an RGB uint8 array."""
    msg = ImageMsg()
    msg.header.stamp = time_from_ns(stamp_ns)
    msg.header.frame_id = frame_id
    msg.height, msg.width = int(image.shape[0]), int(image.shape[1])
    msg.encoding = "rgb8"
    msg.step = msg.width * 3
    msg.data = np.ascontiguousarray(image).tobytes()
    return msg


def to_ros_header(src: Any, offset_ns: int = 0) -> Header:
    """A rosbags ``std_msgs/Header`` (ROS 1 or 2) as an rclpy Header, stamp shifted by offset."""
    stamp_ns = int(src.stamp.sec) * _NS + int(src.stamp.nanosec) + offset_ns
    return Header(stamp=time_from_ns(stamp_ns), frame_id=str(src.frame_id))


def to_ros_image(src: Any, offset_ns: int = 0) -> ImageMsg:
    """A rosbags ``sensor_msgs/Image`` as an rclpy Image (any encoding; data copied as bytes)."""
    return ImageMsg(
        header=to_ros_header(src.header, offset_ns),
        height=int(src.height),
        width=int(src.width),
        encoding=str(src.encoding),
        is_bigendian=int(src.is_bigendian),
        step=int(src.step),
        data=bytes(src.data),
    )


def to_ros_compressed_image(src: Any, offset_ns: int = 0) -> CompressedImage:
    """A rosbags ``sensor_msgs/CompressedImage`` as an rclpy CompressedImage."""
    return CompressedImage(
        header=to_ros_header(src.header, offset_ns), format=str(src.format), data=bytes(src.data)
    )
