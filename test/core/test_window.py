"""Specification of the frame window: sampling, bounds, ordering, restarts, sizing, threads."""

from __future__ import annotations

import math
import sys
import threading
from itertools import pairwise

import numpy as np
import pytest

from cosmos_reason_ros.core.errors import ConfigError, InputError
from cosmos_reason_ros.core.window import MAX_WINDOW_BYTES, FrameWindow, WindowConfig, WindowSet

T0 = 1_700_000_000_000_000_000  # a realistic epoch stamp, so no test relies on stamps near 0
SECOND = 1_000_000_000


def tiny(value: int = 0) -> np.ndarray:
    """A 28x28 RGB frame (one patch; Reason1's window upsizes it to 128 tokens, as upstream)."""
    return np.full((28, 28, 3), value % 256, dtype=np.uint8)


def feed(window: FrameWindow, stamps: list[int]) -> list[int]:
    """Run the callback hot path for each stamp; return the stamps that were kept."""
    kept = []
    for i, stamp in enumerate(stamps):
        if window.accept(stamp):
            assert window.push(stamp, "cam", tiny(i))
            kept.append(stamp)
    return kept


def test_default_config_holds_four_seconds_at_four_fps_within_the_cosmos_budget() -> None:
    config = WindowConfig()
    assert config.capacity == 17  # 0.0, 0.25, ..., 4.0 s
    # qwen-vl-utils: min(VIDEO_MAX_PIXELS, total / 16 frames * 2) = 768 tokens of 28 x 28 px.
    assert config.frame_pixel_budget == 768 * 28 * 28
    # Two frames share one visual token: nine pairs stay within the 8192-token clip.
    assert config.frame_pixel_budget * math.ceil(config.capacity / 2) <= 8192 * 28 * 28


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"window_s": 0}, "window_s must be >= 0.1"),
        ({"window_s": math.inf}, "window_s must be finite"),
        ({"sample_fps": -1.0}, "sample_fps must be >= 0.1"),
        ({"sample_fps": "4"}, "sample_fps must be a number"),
        ({"patch_multiple": 0}, "patch_multiple must be >= 1"),
        ({"patch_multiple": 28.0}, "patch_multiple must be an integer"),
        ({"max_frame_pixels": 27 * 28}, "max_frame_pixels must be >= 784"),
        ({"max_frame_pixels": 28 * 28, "patch_multiple": 32}, "must hold at least one 32x32"),
        ({"max_total_pixels": 28 * 28 * 16}, "max_total_pixels must hold one patch"),
        ({"sample_tolerance": 0.5}, r"sample_tolerance must be in \[0, 0.5\)"),
        ({"window_s": True}, "window_s must be a number"),
    ],
)
def test_config_rejects_invalid_values_with_a_clear_message(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        WindowConfig(**kwargs)


@pytest.mark.parametrize(
    "stamp_of",
    [
        pytest.param(lambda k: T0 + round(k * SECOND / 120), id="rounded-120Hz"),
        pytest.param(lambda k: T0 + k * (SECOND // 120), id="truncated-period-120Hz"),
    ],
)
def test_120hz_for_60s_keeps_exactly_every_30th_frame_in_bounded_memory(stamp_of) -> None:
    window = FrameWindow("cam", WindowConfig())
    stamps = [stamp_of(k) for k in range(120 * 60)]
    kept = []
    for i, stamp in enumerate(stamps):
        if window.accept(stamp):
            window.push(stamp, "cam", tiny(i))
            kept.append(stamp)
        assert window.stats().fill <= window.config.capacity
    assert kept == stamps[::30]
    stats = window.stats()
    assert (stats.received, stats.kept, stats.skipped_rate) == (7200, 240, 6960)
    assert (stats.out_of_order, stats.duplicate, stats.resets) == (0, 0, 0)
    clip = window.snapshot()
    assert clip is not None
    assert clip.stamps_ns == tuple(stamps[::30][-16:])  # 17 held, an even 16 given
    assert clip.fps == pytest.approx(4.0, rel=1e-6)


def test_30hz_camera_is_sampled_at_four_fps_on_average() -> None:
    window = FrameWindow("cam")
    kept = feed(window, [T0 + round(k * SECOND / 30) for k in range(30 * 10)])
    assert len(kept) == 40
    assert all(0.2 * SECOND < b - a < 0.3 * SECOND for a, b in pairwise(kept))


def test_would_keep_answers_like_accept_without_counting() -> None:
    window = FrameWindow("cam")
    stamps = [T0 + round(k * SECOND / 30) for k in range(60)]
    for stamp in stamps:
        before = window.stats()
        predicted = window.would_keep(stamp)
        assert window.would_keep(stamp) == predicted  # asking twice changes nothing
        assert window.stats() == before
        assert window.accept(stamp) == predicted
        if predicted:
            window.push(stamp, "cam", tiny())


def test_out_of_order_and_duplicate_stamps_are_dropped_and_counted() -> None:
    window = FrameWindow("cam")
    assert feed(window, [T0, T0 + SECOND]) == [T0, T0 + SECOND]
    assert not window.push(T0 + SECOND, "cam", tiny())  # duplicate, via push alone
    assert not window.accept(T0 + SECOND // 2)  # half a second back: out of order
    assert not window.push(T0 + SECOND // 3, "cam", tiny())
    stats = window.stats()
    assert (stats.duplicate, stats.out_of_order, stats.resets, stats.kept) == (1, 2, 0, 2)
    clip = window.snapshot()
    assert clip is not None and clip.stamps_ns == (T0, T0 + SECOND)


def test_push_without_accept_samples_and_counts_like_accept() -> None:
    window = FrameWindow("cam")
    results = [window.push(T0 + k * SECOND // 8, "cam", tiny()) for k in range(8)]
    assert results == [True, False] * 4
    assert window.stats().received == 8


def test_frames_older_than_window_s_are_evicted() -> None:
    window = FrameWindow("cam", WindowConfig(window_s=2.0, sample_fps=4.0))
    feed(window, [T0 + k * SECOND // 4 for k in range(40)])
    clip = window.snapshot()
    assert clip is not None
    assert clip.newest_ns - clip.oldest_ns == 2 * SECOND - SECOND // 4  # the oldest left out
    assert window.stats().fill == 9 == window.config.capacity
    assert len(clip.frames) == 8 == window.config.clip_frames


def test_camera_restart_far_back_in_time_resets_the_window_and_keeps_sampling() -> None:
    window = FrameWindow("cam")
    feed(window, [T0 + k * SECOND // 4 for k in range(40)])
    restart = T0 - 3600 * SECOND
    kept = feed(window, [restart + k * SECOND // 4 for k in range(3)])
    assert kept == [restart, restart + SECOND // 4, restart + SECOND // 2]
    stats = window.stats()
    assert (stats.resets, stats.out_of_order, stats.fill) == (1, 0, 3)
    clip = window.snapshot()
    assert clip is not None and clip.oldest_ns == restart + SECOND // 4  # three held: two given


def test_frame_size_change_restarts_the_clip_so_all_frames_share_one_shape() -> None:
    window = FrameWindow("cam")
    window.push(T0, "cam", tiny())
    window.push(T0 + SECOND, "cam", np.zeros((56, 28, 3), np.uint8))
    clip = window.snapshot()
    width, height = window.target_size(28, 56)
    assert clip is not None and [f.shape for f in clip.frames] == [(height, width, 3)]
    assert window.stats().resets == 1


def test_push_downscales_once_to_target_size_and_stores_read_only_frames() -> None:
    window = FrameWindow("cam")
    image = np.full((1080, 1920, 3), (255, 0, 0), np.uint8)
    # What qwen-vl-utils' smart_resize gives 1080p under the 768-token cap.
    assert window.target_size(1920, 1080) == (1008, 560)
    window.push(T0, "cam", image)
    clip = window.snapshot()
    assert clip is not None
    frame = clip.frames[0]
    assert frame.shape == (560, 1008, 3)
    assert (frame == (255, 0, 0)).all()
    assert not frame.flags.writeable


@pytest.mark.parametrize("bad", [np.zeros((28, 28), np.uint8), np.zeros((28, 28, 3)), "image"])
def test_push_rejects_anything_but_an_rgb_uint8_array(bad: object) -> None:
    with pytest.raises(InputError, match=r"RGB uint8 array of shape \(H, W, 3\)"):
        FrameWindow("cam").push(T0, "cam", bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("patch", [28, 32])
@pytest.mark.parametrize(
    "size",
    [
        (1920, 1080),
        (640, 480),
        (4000, 3000),
        (480, 640),
        (1, 1),
        (27, 500),
        (10000, 10),
        (100, 100),
    ],
)
def test_target_size_is_whole_patches_within_budget_keeping_aspect(patch, size) -> None:
    config = WindowConfig(patch_multiple=patch)
    width, height = size
    out_w, out_h = FrameWindow("cam", config).target_size(width, height)
    assert out_w % patch == 0 and out_h % patch == 0
    assert out_w >= patch and out_h >= patch
    assert out_w * out_h <= config.frame_pixel_budget
    if max(width, height) / min(width, height) < 10:  # not an extreme aspect: kept to a patch
        assert abs(out_w / out_h - width / height) < patch / min(out_w, out_h) * 2


def test_target_size_honours_the_per_clip_budget_when_it_is_the_tighter_cap() -> None:
    config = WindowConfig(window_s=8.0, max_frame_pixels=10**6)
    # 33 frames held give an even 32: 8192 * 28 * 28 / 32 * 2 pixels each.
    assert config.capacity == 33 and config.clip_frames == 32
    assert config.frame_pixel_budget == 401_408
    assert FrameWindow("cam", config).target_size(1000, 1000) == (616, 616)


def test_a_small_clip_budget_still_gives_each_frame_qwen_vl_utils_floor() -> None:
    config = WindowConfig(window_s=8.0, max_total_pixels=33 * 28 * 28 * 4)
    assert config.frame_pixel_budget == int(128 * 28 * 28 * 1.05)  # VIDEO_MIN_PIXELS * 1.05
    qwen3 = WindowConfig(
        patch_multiple=32, max_frame_pixels=768 * 32 * 32, max_total_pixels=8192 * 32 * 32
    )
    assert qwen3.frame_pixel_budget == 768 * 32 * 32


def test_target_size_rejects_a_zero_side() -> None:
    with pytest.raises(InputError, match="frame size must be positive, got 0x10"):
        FrameWindow("cam").target_size(0, 10)


def test_snapshot_of_an_empty_window_is_none_and_of_one_frame_uses_sample_fps() -> None:
    window = FrameWindow("cam")
    assert window.snapshot() is None
    window.push(T0, "base_link", tiny())
    clip = window.snapshot()
    assert clip is not None
    assert (clip.camera, clip.frame_id, clip.fps, clip.stamps_ns) == (
        "cam",
        "base_link",
        4.0,
        (T0,),
    )


def test_clear_empties_the_window_keeps_counters_and_restarts_sampling() -> None:
    window = FrameWindow("cam")
    feed(window, [T0, T0 + SECOND])
    window.clear()
    assert window.snapshot() is None
    assert window.accept(T0)  # an older stamp is fine after clear
    stats = window.stats()
    assert (stats.received, stats.fill, stats.newest_ns) == (3, 0, None)


def test_concurrent_readers_always_see_consistent_snapshots() -> None:
    config = WindowConfig(window_s=0.5, sample_fps=30.0)  # keep every frame, evict constantly
    window = FrameWindow("cam", config)
    done = threading.Event()
    problems: list[str] = []
    snapshots = [0]

    def read() -> None:
        while not done.is_set():
            clip = window.snapshot()
            if clip is None:
                continue
            snapshots[0] += 1
            stamps = clip.stamps_ns
            if len(clip.frames) != len(stamps) or len(stamps) > config.capacity:
                problems.append(f"{len(clip.frames)} frames, {len(stamps)} stamps")
            if any(b <= a for a, b in pairwise(stamps)):
                problems.append(f"stamps not increasing: {stamps}")
            if len({f.shape for f in clip.frames}) != 1:
                problems.append("frames of different shapes")
            if stamps[-1] - stamps[0] > 0.5 * SECOND:
                problems.append("a frame older than window_s")

    def write() -> None:
        for k in range(3000):
            stamp = T0 + round(k * SECOND / 30)
            if window.accept(stamp):
                window.push(stamp, "cam", tiny(k))

    old_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # interleave the threads as finely as possible
    try:
        readers = [threading.Thread(target=read) for _ in range(2)]
        for thread in readers:
            thread.start()
        write()
        done.set()
        for thread in readers:
            thread.join(timeout=10)
    finally:
        sys.setswitchinterval(old_interval)
    assert problems == []
    assert snapshots[0] > 0
    assert window.stats().kept == 3000


def test_window_set_snapshots_cameras_with_frames_in_camera_order() -> None:
    windows = WindowSet(["front", "left", "rear"])
    windows.window("rear").push(T0, "rear_link", tiny())
    windows.window("front").push(T0 + 1, "front_link", tiny())
    snapshot = windows.snapshot()
    assert [clip.camera for clip in snapshot.clips] == ["front", "rear"]
    assert snapshot.newest_frame_id == "front_link"
    assert [s.camera for s in windows.stats()] == ["front", "left", "rear"]
    windows.clear()
    assert windows.snapshot().empty


def test_window_set_rejects_unknown_duplicate_or_missing_cameras() -> None:
    with pytest.raises(InputError, match="unknown camera 'top'"):
        WindowSet(["front"]).window("top")
    with pytest.raises(ConfigError, match="cameras must be unique"):
        WindowSet(["front", "front"])
    with pytest.raises(ConfigError, match="non-empty list"):
        WindowSet([])


def test_a_window_that_could_outgrow_the_memory_ceiling_is_refused() -> None:
    """No parameter lifts the per-camera ceiling: a minute at 30 fps would hold 543 MiB."""
    assert WindowConfig().max_bytes <= MAX_WINDOW_BYTES
    with pytest.raises(
        ConfigError, match=r"1801 frames .* the ceiling is 256 MiB: lower window_s"
    ):
        WindowConfig(window_s=60.0, sample_fps=30.0)
