"""Frame sizes and counts equal upstream's, on a table of camera sizes (issue 22, item 7).

The references are written from upstream's formulas, not taken from ``core.recipes``:
qwen-vl-utils 0.0.11 ``vision_process.py`` (``smart_nframes``, ``fetch_video``'s pixel cap,
``smart_resize``; ``test/qwen_vl_utils_reference.py``) for Reason1, and the installed
transformers Qwen3-VL video processor (``video_processing_qwen3_vl.py``: ``resize`` with
``cap_pixels_per_frame``, ``smart_resize``) for Reason2 and Cosmos 3.
"""

from __future__ import annotations

import numpy as np
import pytest
import qwen_vl_utils_reference as qwen_vl_utils

from cosmos_reason_ros.core.recipes import (
    COSMOS3_RECIPE,
    REASON1_RECIPE,
    REASON2_RECIPE,
    FamilyRecipe,
    smart_nframes,
    smart_resize,
)
from cosmos_reason_ros.core.window import FrameWindow, WindowConfig

CAMERAS = [
    (160, 120),
    (320, 240),
    (424, 240),
    (640, 360),
    (640, 480),
    (848, 480),
    (1024, 768),
    (1280, 720),
    (1280, 1024),
    (1920, 1080),
    (1920, 1200),
    (2560, 1440),
    (3840, 2160),
]
SECOND = 1_000_000_000
T0 = 1_700_000_000_000_000_000


def _qwen3_vl_video_size(recipe: FamilyRecipe, width: int, height: int, frames: int) -> tuple:
    """The installed Qwen3-VL video processor's ``resize`` with ``cap_pixels_per_frame``."""
    video_processing = pytest.importorskip(
        "transformers.models.qwen3_vl.video_processing_qwen3_vl"
    )
    shortest = 128 * 32 * 32  # Qwen3VLVideoProcessor.size's default
    longest = 2 * recipe.total_pixels  # two frames a token: the processor counts every frame
    per_frame = max(min(768 * 32 * 32, longest // frames), int(shortest * 1.05))
    h, w = video_processing.smart_resize(
        num_frames=frames,
        height=height,
        width=width,
        factor=32,
        temporal_factor=2,
        min_pixels=shortest,
        max_pixels=per_frame * frames,
    )
    return w, h


def _config(recipe: FamilyRecipe) -> WindowConfig:
    """The window the node builds for the family's defaults."""
    return WindowConfig(
        sample_fps=recipe.fps,
        max_frame_pixels=recipe.frame_max_pixels,
        max_total_pixels=recipe.total_pixels,
        patch_multiple=recipe.patch_multiple,
    )


def test_a_full_window_gives_the_even_count_qwen_vl_utils_samples_from_the_same_span() -> None:
    config = _config(REASON1_RECIPE)
    window = FrameWindow("cam", config)
    for i in range(10 * 30):  # ten seconds of a 30 Hz camera
        stamp = T0 + i * SECOND // 30
        if window.accept(stamp):
            window.push(stamp, "cam", np.zeros((28, 28, 3), np.uint8))
    clip = window.snapshot()
    assert clip is not None and window.stats().fill == config.capacity == 17
    # A 4 s file at 30 Hz: 120 frames, 16 sampled at 4 fps.
    assert len(clip.frames) == config.clip_frames == qwen_vl_utils.nframes(120, 30.0, 4.0) == 16
    assert clip.stamps_ns[-1] == window.stats().newest_ns  # the oldest frame is the one left
    assert clip.fps == pytest.approx(4.0, rel=0.01)  # 30 Hz stamps: 0.233 or 0.267 s apart


@pytest.mark.parametrize("held", [1, 2, 3, 8, 9])
def test_snapshots_hold_an_even_count_but_a_single_frame(held: int) -> None:
    window = FrameWindow("cam", _config(REASON1_RECIPE))
    for i in range(held):
        window.push(T0 + i * SECOND // 4, "cam", np.zeros((28, 28, 3), np.uint8))
    clip = window.snapshot()
    assert clip is not None and len(clip.frames) == (held if held == 1 else held // 2 * 2)


def test_the_recipes_references_agree_with_the_ones_written_here() -> None:
    assert smart_nframes(120, 30.0, 4.0) == qwen_vl_utils.nframes(120, 30.0, 4.0)
    for width, height in CAMERAS:
        max_pixels = 768 * 28 * 28
        ours = smart_resize(height, width, 28, 128 * 28 * 28, max_pixels)
        assert ours[::-1] == qwen_vl_utils.video_size(width, height, 16)


@pytest.mark.parametrize("recipe", [REASON1_RECIPE, REASON2_RECIPE, COSMOS3_RECIPE])
def test_frame_sizes_equal_upstream_processors_for_every_camera_size(
    recipe: FamilyRecipe,
) -> None:
    config = _config(recipe)
    window = FrameWindow("cam", config)
    frames = config.clip_frames
    for width, height in CAMERAS:
        if recipe is REASON1_RECIPE:
            expected = qwen_vl_utils.video_size(width, height, frames)
        else:
            expected = _qwen3_vl_video_size(recipe, width, height, frames)
        assert window.target_size(width, height) == expected, (width, height)


def test_the_issue_s_examples() -> None:
    reason1 = FrameWindow("cam", _config(REASON1_RECIPE))
    assert reason1.target_size(320, 240) == (392, 280)  # upsized to 128 tokens
    assert reason1.target_size(640, 480) == (644, 476)  # each side rounded
    assert FrameWindow("cam", _config(REASON2_RECIPE)).target_size(320, 240) == (320, 256)
