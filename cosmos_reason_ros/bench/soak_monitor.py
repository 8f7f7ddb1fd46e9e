"""The soak's own ROS side: camera publishers, the node's outputs and diagnostics collected,
and asks sent on a schedule. Every record carries the soak's monotonic time, so the report can
leave the warm-up out."""

from __future__ import annotations

import threading
import time
from typing import Any

import cv2
import numpy as np

from cosmos_reason_ros.bench.soak_figures import DecisionSeen
from cosmos_reason_ros.bench.soak_report import CAMERAS, SoakSettings, classify

NODE = "/cosmos_reason"


def _camera_messages(topic: str, encoding: str, width: int, height: int) -> list[Any]:
    """A few frames of a moving ball, encoded once; the publisher only re-stamps them."""
    from sensor_msgs.msg import CompressedImage, Image

    msgs: list[Any] = []
    for i in range(3):
        rgb = np.full((height, width, 3), 90, np.uint8)
        cx = int(width * (0.2 + 0.3 * i))
        cv2.circle(rgb, (cx, height // 2), max(4, height // 8), (200, 30, 30), -1)
        if encoding == "jpeg":
            ok, buf = cv2.imencode(".jpg", rgb[..., ::-1])
            if not ok:
                raise RuntimeError("JPEG encoding failed")
            msg: Any = CompressedImage(format="jpeg", data=buf.tobytes())
        else:
            data = np.ascontiguousarray(rgb if encoding == "rgb8" else rgb[..., ::-1])
            msg = Image(
                height=height, width=width, encoding=encoding, step=width * 3, data=data.tobytes()
            )
        msg.header.frame_id = topic.split("/")[2]
        msgs.append(msg)
    return msgs


class Monitor:
    """The second node: camera publishers, listeners, the ask client. Thread-safe counters."""

    def __init__(
        self, context: Any, settings: SoakSettings, allowed: set[str], fallback: str
    ) -> None:
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.node import Node
        from rclpy.qos import QoSProfile, QoSReliabilityPolicy
        from sensor_msgs.msg import CompressedImage, Image

        from cosmos_reason_ros.msg import NextAction, Reasoning
        from cosmos_reason_ros.srv import AskNextAction

        self._ask_type = AskNextAction
        self.node = Node("soak_monitor", context=context)
        self._allowed, self._fallback, self._settings = allowed, fallback, settings
        self.lock = threading.Lock()
        self.published = {topic: 0 for topic, _ in CAMERAS}
        self.decisions: list[DecisionSeen] = []
        self.ask_ids: set[int] = set()
        self.ask_round_trips: list[tuple[float, float]] = []  # (answered at, seconds)
        self.valid = self.fallbacks = self.asks_ok = self.asks_failed = 0
        self.bad: list[str] = []
        self.ask_errors: list[str] = []
        self.reasoner: dict[str, str] = {}
        self.camera_diag: dict[str, dict[str, str]] = {}
        # (received at, the node's stamp in ns, camera -> that camera's values), one a report
        self.camera_reports: list[tuple[float, int, dict[str, dict[str, str]]]] = []
        self._ask_future: Any = None
        self._ask_sent = 0.0
        self.publish_s = 0.0  # how long the publisher ran, for the achieved rate
        qos = QoSProfile(depth=1, reliability=QoSReliabilityPolicy.BEST_EFFORT)
        self.pubs = {
            topic: self.node.create_publisher(
                CompressedImage if topic.endswith("/compressed") else Image, topic, qos
            )
            for topic, _ in CAMERAS
        }
        self.frames = {
            t: _camera_messages(t, e, settings.width, settings.height) for t, e in CAMERAS
        }
        self.node.create_subscription(NextAction, f"{NODE}/next_action", self._on_action, 50)
        self.node.create_subscription(Reasoning, f"{NODE}/reasoning", self._on_reasoning, 50)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diag, 10)
        self.ask_client: Any = self.node.create_client(AskNextAction, f"{NODE}/ask")

    def _on_action(self, msg: Any) -> None:
        kind = classify(msg, self._allowed, self._fallback)
        with self.lock:
            if kind == "valid":
                self.valid += 1
            elif kind == "fallback":
                self.fallbacks += 1
            else:
                self.bad.append(f"decision {msg.decision_id}: {kind}")

    def _on_reasoning(self, msg: Any, info: Any) -> None:
        seen = DecisionSeen(
            decision_id=int(msg.decision_id),
            latency_s=float(msg.latency_s),
            published_ns=int(info["source_timestamp"]),
            newest_frame_ns=int(msg.header.stamp.sec) * 10**9 + int(msg.header.stamp.nanosec),
            received_s=time.monotonic(),
            generated_tokens=int(msg.generated_tokens),
            time_to_first_token_s=float(msg.time_to_first_token_s),
        )
        with self.lock:
            self.decisions.append(seen)

    def _on_diag(self, msg: Any) -> None:
        now = time.monotonic()
        stamp_ns = int(msg.header.stamp.sec) * 10**9 + int(msg.header.stamp.nanosec)
        cameras: dict[str, dict[str, str]] = {}
        with self.lock:
            for status in msg.status:
                values = {kv.key: kv.value for kv in status.values}
                if status.name.endswith(": reasoner"):
                    self.reasoner = values
                elif ": camera " in status.name:
                    cameras[status.name.split(": camera ", 1)[1]] = values
            if cameras:
                self.camera_diag = cameras
                self.camera_reports.append((now, stamp_ns, cameras))

    def publish_loop(self, stop: threading.Event) -> None:
        """Publish every camera at ``rate_hz``, stamped now; late ticks are skipped."""
        from cosmos_reason_ros.ros.conversions import time_from_ns

        period, tick, nxt = 1.0 / self._settings.rate_hz, 0, time.monotonic()
        started = nxt
        while not stop.is_set():
            self.publish_s = time.monotonic() - started
            stamp = time_from_ns(time.time_ns())
            for topic, pub in self.pubs.items():
                msg = self.frames[topic][tick % len(self.frames[topic])]
                msg.header.stamp = stamp
                pub.publish(msg)
                with self.lock:
                    self.published[topic] += 1
            tick += 1
            nxt += period
            now = time.monotonic()
            if nxt < now:  # fell behind: skip to the next tick instead of bursting
                nxt = now + period - (now - nxt) % period
            stop.wait(nxt - now)

    def ask(self) -> None:
        """Ask once, unless the previous ask is still waiting for its answer."""
        if self._ask_future is not None and not self._ask_future.done():
            return
        self._ask_sent = time.monotonic()
        self._ask_future = self.ask_client.call_async(self._ask_type.Request())
        self._ask_future.add_done_callback(self._on_answer)

    def _on_answer(self, future: Any) -> None:
        now = time.monotonic()
        res = future.result()
        with self.lock:
            if res is not None and res.success:
                self.asks_ok += 1
                self.ask_ids.add(int(res.reasoning.decision_id))
                self.ask_round_trips.append((now, now - self._ask_sent))
            else:
                self.asks_failed += 1
                self.ask_errors.append(res.message if res is not None else "no response")

    def wait_ask(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while self._ask_future is not None and not self._ask_future.done():
            if time.monotonic() > deadline:
                with self.lock:
                    self.asks_failed += 1
                    self.ask_errors.append(f"no answer within {timeout_s:g} s at the end")
                return
            time.sleep(0.1)
