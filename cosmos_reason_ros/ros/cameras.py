"""Camera inputs: decide by stamp, decode, push into the window. Nothing heavy.

Each camera's frames are taken by a thread of its own (``camera_reader``), outside the node's
executor, still serialized: the stamp is read from the CDR header and only frames the window
keeps are deserialized and decoded. One thread per camera, so each window has one writer. Bad
frames are dropped, counted and warned about (throttled); nothing raises.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from rclpy.node import Node
from rclpy.qos import QoSProfile, QoSReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import CompressedImage
from sensor_msgs.msg import Image as ImageMsg

from cosmos_reason_ros.core.errors import InputError
from cosmos_reason_ros.core.ingest import ingest
from cosmos_reason_ros.core.types import WindowSnapshot
from cosmos_reason_ros.core.window import FrameWindow, WindowSet
from cosmos_reason_ros.ros.camera_reader import (
    NotByExecutor,
    ReaderThread,
    SerializedFrame,
    stamp_and_frame_id,
)
from cosmos_reason_ros.ros.requests import Refused
from cosmos_reason_ros.ros.topic_hints import silent_camera_hint

WARN_PERIOD_S = 5.0


@dataclass(frozen=True)
class CameraStats:
    """Per-camera counters since activation; ``silent_s`` is None before the first frame."""

    topic: str
    received: int
    invalid: int
    last_error: str
    silent_s: float | None


class Camera:
    """One camera topic feeding one FrameWindow."""

    def __init__(
        self, node: Node, topic: str, window: FrameWindow, qos: QoSProfile, max_input_pixels: int
    ) -> None:
        self.topic = topic
        self._node = node
        self._window = window
        self._max_input_pixels = max_input_pixels
        self._lock = threading.Lock()
        self._received = 0
        self._invalid = 0
        self._last_error = ""
        self._last_arrival: float | None = None
        self._last_warn = 0.0
        self._msg_type = CompressedImage if topic.endswith("/compressed") else ImageMsg
        # raw: taken serialized; NotByExecutor: read by this camera's thread, never the executor.
        self._sub = node.create_subscription(
            self._msg_type, topic, self._on_raw, qos, callback_group=NotByExecutor(), raw=True
        )
        self._reader = ReaderThread(self._sub, node.context, self._on_raw, self._on_reader_error)

    def _on_raw(self, raw: bytes) -> None:
        """One serialized frame (on this camera's thread): stamp check first, decode if kept."""
        now = time.monotonic()
        with self._lock:
            self._received += 1
            self._last_arrival = now
        frame = SerializedFrame(raw, self._msg_type)
        try:
            stamp_ns, frame_id = stamp_and_frame_id(frame, raw)
            ingest(
                self._window,
                stamp_ns,
                frame_id,
                frame,
                self._max_input_pixels,
                now_ns=self._node.get_clock().now().nanoseconds,
                freshest=True,
            )
        except InputError as exc:
            self._record_invalid(str(exc), now)
        except Exception as exc:  # undeserializable bytes or a bug: drop the frame, keep going
            self._record_invalid(f"unreadable frame: {exc!r}", now)

    def _on_reader_error(self, exc: BaseException) -> None:
        self._node.get_logger().error(f"camera {self.topic} stopped reading: {exc!r}")

    def _record_invalid(self, error: str, now: float) -> None:
        with self._lock:
            self._invalid += 1
            self._last_error = error
            warn = now - self._last_warn >= WARN_PERIOD_S
            if warn:
                self._last_warn = now
        if warn:
            self._node.get_logger().warning(
                f"dropped invalid frame on {self.topic}: {error} "
                f"(invalid so far: {self._invalid}; "
                f"warnings throttled to 1 per {WARN_PERIOD_S:g} s)"
            )

    def silent_s(self, now: float | None = None) -> float | None:
        """Seconds since the last message arrived; None if none has."""
        with self._lock:
            last = self._last_arrival
        return None if last is None else (now or time.monotonic()) - last

    def stats(self) -> CameraStats:
        with self._lock:
            return CameraStats(
                self.topic,
                self._received,
                self._invalid,
                self._last_error,
                None if self._last_arrival is None else time.monotonic() - self._last_arrival,
            )

    def destroy(self) -> None:
        self._reader.stop()
        self._node.destroy_subscription(self._sub)


def image_qos(name: str) -> QoSProfile:
    """``sensor_data``: best effort, depth 1 (matches reliable publishers too); ``reliable``."""
    if name == "reliable":
        return QoSProfile(depth=5, reliability=QoSReliabilityPolicy.RELIABLE)
    qos = QoSProfile(depth=1, reliability=QoSReliabilityPolicy.BEST_EFFORT)
    qos.durability = qos_profile_sensor_data.durability
    return qos


def create_cameras(
    node: Node, windows: WindowSet, qos_name: str, max_input_pixels: int
) -> list[Camera]:
    qos = image_qos(qos_name)
    return [
        Camera(node, cam, windows.window(cam), qos, max_input_pixels) for cam in windows.cameras
    ]


def fresh_snapshot(
    cameras: list[Camera], windows: WindowSet, max_frame_age_s: float
) -> WindowSnapshot:
    """The windows' clips, leaving out cameras silent for longer than ``max_frame_age_s``.

    Raises:
        Refused: no camera has fresh, usable frames; the message names each camera and why,
            with what the ROS graph says about a silent one (``topic_hints``).
    """
    stale: dict[str, str] = {}
    for cam in cameras:
        silent = cam.silent_s()
        if silent is None:
            stale[cam.topic] = f"camera {cam.topic} has sent no frames since activation"
        elif silent > max_frame_age_s:
            stale[cam.topic] = f"camera {cam.topic} silent for {silent:.1f} s"
    clips = tuple(c for c in windows.snapshot().clips if c.camera not in stale)
    if clips:
        return WindowSnapshot(clips)
    hints = {c.topic: silent_camera_hint(c._node, c.topic) for c in cameras if c.topic in stale}
    reasons = [f"{why} ({hints[t]})" if hints[t] else why for t, why in stale.items()] or [
        f"camera {c.topic} sent {c.stats().invalid} invalid frames ({c.stats().last_error})"
        for c in cameras
    ]
    raise Refused(f"no recent frames (max_frame_age_s={max_frame_age_s:g}): " + "; ".join(reasons))
