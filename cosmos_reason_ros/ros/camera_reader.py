"""Camera frames taken from DDS by a thread of their own, still serialized.

Why not the node's executor: rclpy's executor spends milliseconds of Python (under the GIL) per
message on rebuilding its wait set and dispatching to a thread pool. Four 30 Hz cameras are 120
such messages a second, competing for the GIL with the generate loop; measured on the soak
(2 cores), the node took only 5-22 of each camera's 30 frames a second, which frames survived
was decided by the executor rather than by the stamp sampling, and the decoding slowed
generation down. Here each camera has one thread that waits on its subscription alone (the GIL
is released while waiting), takes the message still serialized (one copy, no Python message
built) and reads the stamp from the CDR header. Only frames the window keeps are deserialized.

The subscription stays on the node (its name, remappings and introspection are the node's); its
callback group tells the executor never to serve it.
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Callable
from typing import Any

from rclpy.callback_groups import CallbackGroup
from rclpy.guard_condition import GuardCondition
from rclpy.serialization import deserialize_message

from cosmos_reason_ros.ros.conversions import ns_from_time
from cosmos_reason_ros.ros.rclpy_adapter import SubscriptionWaitSet

_WAKE_NS = 500_000_000  # wait at most this long, so a stop is noticed even without the guard
_NS = 1_000_000_000
# Encapsulation identifiers whose Header layout (int32 sec, uint32 nanosec, string frame_id at
# offset 4) is plain CDR: CDR and XCDR2 plain, big and little endian.
_BIG = {b"\x00\x00", b"\x00\x06", b"\x00\x10"}
_LITTLE = {b"\x00\x01", b"\x00\x07", b"\x00\x11"}


class NotByExecutor(CallbackGroup):
    """A callback group that no executor serves: its entities are left out of every wait set."""

    def can_execute(self, entity: Any) -> bool:
        return False

    def beginning_execution(self, entity: Any) -> bool:
        return False

    def ending_execution(self, entity: Any) -> None:
        return None


def header_of(raw: bytes) -> tuple[int, str] | None:
    """``(stamp_ns, frame_id)`` from a serialized message that starts with a ``std_msgs/Header``
    (``sensor_msgs/Image`` and ``CompressedImage`` do), or None where the bytes are not a CDR
    encoding this function knows or are too short."""
    kind = raw[:2]
    order = "<" if kind in _LITTLE else ">" if kind in _BIG else ""
    if not order or len(raw) < 16:
        return None
    sec, nanosec, length = struct.unpack_from(order + "iII", raw, 4)
    if length == 0 or 16 + length > len(raw) or nanosec >= _NS:
        return None
    frame_id = raw[16 : 16 + length - 1].decode("utf-8", errors="replace")
    return sec * _NS + nanosec, frame_id


class SerializedFrame:
    """A camera message still serialized; deserialized on its first field access (by the
    decoder, only for frames the window keeps), then behaves as the message itself."""

    __slots__ = ("_msg", "_raw", "_type")

    def __init__(self, raw: bytes, msg_type: Any) -> None:
        self._raw: bytes | None = raw
        self._type = msg_type
        self._msg: Any = None

    def message(self) -> Any:
        """The deserialized message (deserialized now if not yet)."""
        raw = self._raw
        if self._msg is None and raw is not None:
            self._msg = deserialize_message(raw, self._type)
            self._raw = None  # the message holds the pixels now
        return self._msg

    def __getattr__(self, name: str) -> Any:
        return getattr(self.message(), name)


def stamp_and_frame_id(frame: SerializedFrame, raw: bytes) -> tuple[int, str]:
    """The frame's stamp and frame_id: from the CDR header, else from the whole message."""
    header = header_of(raw)
    if header is not None:
        return header
    msg = frame.message()
    return ns_from_time(msg.header.stamp), str(msg.header.frame_id)


class ReaderThread:
    """Takes one subscription's messages (serialized) on a thread and hands each to ``on_raw``.

    Thread-safety: ``stop`` may be called from any thread, once; afterwards the subscription
    may be destroyed. ``on_raw`` runs on this thread only.
    """

    def __init__(
        self,
        subscription: Any,
        context: Any,
        on_raw: Callable[[bytes], None],
        on_error: Callable[[BaseException], None],
    ) -> None:
        self._sub = subscription
        self._context = context
        self._on_raw = on_raw
        self._on_error = on_error
        self._stopping = threading.Event()
        self._guard = GuardCondition(None, None, context=context)
        name = f"camera {subscription.topic_name}"
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """End the thread (waking it now) and wait for it."""
        self._stopping.set()
        self._guard.trigger()
        self._thread.join(timeout_s)
        self._guard.destroy()

    def _run(self) -> None:
        try:
            wait_set = SubscriptionWaitSet(self._sub, self._guard, self._context)
            while not self._stopping.is_set() and self._context.ok():
                raw = wait_set.take_serialized(_WAKE_NS)
                if raw is not None and not self._stopping.is_set():
                    self._on_raw(raw)
        except Exception as exc:  # rcl failed under us (shutdown); say so unless we are stopping
            if not self._stopping.is_set() and self._context.ok():
                self._on_error(exc)
