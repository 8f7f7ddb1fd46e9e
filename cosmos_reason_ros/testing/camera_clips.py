"""Clips as the node's own window makes them from a live camera, for tests that need what a
real deployment sends: frames at the camera's rate through ``FrameWindow`` with a family's
recipe, so sizes and counts are the ones users get."""

from __future__ import annotations

import numpy as np

from cosmos_reason_ros.core.recipes import FamilyRecipe
from cosmos_reason_ros.core.types import Clip
from cosmos_reason_ros.core.window import FrameWindow, WindowConfig

__all__ = ["camera_clip"]

_SECOND_NS = 1_000_000_000
_T0_NS = 1_700_000_000_000_000_000


def camera_clip(
    recipe: FamilyRecipe,
    width: int,
    height: int,
    *,
    camera: str = "front",
    camera_hz: int = 30,
    seconds: float = 6.0,
    seed: int = 0,
) -> Clip:
    """The clip the window holds after ``seconds`` of random ``width`` x ``height`` frames at
    ``camera_hz``, sampled and sized by ``recipe``'s rate and pixel budgets."""
    window = FrameWindow(
        camera,
        WindowConfig(
            sample_fps=recipe.fps,
            max_frame_pixels=recipe.frame_max_pixels,
            max_total_pixels=recipe.total_pixels,
            patch_multiple=recipe.patch_multiple,
        ),
    )
    rng = np.random.default_rng(seed)
    for i in range(round(seconds * camera_hz)):
        stamp = _T0_NS + i * _SECOND_NS // camera_hz
        if window.accept(stamp):
            window.push(stamp, "cam", rng.integers(0, 256, (height, width, 3), np.uint8))
    clip = window.snapshot()
    if clip is None:
        raise ValueError(f"{seconds} s at {camera_hz} Hz left the window empty")
    return clip
