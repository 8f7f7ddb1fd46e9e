"""How a frame window is shaped (``WindowConfig``) and what it has seen (``WindowStats``)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from cosmos_reason_ros.core.errors import ConfigError
from cosmos_reason_ros.core.recipes import REASON1_RECIPE, video_frame_pixels

__all__ = ["WindowConfig", "WindowStats"]


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
        max_frame_pixels: Most pixels of one frame after downscaling (the family's
            qwen-vl-utils ``VIDEO_MAX_PIXELS``: 768 tokens).
        max_total_pixels: The clip's ``total_pixels`` as qwen-vl-utils counts it: a full window
            gives each frame ``total / frames * 2`` pixels (two frames share one token), within
            the family's per-frame bounds (Cosmos recipe: 8192 tokens, 8192 * 28 * 28).
        patch_multiple: Frame sides are multiples of this (28 for Qwen2.5-VL, 32 for Qwen3-VL).
        sample_tolerance: Fraction of the sampling period by which a slot opens early, to absorb
            stamp rounding and jitter; keep it below one input frame period (the default, 1 %,
            is 2.5 ms at 4 fps: right for cameras up to 400 Hz).
    """

    window_s: float = 4.0
    sample_fps: float = 4.0
    max_frame_pixels: int = REASON1_RECIPE.frame_max_pixels
    max_total_pixels: int = REASON1_RECIPE.total_pixels
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
    def max_video_tokens(self) -> int:
        """Visual tokens of a full clip at most: frames merge in pairs over time, and one token
        covers ``patch_multiple``² pixels of a pair."""
        return math.ceil(self.capacity / 2) * (self.frame_pixel_budget // self.patch_multiple**2)

    @property
    def frame_pixel_budget(self) -> int:
        """The most pixels of one downscaled frame: qwen-vl-utils' per-frame cap for a full
        window (``core.recipes.video_frame_pixels``), at most ``max_frame_pixels``."""
        per_frame = video_frame_pixels(self.max_total_pixels, self.capacity, self.patch_multiple)
        return min(self.max_frame_pixels, per_frame)


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
