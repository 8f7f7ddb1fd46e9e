"""Specification of the window's freshest frame: a live camera's newest slot shows its newest
frame, decoded only when a snapshot asks for it, and at most one such frame is held."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Callable

import numpy as np
import pytest

from cosmos_reason_ros.core.errors import InputError
from cosmos_reason_ros.core.ingest import RawFrame, ingest
from cosmos_reason_ros.core.window import FrameWindow, WindowConfig

T0 = 1_700_000_000_000_000_000
SECOND = 1_000_000_000
HZ30 = SECOND // 30


class Frames:
    """640x480 frames (the window downscales them) whose loads are counted."""

    def __init__(self) -> None:
        self.loaded: list[int] = []

    def image(self, i: int) -> np.ndarray:
        return np.full((480, 640, 3), i % 256, dtype=np.uint8)

    def load(self, i: int) -> Callable[[], np.ndarray]:
        def load() -> np.ndarray:
            self.loaded.append(i)
            return self.image(i)

        return load


def offer(window: FrameWindow, frames: Frames, i: int, stamp: int) -> bool:
    """The live hot path: accept with a load; decode and push when kept."""
    if window.accept(stamp, f"f{i}", frames.load(i)):
        return window.push(stamp, f"f{i}", frames.image(i))
    return False


def test_snapshot_shows_the_newest_frame_of_the_newest_slot_decoded_once() -> None:
    window, frames = FrameWindow("cam"), Frames()
    stamps = [T0 + i * HZ30 for i in range(40)]  # 1.3 s at 30 Hz
    kept = [i for i, s in enumerate(stamps) if offer(window, frames, i, s)]
    assert frames.loaded == []  # turned-down frames are not decoded while offered

    clip = window.snapshot()
    assert clip is not None
    assert clip.stamps_ns[-1] == stamps[-1]
    assert clip.stamps_ns[:-1] == tuple(stamps[i] for i in kept[:-1])
    assert len(clip.frames) == len(kept)  # the fresher frame took its slot's place
    assert clip.frames[-1].shape == clip.frames[0].shape
    assert int(clip.frames[-1][0, 0, 0]) == 39
    assert clip.frame_id == "f39"
    assert window.snapshot() is not None
    assert frames.loaded == [39]  # a second snapshot reuses the decoded frame


def test_a_new_slot_drops_the_held_frame_without_decoding_it() -> None:
    window, frames = FrameWindow("cam"), Frames()
    for i in range(8):  # slot 0: frame 0 kept, 1..7 turned down (7 held)
        offer(window, frames, i, T0 + i * HZ30)
    assert offer(window, frames, 8, T0 + 8 * HZ30)  # slot 1 opens: 8 kept
    clip = window.snapshot()
    assert clip is not None
    assert clip.stamps_ns == (T0, T0 + 8 * HZ30)
    assert frames.loaded == []


def test_while_a_new_slots_frame_is_decoded_the_previous_slots_freshest_still_shows() -> None:
    window, frames = FrameWindow("cam"), Frames()
    for i in range(8):  # slot 0: frame 0 kept, frame 7 held
        offer(window, frames, i, T0 + i * HZ30)
    assert window.accept(T0 + 8 * HZ30, "f8", frames.load(8))  # slot 1 opens, being decoded
    clip = window.snapshot()
    assert clip is not None and clip.stamps_ns == (T0 + 7 * HZ30,)
    assert window.push(T0 + 8 * HZ30, "f8", frames.image(8))  # stored: frame 7 is let go
    clip = window.snapshot()
    assert clip is not None and clip.stamps_ns == (T0, T0 + 8 * HZ30)


def test_at_most_one_frame_is_held_whatever_the_input_rate() -> None:
    window, frames = FrameWindow("cam"), Frames()
    alive: list[weakref.ref[Callable[[], np.ndarray]]] = []
    for i in range(2000):  # 2000 frames in one slot: 1 kept, 1999 turned down
        load = frames.load(i)
        alive.append(weakref.ref(load))
        if window.accept(T0 + i * 1000, "f", load):
            window.push(T0 + i * 1000, "f", frames.image(i))
    gc.collect()
    assert [r() is not None for r in alive].count(True) == 1  # only the newest is held
    assert alive[-1]() is not None


def test_a_held_frame_that_fails_to_decode_leaves_the_kept_frame() -> None:
    window = FrameWindow("cam")
    image = np.zeros((480, 640, 3), np.uint8)
    assert window.accept(T0, "kept") and window.push(T0, "kept", image)

    def broken() -> np.ndarray:
        raise InputError("corrupt")

    assert not window.accept(T0 + HZ30, "late", broken)
    clip = window.snapshot()
    assert clip is not None and clip.stamps_ns == (T0,) and clip.frame_id == "kept"


def test_a_held_frame_of_another_size_leaves_the_kept_frame() -> None:
    window = FrameWindow("cam")
    assert window.accept(T0) and window.push(T0, "kept", np.zeros((480, 640, 3), np.uint8))
    assert not window.accept(T0 + HZ30, "late", lambda: np.zeros((90, 1600, 3), np.uint8))
    clip = window.snapshot()
    assert clip is not None and clip.stamps_ns == (T0,)


def test_held_frame_of_a_newer_slot_is_appended_within_span_and_capacity() -> None:
    config = WindowConfig(window_s=1.0, sample_fps=4.0)
    window = FrameWindow("cam", config)
    image = np.zeros((28, 28, 3), np.uint8)
    for k in range(config.capacity):
        stamp = T0 + k * SECOND // 4
        assert window.accept(stamp) and window.push(stamp, "f", image)
    # The next slot's first frame is accepted (being decoded elsewhere), then a later frame
    # of that slot is held: the snapshot shows it after the kept frames, still one window.
    next_slot = T0 + config.capacity * SECOND // 4
    assert window.accept(next_slot)
    assert not window.accept(next_slot + HZ30, "late", image.copy)
    clip = window.snapshot()
    assert clip is not None
    assert clip.stamps_ns[-1] == next_slot + HZ30
    assert len(clip.frames) <= config.capacity
    assert clip.stamps_ns[-1] - clip.stamps_ns[0] <= SECOND


@pytest.mark.parametrize("freshest", [False, True])
def test_ingest_holds_turned_down_frames_only_for_live_cameras(freshest: bool) -> None:
    window = FrameWindow("cam")
    frames = [
        RawFrame(480, 640, "rgb8", 640 * 3, np.full(480 * 640 * 3, i, np.uint8)) for i in range(5)
    ]
    for i, frame in enumerate(frames):
        ingest(window, T0 + i * HZ30, f"f{i}", frame, 10**8, freshest=freshest)
    clip = window.snapshot()
    assert clip is not None
    assert clip.stamps_ns == ((T0 + 4 * HZ30,) if freshest else (T0,))
    assert int(clip.frames[-1][0, 0, 0]) == (4 if freshest else 0)


def offer_at(window: FrameWindow, frames: Frames, i: int, stamp: int, arrival: float) -> bool:
    """``offer`` for a live camera: the frame arrived at ``arrival`` (seconds)."""
    if window.accept(stamp, f"f{i}", frames.load(i), arrival):
        return window.push(stamp, f"f{i}", frames.image(i), arrival)
    return False


def test_snapshot_arrival_is_the_arrival_of_the_clips_newest_frame() -> None:
    window, frames = FrameWindow("cam"), Frames()
    assert window.snapshot_arrival() == (None, None)
    for i in range(10):  # 30 Hz: frame 8 is kept (slot 1), frame 9 is held
        offer_at(window, frames, i, T0 + i * HZ30, 100.0 + i)
    assert window.usable_arrival_s() == 108.0  # the held frame is not decoded yet
    clip, arrival = window.snapshot_arrival()
    assert clip is not None and clip.stamps_ns[-1] == T0 + 9 * HZ30
    assert arrival == 109.0 == window.usable_arrival_s()  # decoded now, so usable


def test_frames_that_fail_to_decode_never_make_the_window_fresh() -> None:
    window, frames = FrameWindow("cam"), Frames()
    offer_at(window, frames, 0, T0, 100.0)

    def corrupt() -> np.ndarray:
        raise InputError("could not decode jpeg image: corrupt")

    for i in range(1, 60):  # two seconds of a camera sending only corrupt frames
        stamp = T0 + i * HZ30
        if window.accept(stamp, f"f{i}", corrupt, 100.0 + i):
            continue  # kept by stamp, then failed to decode: never pushed
    clip, arrival = window.snapshot_arrival()
    assert clip is not None and clip.stamps_ns == (T0,)
    assert arrival == 100.0 == window.usable_arrival_s()


def test_a_repeated_stamp_is_never_held_so_a_frozen_camera_ages() -> None:
    window, frames = FrameWindow("cam"), Frames()
    offer_at(window, frames, 0, T0, 100.0)
    offer_at(window, frames, 1, T0 + HZ30, 101.0)  # held: a new stamp in slot 0
    assert window.snapshot_arrival()[1] == 101.0
    for i in range(2, 30):  # the driver repeats its last stamp with new pixels
        offer_at(window, frames, i, T0 + HZ30, 100.0 + i)
    assert window.stats().duplicate == 28
    clip, arrival = window.snapshot_arrival()
    assert clip is not None and clip.frame_id == "f1" and arrival == 101.0


def test_recorded_frames_carry_no_arrival() -> None:
    window, frames = FrameWindow("cam"), Frames()
    offer(window, frames, 0, T0)
    clip, arrival = window.snapshot_arrival()
    assert clip is not None and arrival is None and window.usable_arrival_s() is None
