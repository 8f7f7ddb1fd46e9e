"""Why a camera topic is silent, read from the ROS graph: does anything publish on it, with
which type, and which image topics do exist (the closest name first). Topics the asking node
publishes itself (its ``~/debug_image``) are never offered as a camera."""

from __future__ import annotations

import difflib
from collections.abc import Collection

from rclpy.exceptions import NameValidationException
from rclpy.node import Node

from cosmos_reason_ros.ros.rclpy_adapter import CONTEXT_DOWN_ERRORS

IMAGE_TYPES = ("sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage")
_UNREADABLE: tuple[type[Exception], ...] = (*CONTEXT_DOWN_ERRORS, NameValidationException)


def expected_type(topic: str) -> str:
    """The message type the node subscribes ``topic`` with."""
    return IMAGE_TYPES[1] if topic.endswith("/compressed") else IMAGE_TYPES[0]


def silence_hint(
    topic: str,
    graph: list[tuple[str, list[str]]],
    publishers: int,
    own: Collection[str] = (),
) -> str:
    """What the graph says about silent ``topic`` (fully qualified), as one clause.

    Args:
        topic: The camera topic, fully qualified.
        graph: ``Node.get_topic_names_and_types()``.
        publishers: ``Node.count_publishers(topic)``.
        own: Topics the asking node publishes itself: never offered as a camera.
    """
    types = dict(graph)
    want = expected_type(topic)
    images = sorted(
        name for name, kinds in graph if name not in own and any(k in IMAGE_TYPES for k in kinds)
    )
    if publishers and want not in types.get(topic, [want]):
        found = ", ".join(types[topic])
        return (
            f"{publishers} publisher(s) on {topic}, but of type {found}, not {want} (a topic "
            "ending in /compressed carries CompressedImage)"
        )
    if publishers:
        return (
            f"{publishers} publisher(s) on {topic}, yet no frame arrived: check image_qos "
            "against the publisher's QoS, and large raw images over DDS (README)"
        )
    text = f"nothing publishes on {topic}"
    others = [name for name in images if name != topic]
    if not others:
        return text + "; no image topic is published at all"
    close = difflib.get_close_matches(topic, others, n=1, cutoff=0.5)
    shown = ", ".join(others[:8]) + (", ..." if len(others) > 8 else "")
    text += f"; image topics that exist: {shown}"
    return text + (f" (did you mean {close[0]}?)" if close else "")


def silent_camera_hint(node: Node, topic: str) -> str:
    """``silence_hint`` for ``topic`` as ``node`` sees the graph now; "" if it cannot be read."""
    try:
        name = node.resolve_topic_name(topic)
        own = node.get_publisher_names_and_types_by_node(node.get_name(), node.get_namespace())
        # The topic's types as its publishers send them: the graph's list also holds the
        # node's own subscription type, which would hide a mismatch.
        sent = sorted({info.topic_type for info in node.get_publishers_info_by_topic(name)})
        graph = [(t, sent if t == name else k) for t, k in node.get_topic_names_and_types()]
        # The graph may not list the node's own publishers yet: its private topics (~/...)
        # are its own whatever the graph says.
        private = node.get_fully_qualified_name().rstrip("/") + "/"
        mine = {t for t, _ in own} | {t for t, _ in graph if t.startswith(private)}
        return silence_hint(name, graph, node.count_publishers(name), mine)
    except _UNREADABLE:  # shutting down: the hint is an extra
        return ""
