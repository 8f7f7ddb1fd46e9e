"""The one ingest path: stamp check, then a reduced-size decode, then the window.

Every source of frames goes through ``ingest``: the node's camera callbacks, offline
evaluation, ``make bench`` and the ``cosmos-reason`` CLI (whose video frames are wrapped as
raw images with ``raw_frame``). Most frames end at the stamp check, before any decoding.

Hard ceilings of the camera path, which no parameter lifts: ``MAX_CAMERAS`` cameras per node
and, in ``core.decoding``, pixels decoded per frame and bytes of a message looked at.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cosmos_reason_ros.core.decoding import decode_image
from cosmos_reason_ros.core.errors import FrameError, InputError
from cosmos_reason_ros.core.types import Image
from cosmos_reason_ros.core.window import FrameWindow

MAX_CAMERAS = 16
"""The most cameras (``image_topics``) one node watches: each has a reader thread, a window
and a decode in flight, so cameras multiply the node's threads and memory."""

MAX_FUTURE_S = 300.0
"""Frames stamped further ahead of the receiver's clock are invalid: a camera clock gone wrong.
(Stamps in the past are fine: replayed bags carry old stamps.)"""


@dataclass(frozen=True)
class RawFrame:
    """A raw image in ``sensor_msgs/Image`` layout, for frames that do not come as messages."""

    height: int
    width: int
    encoding: str
    step: int
    data: np.ndarray
    is_bigendian: int = 0


def raw_frame(image: Image, encoding: str = "bgr8") -> RawFrame:
    """Wrap an 8-bit 3-channel array (OpenCV's BGR by default) as a raw image."""
    array = np.ascontiguousarray(image)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3:
        raise InputError(f"expected an 8-bit colour image, got {array.dtype} {array.shape}")
    height, width = array.shape[:2]
    return RawFrame(height, width, encoding, width * 3, array.reshape(-1))


def stamp_error(stamp_ns: int, now_ns: int) -> str:
    """Why the live frame stamp ``stamp_ns`` cannot be used, or "".

    A zero stamp would make every later frame a duplicate of the first, so the window would hold
    one old frame while the camera looks fresh; a far-future stamp would restart the window and
    stamp decisions wrongly. ``now_ns`` is the receiver's clock (0: a simulated clock before
    ``/clock`` arrives; the future is not checked then).
    """
    if stamp_ns <= 0:
        return "header.stamp is 0: the camera does not stamp its frames"
    if now_ns:
        ahead_s = (stamp_ns - now_ns) * 1e-9
        if ahead_s > MAX_FUTURE_S:
            return (
                f"header.stamp is {ahead_s:.0f} s ahead of this node's clock "
                f"(more than {MAX_FUTURE_S:g} s): the camera's clock is wrong"
            )
    return ""


def ingest(
    window: FrameWindow,
    stamp_ns: int,
    frame_id: str,
    msg: object,
    max_input_pixels: int,
    *,
    now_ns: int | None = None,
    freshest: bool = False,
    arrival_s: float | None = None,
) -> bool:
    """Offer one frame to ``window``; decode and keep it only if its sampling slot is open.

    Args:
        window: The camera's window.
        stamp_ns: The frame's camera stamp.
        frame_id: ``header.frame_id`` of the frame.
        msg: A ``sensor_msgs/Image`` or ``CompressedImage`` (rclpy, rosbags or ``RawFrame``).
        max_input_pixels: Larger images are refused.
        now_ns: For live frames, the receiver's clock: zero and far-future stamps are then
            refused (see ``stamp_error``). None for recorded frames (bags, files), whose
            stamps are their own time line.
        freshest: Live cameras: a frame turned down because its slot is taken is held,
            undecoded, so that a snapshot shows the freshest frame (see ``FrameWindow``).
        arrival_s: Live frames: when the message arrived (a monotonic clock), for the
            window's freshness (``FrameWindow.snapshot_arrival``).

    Returns:
        Whether the frame was kept.

    Raises:
        FrameError: The stamp or the image cannot be used (the message says why, ``cause``
            which kind of problem it is).
    """
    error = "" if now_ns is None else stamp_error(stamp_ns, now_ns)
    if error:
        raise FrameError(error, "stamp")
    target = window.target_size
    load = (lambda: decode_image(msg, target, max_input_pixels)) if freshest else None
    if not window.accept(stamp_ns, frame_id, load, arrival_s):
        return False
    image = decode_image(msg, target, max_input_pixels)
    return window.push(stamp_ns, frame_id, image, arrival_s)
