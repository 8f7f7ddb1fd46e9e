"""Camera inputs: decide by stamp, decode, push into the window. Nothing heavy.

Each camera's frames are taken by a thread of its own (``camera_reader``), outside the node's
executor, still serialized: the stamp is read from the CDR header and only frames the window
keeps are deserialized and decoded. One thread per camera, so each window has one writer. Bad
frames are dropped, counted by cause and warned about (throttled); nothing raises.

Freshness: a camera is fresh while its newest *usable* frame (stored in the window or decoded
from it) arrived less than ``max_frame_age_s`` ago. A camera that keeps publishing frames that
cannot be used (unsupported encoding, zero stamps, corrupt data) ages like a silent one, and
``fresh_snapshot`` and ``/diagnostics`` say why.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from rclpy.node import Node
from rclpy.qos import QoSProfile, QoSReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import CompressedImage
from sensor_msgs.msg import Image as ImageMsg

from cosmos_reason_ros.core.decoding import MAX_MESSAGE_BYTES
from cosmos_reason_ros.core.errors import FrameError, InputError
from cosmos_reason_ros.core.ingest import ingest
from cosmos_reason_ros.core.types import Clip, WindowSnapshot
from cosmos_reason_ros.core.window import FrameWindow, WindowSet, WindowStats
from cosmos_reason_ros.ros.camera_reader import (
    NotByExecutor,
    ReaderThread,
    SerializedFrame,
    stamp_and_frame_id,
)
from cosmos_reason_ros.ros.requests import Refused
from cosmos_reason_ros.ros.topic_hints import silent_camera_hint

WARN_PERIOD_S = 5.0
_HEADER_SLACK_BYTES = 4096  # a serialized message is its image data plus a small header
CAUSE_WORDS = {
    "stamp": "bad stamps",
    "encoding": "unusable encoding",
    "corrupt": "corrupt data",
    "too_large": "frames over the size ceiling",
    "malformed": "malformed frames",
}
"""How diagnostics and refusals name each ``FrameError.cause``."""


@dataclass(frozen=True)
class CameraStats:
    """Per-camera counters since activation.

    Attributes:
        topic: The camera topic.
        received: Messages taken from the topic.
        invalid: Messages dropped as unusable (the sum of ``invalid_by_cause``).
        last_error: Why the newest unusable message was dropped.
        silent_s: Seconds since any message arrived; None before the first.
        invalid_by_cause: ``(cause, count)`` for each ``FrameError.CAUSES``, in that order.
        last_cause: The cause of the newest unusable message ("" before one).
        invalid_age_s: Seconds since the newest unusable message; None before one.
        usable_age_s: Seconds since the newest usable frame arrived (stored in the window or
            decoded from it); None before one.
    """

    topic: str
    received: int
    invalid: int
    last_error: str
    silent_s: float | None
    invalid_by_cause: tuple[tuple[str, int], ...] = ()
    last_cause: str = ""
    invalid_age_s: float | None = None
    usable_age_s: float | None = None


def stale_reason(
    cam: CameraStats, window: WindowStats | None, max_age_s: float, usable_age_s: float | None
) -> str:
    """Why a camera is stale, as a clause after its name; "" when it is fresh.

    Args:
        cam: The camera's counters.
        window: Its window's counters (repeated and backward stamps are counted there).
        max_age_s: ``max_frame_age_s``.
        usable_age_s: Age of the newest usable frame to judge (the snapshot's, for a
            decision); None when there is none.
    """
    if usable_age_s is not None and usable_age_s <= max_age_s:
        return ""
    if cam.silent_s is None:
        return "has sent no frames since activation"
    if cam.silent_s > max_age_s:
        return f"silent for {cam.silent_s:.1f} s"
    since = (
        "no usable frame yet"
        if usable_age_s is None
        else (f"no usable frame for {usable_age_s:.1f} s")
    )
    invalid_recent = cam.invalid_age_s is not None and (
        usable_age_s is None or cam.invalid_age_s < usable_age_s
    )
    if invalid_recent and cam.last_cause:
        why = f"{CAUSE_WORDS.get(cam.last_cause, cam.last_cause)} ({cam.last_error})"
    elif window is not None and (window.duplicate or window.out_of_order):
        why = (
            f"bad stamps (repeated: {window.duplicate}, going back: {window.out_of_order} "
            "since activation)"
        )
    else:
        why = "none of them could be decoded"
    return f"{since} though {cam.received} frames arrived; {why}"


class Camera:
    """One camera topic feeding one FrameWindow."""

    def __init__(
        self, node: Node, topic: str, window: FrameWindow, qos: QoSProfile, max_input_pixels: int
    ) -> None:
        self.topic = topic
        self.window = window
        self._node = node
        self._max_input_pixels = max_input_pixels
        self._lock = threading.Lock()
        self._received = 0
        self._causes = dict.fromkeys(FrameError.CAUSES, 0)
        self._last_error = ""
        self._last_cause = ""
        self._last_arrival: float | None = None
        self._last_invalid: float | None = None
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
        if len(raw) > MAX_MESSAGE_BYTES + _HEADER_SLACK_BYTES:  # never deserialized or held
            error = f"message of {len(raw)} bytes is over the ceiling of {MAX_MESSAGE_BYTES} bytes"
            self._record_invalid(error, "too_large", now)
            return
        frame = SerializedFrame(raw, self._msg_type)
        try:
            stamp_ns, frame_id = stamp_and_frame_id(frame, raw)
            ingest(
                self.window,
                stamp_ns,
                frame_id,
                frame,
                self._max_input_pixels,
                now_ns=self._node.get_clock().now().nanoseconds,
                freshest=True,
                arrival_s=now,
            )
        except FrameError as exc:
            self._record_invalid(str(exc), exc.cause, now)
        except InputError as exc:
            self._record_invalid(str(exc), "malformed", now)
        except Exception as exc:  # undeserializable bytes or a bug: drop the frame, keep going
            self._record_invalid(f"unreadable frame: {exc!r}"[:300], "corrupt", now)

    def _on_reader_error(self, exc: BaseException) -> None:
        self._node.get_logger().error(f"camera {self.topic} stopped reading: {exc!r}")

    def _record_invalid(self, error: str, cause: str, now: float) -> None:
        with self._lock:
            self._causes[cause] = self._causes.get(cause, 0) + 1
            self._last_error = error
            self._last_cause = cause
            self._last_invalid = now
            invalid = sum(self._causes.values())
            warn = now - self._last_warn >= WARN_PERIOD_S
            if warn:
                self._last_warn = now
        if warn:
            self._node.get_logger().warning(
                f"dropped invalid frame on {self.topic}: {error} "
                f"(invalid so far: {invalid}; "
                f"warnings throttled to 1 per {WARN_PERIOD_S:g} s)"
            )

    def silent_s(self, now: float | None = None) -> float | None:
        """Seconds since the last message arrived, usable or not; None if none has."""
        with self._lock:
            last = self._last_arrival
        return None if last is None else (now or time.monotonic()) - last

    def stats(self, now: float | None = None) -> CameraStats:
        now = time.monotonic() if now is None else now
        usable = self.window.usable_arrival_s()
        with self._lock:
            return CameraStats(
                topic=self.topic,
                received=self._received,
                invalid=sum(self._causes.values()),
                last_error=self._last_error,
                silent_s=None if self._last_arrival is None else now - self._last_arrival,
                invalid_by_cause=tuple(self._causes.items()),
                last_cause=self._last_cause,
                invalid_age_s=None if self._last_invalid is None else now - self._last_invalid,
                usable_age_s=None if usable is None else now - usable,
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
    """The windows' clips, leaving out stale cameras: those whose newest usable frame (the
    newest frame of the clip itself) arrived more than ``max_frame_age_s`` ago.

    Raises:
        Refused: no camera has fresh, usable frames; the message names each camera and why
            (silent, or which kind of unusable frames it sends), with what the ROS graph
            says about a silent one (``topic_hints``).
    """
    now = time.monotonic()
    clips: list[Clip] = []
    stale: dict[str, str] = {}
    for cam in cameras:
        window = windows.window(cam.topic)
        clip, arrival = window.snapshot_arrival()
        usable_age = None if arrival is None else now - arrival
        why = stale_reason(cam.stats(now), window.stats(), max_frame_age_s, usable_age)
        if clip is not None and not why:
            clips.append(clip)
        else:
            stale[cam.topic] = f"camera {cam.topic} {why or 'holds no frames'}"
    if clips:
        return WindowSnapshot(tuple(clips))
    reasons = []
    for cam in cameras:
        why = stale[cam.topic]
        hint = silent_camera_hint(cam._node, cam.topic) if cam.stats(now).received == 0 else ""
        reasons.append(f"{why} ({hint})" if hint else why)
    raise Refused(f"no recent frames (max_frame_age_s={max_frame_age_s:g}): " + "; ".join(reasons))
