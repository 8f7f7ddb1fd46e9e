"""Figures 1-3 of ``make bench``: what the camera path costs, against the same work done plainly.

1. ``ingest.per_received_frame``: ``core.ingest`` over a 30 Hz stream of 1080p bgr8
   ``sensor_msgs/Image`` at ``sample_fps`` 4, against the same stamp sampling followed by a
   plain decode (rosbags-image ``message_to_cvimage`` + ``cv2.resize``) of each kept frame.
   Both keep the same frames, so the ratio is the cost of our decode path per received frame,
   sampling included on both sides (it is not the sampling ratio).
2. ``jpeg.per_kept_frame``: ``decode_image`` of a 1080p JPEG at the window's size (1008x560)
   against a full-size ``cv2.imdecode`` plus ``cv2.resize(INTER_AREA)``. No reduced scale
   helps here: 1/2 (960x540) is below the target, and libjpeg-turbo's 5/8 decode, which
   covers it, took 1.4x as long as its full-size one (only 1/1, 1/2, 1/4 and 1/8 have SIMD
   inverse DCTs; entropy decoding costs the same at every scale). What meets the target is
   libjpeg-turbo's full-size decode straight to RGB with plain chroma upsampling (simplejpeg)
   and a linear resize, which the < 2x shrink allows.
3. ``raw.per_kept_frame``: ``ingest`` of a kept raw 1080p frame against its floor, one
   ``cv2.resize`` of the same array.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from cosmos_reason_ros.bench.figures import Figure, interleaved, per_item, ratio_figure, skipped
from cosmos_reason_ros.core.decoding import decode_image
from cosmos_reason_ros.core.ingest import ingest
from cosmos_reason_ros.core.window import FrameWindow, WindowConfig

WIDTH, HEIGHT = 1920, 1080
CAMERA_HZ = 30.0
SAMPLE_FPS = 4.0
T0_NS = 1_700_000_000 * 10**9
BATCH = 4  # frames per interleaved batch in figures 2 and 3
MAX_INPUT_PIXELS = 50_000_000


def scene(seed: int) -> np.ndarray:
    """A 1080p BGR test scene: gradients, shapes and sensor noise; JPEG-realistic."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(40, 200, WIDTH, dtype=np.float32)
    img = np.repeat(ramp[None, :, None], HEIGHT, axis=0).repeat(3, axis=2)
    img[..., 1] *= np.linspace(0.6, 1.0, HEIGHT, dtype=np.float32)[:, None]
    for _ in range(12):
        center = (int(rng.integers(0, WIDTH)), int(rng.integers(0, HEIGHT)))
        color = tuple(int(c) for c in rng.integers(0, 255, 3))
        cv2.circle(img, center, int(rng.integers(30, 200)), color, -1)
    img += rng.normal(0, 4, img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def bench_ingest(frames: int = 120, rounds: int = 7) -> list[Figure]:
    """Figures 1-3: ingest per received frame, JPEG and raw cost per kept frame.

    Args:
        frames: Frames of the 30 Hz stream (figure 1); figures 2 and 3 time as many frames
            per round, in interleaved batches of ``BATCH`` so load changes on a shared
            machine hit candidate and baseline alike.
        rounds: Interleaved rounds of each comparison.

    Returns:
        Three figures; skipped ones say why (rclpy's sensor_msgs not importable).
    """
    try:
        from sensor_msgs.msg import CompressedImage
    except ImportError as exc:
        reason = f"sensor_msgs not importable ({exc}); run `make setup`"
        return [
            skipped("ingest.per_received_frame", "x", "<= 1.0", "sampling + plain decode", reason),
            skipped("jpeg.per_kept_frame", "x", "<= 0.5", "imdecode + resize", reason),
            skipped("raw.per_kept_frame", "x", "<= 1.3", "one cv2.resize", reason),
        ]
    batch = min(BATCH, frames)
    pool = _raw_messages(4)
    size = _window().target_size(WIDTH, HEIGHT)
    ingest_figure = _bench_stream(pool, _stamps(frames, CAMERA_HZ), size, rounds)
    _, buf = cv2.imencode(".jpg", scene(7), [cv2.IMWRITE_JPEG_QUALITY, 90])
    jpeg = CompressedImage(format="jpeg", data=buf.tobytes())
    return [
        ingest_figure,
        _bench_jpeg(jpeg, size, batch, rounds * frames // batch),
        _bench_raw_kept(pool, size, batch, rounds * frames // batch),
    ]


def _raw_messages(count: int) -> list[Any]:
    from sensor_msgs.msg import Image as ImageMsg

    msgs = []
    for i in range(count):
        msg = ImageMsg(height=HEIGHT, width=WIDTH, encoding="bgr8", step=WIDTH * 3)
        msg.data = scene(i).tobytes()
        msg.header.frame_id = "camera"
        msgs.append(msg)
    return msgs


def _stamps(count: int, hz: float) -> list[int]:
    return [T0_NS + round(i * 1e9 / hz) for i in range(count)]


def _window() -> FrameWindow:
    return FrameWindow("camera", WindowConfig(sample_fps=SAMPLE_FPS))


def _feed(pool: list[Any], stamps: list[int]) -> int:
    """Runs the camera path (``core.ingest``) over a stream; returns frames kept."""
    window = _window()
    for i, stamp in enumerate(stamps):
        ingest(window, stamp, "camera", pool[i % len(pool)], MAX_INPUT_PIXELS)
    return window.stats().kept


def _bench_stream(
    pool: list[Any], stamps: list[int], size: tuple[int, int], rounds: int
) -> Figure:
    from rosbags.image import message_to_cvimage

    kept: list[int] = []
    plain_kept: list[int] = []

    def ours() -> None:
        kept.append(_feed(pool, stamps))

    def plain() -> None:
        window = _window()
        for i, stamp in enumerate(stamps):
            if not window.accept(stamp):
                continue
            rgb = message_to_cvimage(pool[i % len(pool)], "rgb8")
            small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
            window.push(stamp, "camera", np.asarray(small, dtype=np.uint8))
        plain_kept.append(window.stats().kept)

    runs = interleaved(per_item(ours, len(stamps)), per_item(plain, len(stamps)), rounds)
    runs.update(
        frames=len(stamps),
        kept=kept[-1],
        baseline_kept=plain_kept[-1],
        camera_hz=CAMERA_HZ,
        sample_fps=SAMPLE_FPS,
        source=[WIDTH, HEIGHT],
        target=list(size),
    )
    return ratio_figure(
        "ingest.per_received_frame",
        "<= 1.0",
        "the same stamp sampling, then rosbags-image message_to_cvimage(rgb8) + "
        "cv2.resize(INTER_AREA) of each kept frame",
        runs,
    )


def _bench_jpeg(msg: Any, size: tuple[int, int], count: int, rounds: int) -> Figure:
    window = _window()
    data = np.frombuffer(msg.data, np.uint8)

    def ours() -> None:
        for _ in range(count):
            decode_image(msg, window.target_size)

    def full() -> None:
        for _ in range(count):
            bgr = cv2.imdecode(data, cv2.IMREAD_COLOR)
            if bgr is not None:
                cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)

    runs = interleaved(per_item(ours, count), per_item(full, count), rounds)
    runs.update(frames=count, jpeg_bytes=len(data), source=[WIDTH, HEIGHT], target=list(size))
    return ratio_figure(
        "jpeg.per_kept_frame",
        "<= 0.5",
        "full-size cv2.imdecode + cv2.resize(INTER_AREA) to the same size",
        runs,
    )


def _bench_raw_kept(pool: list[Any], size: tuple[int, int], count: int, rounds: int) -> Figure:
    stamps = _stamps(count, SAMPLE_FPS)  # one frame per sampling slot: every frame is kept
    arrays = [np.frombuffer(m.data, np.uint8).reshape(HEIGHT, WIDTH, 3) for m in pool]
    kept: list[int] = []

    def ours() -> None:
        kept.append(_feed(pool, stamps))

    def floor() -> None:
        for i in range(count):
            cv2.resize(arrays[i % len(arrays)], size, interpolation=cv2.INTER_AREA)

    runs = interleaved(per_item(ours, count), per_item(floor, count), rounds)
    runs.update(frames=count, kept=kept[-1], source=[WIDTH, HEIGHT], target=list(size))
    return ratio_figure(
        "raw.per_kept_frame",
        "<= 1.3",
        "one cv2.resize(INTER_AREA) of the same 1080x1920x3 array to the target size",
        runs,
    )
