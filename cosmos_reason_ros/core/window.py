"""Sliding windows of recent camera frames, sampled at a fixed rate and downscaled once.

One :class:`FrameWindow` per camera keeps the frames of the last ``window_s`` seconds of camera
time, sampled at ``sample_fps`` and downscaled to the model's pixel budget. The hot path of an
image callback is::

    if not window.accept(stamp_ns):
        return                                   # most frames end here, before any decoding
    image = decode_image(msg, window.target_size)
    window.push(stamp_ns, frame_id, image)

Sampling: the first frame after a (re)start anchors a clock ticking every ``1 / sample_fps``
seconds; each tick opens a slot, and the first frame in a slot is kept. Slots open
``sample_tolerance`` periods early so that integer-nanosecond stamps of rates whose period is not
a whole number of nanoseconds (120 Hz: 8_333_333.3 ns) and small jitter do not push a frame into
the next slot: at 120 Hz in and 4 fps out exactly every 30th frame is kept. Kept frames average
exactly ``sample_fps`` (a 30 Hz camera gives 4 fps, not 3.75); a clip's ``fps`` is measured from
its stamps.

Camera restarts: a stamp more than ``window_s`` older than the newest stamp seen cannot belong to
the same stream (a restarted camera or a replayed bag), so the window is cleared and sampling
restarts from that frame, instead of dropping every later frame as out of order. Smaller steps
back are dropped and counted as out of order; a repeated stamp is counted as a duplicate.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from cosmos_reason_ros.core.errors import ConfigError, InputError
from cosmos_reason_ros.core.types import Clip, Image, WindowSnapshot

__all__ = ["FrameWindow", "WindowConfig", "WindowSet", "WindowStats"]

_NS_PER_S = 1_000_000_000


def _check_number(name: str, value: object, *, integer: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        kind = "an integer" if integer else "a number"
        raise ConfigError(f"{name} must be {kind}, got {value!r}")
    if integer and not isinstance(value, int):
        raise ConfigError(f"{name} must be an integer, got {value!r}")
    if not math.isfinite(value):
        raise ConfigError(f"{name} must be finite, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class WindowConfig:
    """How much camera time a window holds, how densely, and at what resolution.

    Attributes:
        window_s: Seconds of camera time kept, counted back from the newest frame.
        sample_fps: Frames kept per second of camera time (Cosmos-Reason was trained at 4 fps).
        max_frame_pixels: Most pixels of one frame after downscaling.
        max_total_pixels: Most pixels of all frames of one clip together; a full window of
            ``capacity`` frames stays within it (Cosmos recipe: 8192 * 28 * 28).
        patch_multiple: Frame sides are multiples of this (28 for Qwen2.5-VL, 32 for Qwen3-VL).
        sample_tolerance: Fraction of the sampling period by which a slot opens early, to absorb
            stamp rounding and jitter; keep it below one input frame period (the default, 1 %,
            is 2.5 ms at 4 fps: right for cameras up to 400 Hz).
    """

    window_s: float = 4.0
    sample_fps: float = 4.0
    max_frame_pixels: int = 448 * 448
    max_total_pixels: int = 8192 * 28 * 28
    patch_multiple: int = 28
    sample_tolerance: float = 0.01

    def __post_init__(self) -> None:
        if _check_number("window_s", self.window_s) <= 0:
            raise ConfigError(f"window_s must be > 0 seconds, got {self.window_s!r}")
        if _check_number("sample_fps", self.sample_fps) <= 0:
            raise ConfigError(f"sample_fps must be > 0, got {self.sample_fps!r}")
        tolerance = _check_number("sample_tolerance", self.sample_tolerance)
        if not 0 <= tolerance < 0.5:
            raise ConfigError(f"sample_tolerance must be in [0, 0.5), got {tolerance!r}")
        if _check_number("patch_multiple", self.patch_multiple, integer=True) < 1:
            raise ConfigError(f"patch_multiple must be >= 1, got {self.patch_multiple!r}")
        patch_px = self.patch_multiple**2
        if _check_number("max_frame_pixels", self.max_frame_pixels, integer=True) < patch_px:
            raise ConfigError(
                f"max_frame_pixels must hold at least one {self.patch_multiple}x"
                f"{self.patch_multiple} patch ({patch_px}), got {self.max_frame_pixels}"
            )
        _check_number("max_total_pixels", self.max_total_pixels, integer=True)
        if self.max_total_pixels < patch_px * self.capacity:
            raise ConfigError(
                f"max_total_pixels must hold one patch ({patch_px} px) for each of the "
                f"{self.capacity} frames of a full window, got {self.max_total_pixels}"
            )

    @property
    def capacity(self) -> int:
        """The most frames a window can hold: one per sampling slot that fits in ``window_s``."""
        return math.ceil(self.window_s * self.sample_fps - 1e-9) + 1

    @property
    def frame_pixel_budget(self) -> int:
        """The most pixels of one downscaled frame."""
        return min(self.max_frame_pixels, self.max_total_pixels // self.capacity)


@dataclass(frozen=True)
class WindowStats:
    """Counters of one window since it was made (``clear`` keeps them).

    Attributes:
        camera: The window's camera.
        received: Stamps offered (``accept``, or ``push`` without a prior ``accept``).
        kept: Frames stored.
        skipped_rate: Frames dropped because their sampling slot already held a frame.
        out_of_order: Frames dropped because their stamp was older than one already seen.
        duplicate: Frames dropped because their stamp equalled the newest one seen.
        resets: Times the window restarted (camera restart, or a change of frame size).
        fill: Frames held now.
        capacity: The most frames the window can hold.
        newest_ns: Stamp of the newest frame held, or None when empty.
    """

    camera: str
    received: int
    kept: int
    skipped_rate: int
    out_of_order: int
    duplicate: int
    resets: int
    fill: int
    capacity: int
    newest_ns: int | None


@dataclass(frozen=True)
class _Entry:
    stamp_ns: int
    frame_id: str
    image: Image


class FrameWindow:
    """The sampled, downscaled recent frames of one camera.

    Thread-safety: one writer thread calls ``accept``/``push``/``clear``; any number of reader
    threads may call ``snapshot``, ``stats``, ``would_keep`` and ``target_size`` concurrently.
    Stored frames are made read-only, so snapshots share them without copying. Memory is
    bounded by ``capacity`` frames of at most ``frame_pixel_budget`` pixels at any input rate.
    """

    def __init__(self, camera: str, config: WindowConfig | None = None) -> None:
        """Create an empty window.

        Args:
            camera: Camera name, used to label its clips.
            config: Window settings; defaults to ``WindowConfig()``.
        """
        self._camera = camera
        self._config = config if config is not None else WindowConfig()
        self._period_ns = _NS_PER_S / self._config.sample_fps
        self._tolerance_ns = self._period_ns * self._config.sample_tolerance
        self._window_ns = round(self._config.window_s * _NS_PER_S)
        self._lock = threading.Lock()
        self._frames: deque[_Entry] = deque(maxlen=self._config.capacity)
        self._anchor_ns: int | None = None  # stamp that started the sampling clock
        self._last_slot = -1
        self._newest_seen_ns: int | None = None
        self._pending_ns: int | None = None  # accepted, not yet pushed
        self._received = self._kept = self._skipped_rate = 0
        self._out_of_order = self._duplicate = self._resets = 0

    @property
    def camera(self) -> str:
        return self._camera

    @property
    def config(self) -> WindowConfig:
        return self._config

    def _verdict(self, stamp_ns: int) -> str:
        """Classify a stamp: 'keep', 'restart', 'rate', 'duplicate' or 'out_of_order'."""
        if self._newest_seen_ns is None or self._anchor_ns is None:
            return "keep"
        if stamp_ns == self._newest_seen_ns:
            return "duplicate"
        if stamp_ns < self._newest_seen_ns:
            too_old = stamp_ns < self._newest_seen_ns - self._window_ns
            return "restart" if too_old else "out_of_order"
        if self._slot(stamp_ns) <= self._last_slot:
            return "rate"
        return "keep"

    def _slot(self, stamp_ns: int) -> int:
        anchor = self._anchor_ns if self._anchor_ns is not None else stamp_ns
        return math.floor((stamp_ns - anchor + self._tolerance_ns) / self._period_ns)

    def would_keep(self, stamp_ns: int) -> bool:
        """Whether ``accept``/``push`` would keep a frame with this stamp. Counts nothing."""
        with self._lock:
            return self._verdict(stamp_ns) in ("keep", "restart")

    def accept(self, stamp_ns: int) -> bool:
        """Decide on a frame from its stamp alone, count it, and reserve its sampling slot.

        Call before decoding; when True, decode and ``push`` the frame with the same stamp.
        A frame accepted but never pushed (say, it failed to decode) leaves its slot empty.

        Returns:
            True when the frame is to be kept.
        """
        with self._lock:
            return self._accept_locked(stamp_ns)

    def _accept_locked(self, stamp_ns: int) -> bool:
        self._received += 1
        verdict = self._verdict(stamp_ns)
        if verdict == "rate":
            self._skipped_rate += 1
            self._newest_seen_ns = stamp_ns
            return False
        if verdict == "duplicate":
            self._duplicate += 1
            return False
        if verdict == "out_of_order":
            self._out_of_order += 1
            return False
        if verdict == "restart" or self._anchor_ns is None:
            if verdict == "restart":
                self._resets += 1
            self._frames.clear()
            self._anchor_ns = stamp_ns
        self._last_slot = self._slot(stamp_ns)
        self._newest_seen_ns = stamp_ns
        self._pending_ns = stamp_ns
        return True

    def target_size(self, width: int, height: int) -> tuple[int, int]:
        """The (width, height) a frame of the given size is downscaled to.

        Keeps the aspect ratio (up to rounding to whole patches), never exceeds the source
        except to reach one patch, makes both sides multiples of ``patch_multiple``, and stays
        within ``config.frame_pixel_budget`` pixels.

        Raises:
            InputError: When a side is not positive.
        """
        if width <= 0 or height <= 0:
            raise InputError(f"frame size must be positive, got {width}x{height}")
        patch = self._config.patch_multiple
        budget = self._config.frame_pixel_budget
        scale = min(1.0, math.sqrt(budget / (width * height)))
        # The epsilon keeps float error from losing a whole patch (1080 * 0.3111... = 335.99...).
        out_w = max(patch, int(width * scale + 1e-6) // patch * patch)
        out_h = max(patch, int(height * scale + 1e-6) // patch * patch)
        # Over budget only when a side was raised to one patch (extreme aspect ratio) or by
        # that epsilon: shrink the longer side.
        while out_w * out_h > budget:
            if out_w >= out_h:
                out_w = max(patch, min(out_w - patch, budget // out_h // patch * patch))
            else:
                out_h = max(patch, min(out_h - patch, budget // out_w // patch * patch))
        return out_w, out_h

    def push(self, stamp_ns: int, frame_id: str, image: Image) -> bool:
        """Store a frame, downscaling it to ``target_size`` first if needed.

        A frame whose stamp was just accepted is stored without counting it again; otherwise
        ``push`` decides (and counts) as ``accept`` would. The window takes ownership of
        ``image`` and marks it read-only. Dropped frames never raise.

        Args:
            stamp_ns: Camera stamp of the frame.
            frame_id: ``header.frame_id`` of the frame.
            image: RGB uint8 array of shape (H, W, 3).

        Returns:
            True when the frame was stored.

        Raises:
            InputError: When ``image`` is not an RGB uint8 array of shape (H, W, 3).
        """
        if (
            not isinstance(image, np.ndarray)
            or image.dtype != np.uint8
            or image.ndim != 3
            or image.shape[2] != 3
        ):
            kind = getattr(image, "shape", type(image).__name__)
            raise InputError(f"frame must be an RGB uint8 array of shape (H, W, 3), got {kind}")
        with self._lock:
            if self._pending_ns != stamp_ns and not self._accept_locked(stamp_ns):
                return False
            self._pending_ns = None
        height, width = image.shape[:2]
        size = self.target_size(width, height)
        if size != (width, height):
            image = np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), np.uint8)
        image.flags.writeable = False
        entry = _Entry(stamp_ns, frame_id, image)
        with self._lock:
            if self._frames and self._frames[-1].image.shape != image.shape:
                self._frames.clear()  # frame size changed: frames of a clip share one shape
                self._resets += 1
            self._frames.append(entry)
            self._kept += 1
            oldest_allowed = stamp_ns - self._window_ns
            while self._frames[0].stamp_ns < oldest_allowed:
                self._frames.popleft()
        return True

    def snapshot(self) -> Clip | None:
        """An immutable clip of the frames held now, oldest first; None when empty."""
        with self._lock:
            entries = tuple(self._frames)
        if not entries:
            return None
        stamps = tuple(e.stamp_ns for e in entries)
        if len(stamps) > 1:
            fps = (len(stamps) - 1) * _NS_PER_S / (stamps[-1] - stamps[0])
        else:
            fps = self._config.sample_fps
        return Clip(
            camera=self._camera,
            frame_id=entries[-1].frame_id,
            frames=tuple(e.image for e in entries),
            stamps_ns=stamps,
            fps=fps,
        )

    def stats(self) -> WindowStats:
        """The window's counters and fill level now."""
        with self._lock:
            return WindowStats(
                camera=self._camera,
                received=self._received,
                kept=self._kept,
                skipped_rate=self._skipped_rate,
                out_of_order=self._out_of_order,
                duplicate=self._duplicate,
                resets=self._resets,
                fill=len(self._frames),
                capacity=self._config.capacity,
                newest_ns=self._frames[-1].stamp_ns if self._frames else None,
            )

    def clear(self) -> None:
        """Drop all frames and restart sampling with the next frame; counters are kept."""
        with self._lock:
            self._frames.clear()
            self._anchor_ns = None
            self._last_slot = -1
            self._newest_seen_ns = None
            self._pending_ns = None


