"""Test harness: a real ReasonNode on the tiny model, and a camera node that publishes frames.

Both are real rclpy nodes talking over real DDS (loopback) in this process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import cv2
import numpy as np
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, QoSReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image
from spin import spinning, wait_for

from cosmos_reason_ros.msg import NextAction, Reasoning
from cosmos_reason_ros.ros.conversions import ns_from_time, time_from_ns
from cosmos_reason_ros.ros.node import SUCCESS, ReasonNode
from cosmos_reason_ros.srv import AskNextAction

T0_NS = 1_700_000_000 * 10**9
PERIOD_NS = 250_000_000  # 4 fps: every frame is kept by the default window

FAST = {  # tiny model settings that keep a decision well under a second
    "max_new_tokens": 200,
    "max_thinking_tokens": 4,
    "seed": 0,
    "max_reason_chars": 8,  # the random model fills every string up to its bound
    "max_target_chars": 4,
    "max_parameters": 0,
    "decision_period_s": 0.0,
    "max_frame_age_s": 30.0,
    "device": "cpu",
}


def frame(width: int = 160, height: int = 120, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = np.full((height, width, 3), 90, np.uint8)
    x = int(rng.integers(10, width - 30))
    cv2.circle(img, (x, height // 2), 15, (200, 30, 30), -1)
    return img


def image_msg(rgb: np.ndarray, stamp_ns: int, encoding: str, frame_id: str = "cam") -> Any:
    """A sensor_msgs Image or CompressedImage ('jpeg'/'png') holding ``rgb``."""
    if encoding in ("jpeg", "png"):
        ok, buf = cv2.imencode("." + ("jpg" if encoding == "jpeg" else "png"), rgb[..., ::-1])
        assert ok
        msg: Any = CompressedImage(format=encoding, data=buf.tobytes())
    else:
        conv = {
            "rgb8": rgb,
            "bgr8": rgb[..., ::-1],
            "mono8": cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY),
        }[encoding]
        conv = np.ascontiguousarray(conv)
        msg = Image(
            height=conv.shape[0],
            width=conv.shape[1],
            encoding=encoding,
            step=conv.strides[0],
            data=conv.tobytes(),
        )
    msg.header.stamp = time_from_ns(stamp_ns)
    msg.header.frame_id = frame_id
    return msg


class Camera(Node):
    """Publishes test frames on one topic."""

    def __init__(
        self, context: Any, topic: str, reliable: bool = False, name: str = "cam"
    ) -> None:
        super().__init__(f"test_{name}", context=context)
        qos = QoSProfile(
            depth=10,
            reliability=QoSReliabilityPolicy.RELIABLE
            if reliable
            else QoSReliabilityPolicy.BEST_EFFORT,
        )
        kind = CompressedImage if topic.endswith("/compressed") else Image
        self.pub = self.create_publisher(kind, topic, qos)

    def wait_matched(self) -> None:
        wait_for(lambda: self.pub.get_subscription_count() > 0, what="the node to subscribe")

    def publish_frames(self, encoding: str = "rgb8", n: int = 4, start_ns: int = T0_NS) -> int:
        """Publish ``n`` frames stamped at 4 fps once matched; returns the newest stamp."""
        stamps = [start_ns + i * PERIOD_NS for i in range(n)]
        self.wait_matched()
        self.send([image_msg(frame(seed=i), s, encoding) for i, s in enumerate(stamps)])
        return stamps[-1]

    def send(self, msgs: Sequence[Any], gap_s: float = 0.01) -> None:
        for msg in msgs:
            self.pub.publish(msg)
            threading.Event().wait(gap_s)


@contextmanager
def streaming_frames(
    publisher: Any, hz: float = 30.0, size: tuple[int, int] = (320, 240)
) -> Iterator[None]:
    """Publish rgb8 frames stamped with the wall clock at ``hz`` until the block ends."""
    stop = threading.Event()
    pixels = frame(*size)

    def run() -> None:
        while not stop.wait(1.0 / hz):
            publisher.publish(image_msg(pixels, time.time_ns(), "rgb8"))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def wait_for_frames(node: ReasonNode, count: int = 1, timeout_s: float = 10.0) -> None:
    """Wait until the node's windows hold ``count`` frames (published frames may still be in
    flight when ``publish_frames`` returns)."""

    def held() -> int:
        windows = node._windows
        return sum(s.fill for s in windows.stats()) if windows is not None else 0

    wait_for(lambda: held() >= count, timeout_s, what=f"{count} frames in the node's windows")


def attach_camera(node: Node, topic: str, reliable: bool = False, name: str = "cam") -> Camera:
    """A Camera in ``node``'s context, spun by ``node``'s executor."""
    cam = Camera(node.context, topic, reliable=reliable, name=name)
    node.executor.add_node(cam)
    return cam


class Listener(Node):
    """Collects the node's outputs."""

    def __init__(self, context: Any) -> None:
        super().__init__("test_listener", context=context)
        self.actions: list[NextAction] = []
        self.reasonings: list[Reasoning] = []
        self.create_subscription(NextAction, "/cosmos_reason/next_action", self.actions.append, 10)
        self.create_subscription(Reasoning, "/cosmos_reason/reasoning", self.reasonings.append, 10)
        self.ask = self.create_client(AskNextAction, "/cosmos_reason/ask")

    def ask_on_newest(self, newest_ns: int, timeout_s: float = 30.0) -> Any:
        """Ask until an answer succeeds on the frame stamped ``newest_ns`` (frames may still be
        in flight when the first ask arrives)."""
        deadline = time.monotonic() + timeout_s
        while True:
            res = self.call()
            if res.success and ns_from_time(res.action.header.stamp) == newest_ns:
                return res
            if time.monotonic() > deadline:
                raise AssertionError(f"no successful answer on the newest frame: {res}")
            time.sleep(0.1)

    def call(
        self, question: str = "", choices: Sequence[str] = (), timeout_s: float = 60.0
    ) -> Any:
        future = self.ask.call_async(
            AskNextAction.Request(question=question, choices=list(choices))
        )
        wait_for(future.done, timeout_s, what="the ask response")
        return future.result()


def make_node(context: Any, model_dir: Any, **overrides: Any) -> ReasonNode:
    values = {**FAST, "model": str(model_dir), **overrides}
    return ReasonNode(
        context=context,
        parameter_overrides=[Parameter(k, value=v) for k, v in values.items()],
    )


@contextmanager
def running(
    context: Any, model_dir: Any, topics: Sequence[str] = ("/cam/image_raw",), **overrides: Any
) -> Iterator[tuple[ReasonNode, Listener]]:
    """A configured, active ReasonNode plus a Listener, spinning."""
    overrides.setdefault("autostart", False)
    node = make_node(context, model_dir, image_topics=list(topics), **overrides)
    assert node.trigger_configure() == SUCCESS
    assert node.trigger_activate() == SUCCESS
    listener = Listener(context)
    extra: list[Node] = []
    with spinning(context, node, listener, threads=8):
        assert listener.ask.wait_for_service(timeout_sec=10.0)
        yield node, listener
    node.close()
    for n in (node, listener, *extra):
        n.destroy_node()
