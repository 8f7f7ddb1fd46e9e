"""Sliding windows of recent camera frames, sampled at a fixed rate and resized once.

One :class:`FrameWindow` per camera keeps the frames of the last ``window_s`` seconds of camera
time, sampled at ``sample_fps`` and resized to the size the model's processor gives them. The
hot path of an image callback is::

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

The freshest frame: first-in-slot alone would show a decision a newest frame up to one sample
period old. A frame turned down because its slot is taken may come with a ``load`` callable
(``ingest`` gives one); the window holds the newest such frame, undecoded (one per camera,
dropped when the next slot's frame is stored), and ``snapshot`` decodes it in place of its
slot's kept frame.

Freshness: live frames may carry their arrival time on the receiver's clock (``arrival_s``).
``snapshot_arrival`` gives a clip with the arrival of its newest frame, and ``usable_arrival_s``
the arrival of the newest frame stored or decoded: only frames that decoded count, so a camera
that sends nothing usable (frames that fail to decode, repeated stamps) ages, whatever arrives.

Camera restarts: a stamp more than ``window_s`` older than the newest stamp seen cannot belong to
the same stream (a restarted camera or a replayed bag), so the window is cleared and sampling
restarts from that frame, instead of dropping every later frame as out of order. Smaller steps
back are dropped and counted as out of order; a repeated stamp is counted as a duplicate.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from cosmos_reason_ros.core.errors import ConfigError, InputError
from cosmos_reason_ros.core.params import Param, check_fields, check_number, param
from cosmos_reason_ros.core.recipes import (
    REASON1_RECIPE,
    VIDEO_MIN_TOKENS,
    even_frames,
    qwen3_vl_video_resize,
    smart_resize,
    video_frame_pixels,
)
from cosmos_reason_ros.core.types import Clip, Image, WindowSnapshot

__all__ = ["MAX_WINDOW_BYTES", "FrameWindow", "WindowConfig", "WindowSet", "WindowStats"]

_NS_PER_S = 1_000_000_000
MAX_WINDOW_BYTES = 256 * 2**20
"""Ceiling of one camera's window (``WindowConfig.max_bytes``) that no parameter lifts: 6.7×
the Reason2 defaults' 38 MiB, so a long or dense window fits, and 16 cameras stay within 4 GiB."""
_LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class WindowConfig:
    """How much camera time a window holds, how densely, and at what resolution.

    The parameters are declared on their fields (``core.params``).

    Attributes:
        patch_multiple: Frame sides are multiples of this (28 for Qwen2.5-VL, 32 for Qwen3-VL).
        sample_tolerance: Fraction of the sampling period by which a slot opens early, to absorb
            stamp rounding and jitter; keep it below one input frame period (the default, 1 %,
            is 2.5 ms at 4 fps: right for cameras up to 400 Hz).
    """

    window_s: float = param(4.0, "Seconds of frames kept per camera", low=0.1, high=60.0)
    sample_fps: float = param(
        4.0,
        "Frames per second kept; -1 = the family's (4, as Cosmos-Reason was trained)",
        low=0.1,
        high=30.0,
        family=True,
    )
    max_frame_pixels: int = param(
        REASON1_RECIPE.frame_max_pixels,
        "Pixel cap per kept frame; -1 = the family's (768 visual tokens: 768 * 28 * 28 for "
        "reason1, 768 * 32 * 32 for reason2 and cosmos3)",
        low=28 * 28,
        high=4096 * 4096,
        family=True,
    )
    max_total_pixels: int = param(
        REASON1_RECIPE.total_pixels,
        "Pixels per clip as qwen-vl-utils counts them (two frames share a token); -1 = the "
        "family's (reason1: 8192 * 28 * 28, reason2: 8192 * 32 * 32, cosmos3: 12288 * 32 * 32)",
        low=28 * 28,
        high=2**31 - 1,
        family=True,
    )
    patch_multiple: int = 28
    sample_tolerance: float = 0.01

    def __post_init__(self) -> None:
        check_fields(self)
        if not 0 <= check_number("sample_tolerance", self.sample_tolerance, Param("")) < 0.5:
            raise ConfigError(
                f"sample_tolerance must be in [0, 0.5), got {self.sample_tolerance!r}"
            )
        check_number("patch_multiple", self.patch_multiple, Param("", low=1), integer=True)
        patch_px = self.patch_multiple**2
        if self.max_frame_pixels < patch_px:
            raise ConfigError(
                f"max_frame_pixels must hold at least one {self.patch_multiple}x"
                f"{self.patch_multiple} patch ({patch_px}), got {self.max_frame_pixels}"
            )
        if self.max_bytes > MAX_WINDOW_BYTES:
            raise ConfigError(
                f"a full window would hold {self.capacity} frames of up to "
                f"{self.frame_pixel_budget} pixels ({self.max_bytes / 2**20:.0f} MiB per camera); "
                f"the ceiling is {MAX_WINDOW_BYTES // 2**20} MiB: lower window_s, sample_fps or "
                "max_frame_pixels"
            )
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
    def clip_frames(self) -> int:
        """Frames of a full window's clip: ``capacity`` floored to an even count
        (``core.recipes.even_frames``), as qwen-vl-utils samples a video of the same span."""
        return even_frames(self.capacity)

    @property
    def max_bytes(self) -> int:
        """Bytes of a full window's frames at most (RGB, 3 bytes a pixel): the memory one camera
        holds, whatever arrives."""
        return self.capacity * self.frame_pixel_budget * 3

    @property
    def max_video_tokens(self) -> int:
        """Visual tokens of a full clip at most: frames merge in pairs over time, and one token
        covers ``patch_multiple``² pixels of a pair."""
        return math.ceil(self.capacity / 2) * (self.frame_pixel_budget // self.patch_multiple**2)

    @property
    def frame_pixel_budget(self) -> int:
        """The most pixels of one downscaled frame: qwen-vl-utils' per-frame cap for a full
        window's clip (``core.recipes.video_frame_pixels`` of ``clip_frames``), at most
        ``max_frame_pixels``."""
        per_frame = video_frame_pixels(
            self.max_total_pixels, self.clip_frames, self.patch_multiple
        )
        return min(self.max_frame_pixels, per_frame)

    def frame_size(self, width: int, height: int) -> tuple[int, int]:
        """The (width, height) the model's processor gives a ``width`` x ``height`` frame.

        28 px per token (Qwen2.5-VL, Reason1): qwen-vl-utils ``smart_resize`` within
        ``[128 tokens, frame_pixel_budget]`` pixels, as its ``fetch_video`` sizes a video, so
        small frames are upsized (320x240 becomes 392x280). 32 px (Qwen3-VL: Reason2, Cosmos 3):
        the Qwen3-VL video processor's ``smart_resize`` of a ``clip_frames``-frame clip with
        ``cap_pixels_per_frame`` (``core.recipes.qwen3_vl_video_resize``), which rounds sides
        and raises only a clip under ``shortest_edge`` (128 tokens) in all. Sources rounding
        alone would put over ``frame_pixel_budget`` (an aspect ratio over 200, refused
        upstream) are floored into it instead, so memory stays bounded.
        """
        patch = self.patch_multiple
        budget = self.frame_pixel_budget
        min_pixels = min(VIDEO_MIN_TOKENS * patch**2, budget)
        try:
            if patch == REASON1_RECIPE.patch_multiple:
                out_h, out_w = smart_resize(height, width, patch, min_pixels, budget)
            else:
                frames = self.clip_frames
                out_h, out_w = qwen3_vl_video_resize(
                    frames, height, width, patch, min_pixels=min_pixels, max_pixels=budget * frames
                )
        except ValueError:  # an aspect ratio over 200
            out_w, out_h = width, height
        if out_w * out_h <= budget and min(out_w, out_h) >= patch:
            return out_w, out_h
        return _floor_fit(width, height, patch, budget)


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
    arrival_s: float | None = None


@dataclass(frozen=True)
class _Held:
    """The newest frame turned down for a taken slot, decoded on demand (then kept decoded)."""

    stamp_ns: int
    frame_id: str
    load: Callable[[], Image]
    arrival_s: float | None = None
    image: Image | None = None


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
        self._held: _Held | None = None  # the freshest frame of the newest slot, undecoded
        self._usable_arrival_s: float | None = None  # newest frame stored or decoded
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

    def accept(
        self,
        stamp_ns: int,
        frame_id: str = "",
        load: Callable[[], Image] | None = None,
        arrival_s: float | None = None,
    ) -> bool:
        """Decide on a frame from its stamp alone, count it, and reserve its sampling slot.

        Call before decoding; when True, decode and ``push`` the frame with the same stamp.
        A frame accepted but never pushed (say, it failed to decode) leaves its slot empty.

        Args:
            stamp_ns: Camera stamp of the frame.
            frame_id: ``header.frame_id`` of the frame (used with ``load``).
            load: Decodes the frame (an RGB uint8 array). When the frame is turned down
                because its slot is taken, the window holds it as the slot's freshest frame
                for ``snapshot`` (called from the snapshot's thread, at most once). Only a
                frame with a new stamp is held: a repeated stamp never refreshes the window.
            arrival_s: When the held frame arrived, on the caller's clock (freshness).

        Returns:
            True when the frame is to be kept.
        """
        with self._lock:
            verdict = self._verdict(stamp_ns)
            kept = self._accept_locked(stamp_ns)
            if load is not None and verdict == "rate":
                self._held = _Held(stamp_ns, frame_id, load, arrival_s)
            return kept

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
            self._held = None
            self._anchor_ns = stamp_ns
        self._last_slot = self._slot(stamp_ns)
        self._newest_seen_ns = stamp_ns
        self._pending_ns = stamp_ns
        return True

    def target_size(self, width: int, height: int) -> tuple[int, int]:
        """The (width, height) a frame of the given size is resized to: the model's processor's
        own size for it (``WindowConfig.frame_size``), so servers and processors keep it.

        Raises:
            InputError: When a side is not positive.
        """
        if width <= 0 or height <= 0:
            raise InputError(f"frame size must be positive, got {width}x{height}")
        return self._config.frame_size(width, height)

    def push(
        self, stamp_ns: int, frame_id: str, image: Image, arrival_s: float | None = None
    ) -> bool:
        """Store a frame, downscaling it to ``target_size`` first if needed.

        A frame whose stamp was just accepted is stored without counting it again; otherwise
        ``push`` decides (and counts) as ``accept`` would. The window takes ownership of
        ``image`` and marks it read-only. Dropped frames never raise.

        Args:
            stamp_ns: Camera stamp of the frame.
            frame_id: ``header.frame_id`` of the frame.
            image: RGB uint8 array of shape (H, W, 3).
            arrival_s: When the frame arrived, on the caller's clock (live frames; see
                ``snapshot_arrival``); None for recorded frames.

        Returns:
            True when the frame was stored.

        Raises:
            InputError: When ``image`` is not an RGB uint8 array of shape (H, W, 3).
        """
        _check_image(image)
        with self._lock:
            if self._pending_ns != stamp_ns and not self._accept_locked(stamp_ns):
                return False
            self._pending_ns = None
        entry = _Entry(stamp_ns, frame_id, self._fitted(image), arrival_s)
        with self._lock:
            self._note_usable(arrival_s)
            if self._frames and self._frames[-1].image.shape != entry.image.shape:
                self._frames.clear()  # frame size changed: frames of a clip share one shape
                self._resets += 1
            self._frames.append(entry)
            self._kept += 1
            if self._held is not None and self._held.stamp_ns < stamp_ns:
                self._held = None  # its slot is older; until now it was the freshest frame
            oldest_allowed = stamp_ns - self._window_ns
            while self._frames[0].stamp_ns < oldest_allowed:
                self._frames.popleft()
        return True

    def _fitted(self, image: Image) -> Image:
        """``image`` at ``target_size``, read-only."""
        height, width = image.shape[:2]
        size = self.target_size(width, height)
        if size != (width, height):
            image = np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), np.uint8)
        image.flags.writeable = False
        return image

    def snapshot(self) -> Clip | None:
        """An immutable clip of the frames held now, oldest first; None when empty.

        The clip holds an even number of frames (``core.recipes.even_frames``): with an odd
        number held, the oldest is left out, as qwen-vl-utils floors a sampled video to pairs
        (a 4 s window at 4 fps holds 17 frames and gives 16, as ``smart_nframes`` does for a
        4 s file). A single frame stays one; the model's processor repeats it into a pair.

        The newest slot shows its freshest frame: a held frame (see ``accept``) is decoded
        here, on the caller's thread, and replaces the newest kept frame of its slot. A held
        frame that cannot be decoded is skipped (the kept frame stays).
        """
        return self.snapshot_arrival()[0]

    def snapshot_arrival(self) -> tuple[Clip | None, float | None]:
        """``snapshot``, with the arrival time (``arrival_s``) of the clip's newest frame.

        The arrival is None when the clip is None or its newest frame came without one
        (recorded frames). Both come from the same frames, so a caller judging freshness
        judges exactly the clip it gets.
        """
        with self._lock:
            entries, held = tuple(self._frames), self._held
            if held is None or not entries or held.stamp_ns <= entries[-1].stamp_ns:
                held = None
            newest_slot = self._slot(entries[-1].stamp_ns) if entries else 0
            same_slot = held is not None and self._slot(held.stamp_ns) == newest_slot
        if held is not None:
            entries = self._with_freshest(entries, held, same_slot)
        if not entries:
            return None, None
        # An even count, newest frames kept: qwen-vl-utils samples a video so (frames pair up).
        entries = entries[len(entries) - even_frames(len(entries)) :]
        stamps = tuple(e.stamp_ns for e in entries)
        if len(stamps) > 1:
            fps = (len(stamps) - 1) * _NS_PER_S / (stamps[-1] - stamps[0])
        else:
            fps = self._config.sample_fps
        clip = Clip(
            camera=self._camera,
            frame_id=entries[-1].frame_id,
            frames=tuple(e.image for e in entries),
            stamps_ns=stamps,
            fps=fps,
        )
        return clip, entries[-1].arrival_s

    def _note_usable(self, arrival_s: float | None) -> None:
        """Under the lock: a frame that arrived at ``arrival_s`` was stored or decoded."""
        newest = self._usable_arrival_s
        if arrival_s is not None and (newest is None or arrival_s > newest):
            self._usable_arrival_s = arrival_s

    def usable_arrival_s(self) -> float | None:
        """Arrival (``arrival_s``) of the newest frame stored or decoded; None before any.

        Frames turned down by stamp (repeated, out of order) or that failed to decode never
        count. Kept across ``clear``.
        """
        with self._lock:
            return self._usable_arrival_s

    def _with_freshest(
        self, entries: tuple[_Entry, ...], held: _Held, same_slot: bool
    ) -> tuple[_Entry, ...]:
        image = held.image
        if image is None:
            try:
                image = self._fitted(_check_image(held.load()))
            except Exception as exc:  # any decoder's failure: the kept frame stands in
                _LOG.debug("freshest frame skipped: camera=%s error=%r", self._camera, exc)
                return entries
            with self._lock:
                if self._held is held:  # decode once per held frame
                    self._held = dataclasses.replace(held, image=image)
                self._note_usable(held.arrival_s)
        if image.shape != entries[-1].image.shape:
            return entries
        fresh = _Entry(held.stamp_ns, held.frame_id, image, held.arrival_s)
        oldest_ns = fresh.stamp_ns - self._window_ns
        # Same slot: the fresher frame takes its place. A newer slot (its first frame is being
        # decoded now): append, then keep the window's span and capacity.
        kept = [e for e in entries[: -1 if same_slot else None] if e.stamp_ns >= oldest_ns]
        return (*kept[max(0, len(kept) + 1 - self._config.capacity) :], fresh)

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
            self._held = None


def _floor_fit(width: int, height: int, patch: int, budget: int) -> tuple[int, int]:
    """Whole patches within ``budget`` pixels, aspect kept, never above the source but for one
    patch: the fallback for sources upstream refuses (aspect ratio over 200)."""
    scale = min(1.0, math.sqrt(budget / (width * height)))
    # The epsilon keeps float error from losing a whole patch (1080 * 0.3111... = 335.99...).
    out_w = max(patch, int(width * scale + 1e-6) // patch * patch)
    out_h = max(patch, int(height * scale + 1e-6) // patch * patch)
    while out_w * out_h > budget:  # a side raised to one patch: shrink the longer side
        if out_w >= out_h:
            out_w = max(patch, min(out_w - patch, budget // out_h // patch * patch))
        else:
            out_h = max(patch, min(out_h - patch, budget // out_w // patch * patch))
    return out_w, out_h


def _check_image(image: object) -> Image:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.shape[2:] != (3,):
        kind = getattr(image, "shape", type(image).__name__)
        raise InputError(f"frame must be an RGB uint8 array of shape (H, W, 3), got {kind}")
    return image


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