class WindowSet:
    """One :class:`FrameWindow` per camera, in a fixed camera order.

    Thread-safety: as :class:`FrameWindow`. A snapshot locks each window in turn, so it is
    consistent per camera, not across cameras.
    """

    def __init__(self, cameras: Sequence[str], config: WindowConfig | None = None) -> None:
        """Create empty windows.

        Args:
            cameras: Camera names (e.g. image topics), in the order clips are given.
            config: Settings shared by all windows; defaults to ``WindowConfig()``.

        Raises:
            ConfigError: When ``cameras`` is empty or names a camera twice.
        """
        if isinstance(cameras, str) or not cameras:
            raise ConfigError(f"cameras must be a non-empty list of names, got {cameras!r}")
        if len(set(cameras)) != len(cameras):
            raise ConfigError(f"cameras must be unique, got {list(cameras)!r}")
        self._config = config if config is not None else WindowConfig()
        self._windows = {c: FrameWindow(c, self._config) for c in cameras}

    @property
    def cameras(self) -> tuple[str, ...]:
        return tuple(self._windows)

    @property
    def config(self) -> WindowConfig:
        return self._config

    def window(self, camera: str) -> FrameWindow:
        """The window of one camera.

        Raises:
            InputError: When the camera is unknown.
        """
        try:
            return self._windows[camera]
        except KeyError:
            raise InputError(
                f"unknown camera {camera!r}; known cameras: {list(self._windows)}"
            ) from None

    def snapshot(self) -> WindowSnapshot:
        """Clips of the cameras that hold frames, in camera order."""
        clips = (w.snapshot() for w in self._windows.values())
        return WindowSnapshot(clips=tuple(c for c in clips if c is not None))

    def stats(self) -> tuple[WindowStats, ...]:
        """Stats of every window, in camera order."""
        return tuple(w.stats() for w in self._windows.values())

    def clear(self) -> None:
        """Clear every window."""
        for w in self._windows.values():
            w.clear()
