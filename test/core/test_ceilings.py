"""Hard ceilings of the camera path that no parameter lifts, and bad frames told apart by cause.

Pixels decoded per frame, pixels a JPEG header may claim, bytes of data looked at and cameras
per node hold whatever ``max_input_pixels`` says; sizes are refused from the header, before
any decoding. Corrupt JPEG and PNG data is an error naming the problem, and the decoders print
nothing (libjpeg and libpng write one line per corrupt frame to stderr when let).
"""

from __future__ import annotations

import struct
import zlib
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from cosmos_reason_ros.config import build_config
from cosmos_reason_ros.core import decoding
from cosmos_reason_ros.core.architecture import Architecture
from cosmos_reason_ros.core.decoding import (
    MAX_DECODED_PIXELS,
    MAX_MESSAGE_BYTES,
    MAX_SOURCE_PIXELS,
    decode_image,
)
from cosmos_reason_ros.core.errors import ConfigError, FrameError
from cosmos_reason_ros.core.ingest import MAX_CAMERAS, ingest
from cosmos_reason_ros.core.window import FrameWindow

RAISED = 2**31 - 1  # what a peer would set max_input_pixels to, were it allowed
REASON1 = Architecture("qwen2_5_vl", "config.json", "test")


def scene(width: int = 160, height: int = 120) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 255, (height, width, 3), dtype=np.uint8)


def encoded(ext: str, *params: int) -> bytes:
    ok, buf = cv2.imencode(ext, scene(), list(params))
    assert ok
    return buf.tobytes()


def png_claiming(side: int) -> bytes:
    """A valid 1-bit PNG header claiming ``side`` x ``side`` pixels, with one row of data."""
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    crc = zlib.crc32(b"IHDR" + header) & 0xFFFFFFFF
    ihdr = struct.pack(">I", len(header)) + b"IHDR" + header + struct.pack(">I", crc)
    return b"\x89PNG\r\n\x1a\n" + ihdr + bytes(64)


def jpeg_claiming(width: int, height: int, progressive: bool = False) -> bytes:
    flags = (cv2.IMWRITE_JPEG_PROGRESSIVE, 1) if progressive else ()
    data = encoded(".jpg", *flags)
    sof = data.index(b"\xff\xc2" if progressive else b"\xff\xc0")
    return data[: sof + 5] + struct.pack(">HH", height, width) + data[sof + 9 :]


def compressed(data: bytes, fmt: str) -> SimpleNamespace:
    return SimpleNamespace(format=fmt, data=data)


def raw(width: int, height: int) -> SimpleNamespace:
    return SimpleNamespace(
        height=height, width=width, encoding="rgb8", step=width * 3, data=bytes(64)
    )


def refused(msg: object, max_input_pixels: int = RAISED) -> FrameError:
    with pytest.raises(FrameError) as caught:
        decode_image(msg, lambda w, h: (min(w, 448), min(h, 448)), max_input_pixels)
    return caught.value


def spy_decoders(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every call into a decoding library (which still runs)."""
    calls: list[str] = []
    real_jpeg, real_open = decoding.simplejpeg.decode_jpeg, decoding.PILImage.open

    def jpeg(*args: object, **kwargs: object) -> np.ndarray:
        calls.append("jpeg")
        return real_jpeg(*args, **kwargs)

    def png(*args: object, **kwargs: object) -> object:
        calls.append("png")
        return real_open(*args, **kwargs)

    monkeypatch.setattr(decoding.simplejpeg, "decode_jpeg", jpeg)
    monkeypatch.setattr(decoding.PILImage, "open", png)
    return calls


@pytest.mark.parametrize(
    ("msg", "message"),
    [
        (compressed(png_claiming(30000), "png"), "png of 30000x30000 = 900000000 pixels"),
        (compressed(png_claiming(7000), "png"), "png of 7000x7000 = 49000000 pixels"),
        (raw(8000, 8000), "image of 8000x8000 = 64000000 pixels"),
        (
            compressed(jpeg_claiming(5000, 5000, progressive=True), "jpeg"),
            "jpeg of 5000x5000 = 25000000 pixels",
        ),
        (compressed(jpeg_claiming(65000, 65000), "jpeg"), "jpeg of 65000x65000"),
    ],
)
def test_sizes_over_a_ceiling_are_refused_from_the_header_whatever_max_input_pixels_says(
    monkeypatch: pytest.MonkeyPatch, msg: object, message: str
) -> None:
    calls = spy_decoders(monkeypatch)
    error = refused(msg)
    assert message in str(error) and "(a ceiling no parameter lifts)" in str(error)
    assert error.cause == "too_large"
    assert calls == [], "refused before any decoder ran"


def test_a_baseline_jpeg_over_the_decoded_ceiling_is_decoded_at_a_reduced_scale(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A real 6000x4000 JPEG (24 MP, over MAX_DECODED_PIXELS at full size) for a 448x298
    frame: libjpeg-turbo decodes it at 1/8 (750x500), never at full size."""
    big = np.zeros((4000, 6000, 3), np.uint8)
    big[:, :3000] = (0, 0, 255)  # BGR: the left half red
    ok, buf = cv2.imencode(".jpg", big)
    assert ok
    sizes: list[tuple[int, ...]] = []
    real = decoding.simplejpeg.decode_jpeg

    def recording(*args: object, **kwargs: object) -> np.ndarray:
        out = real(*args, **kwargs)
        sizes.append(out.shape)
        return out

    monkeypatch.setattr(decoding.simplejpeg, "decode_jpeg", recording)
    out = decode_image(compressed(buf.tobytes(), "jpeg"), lambda w, h: (448, 298), RAISED)
    assert sizes == [(500, 750, 3)]
    assert out.shape == (298, 448, 3)
    assert out[150, 100, 0] > 200 and out[150, 350, 0] < 30


@pytest.mark.parametrize(
    ("source", "target", "eighths"),
    [
        ((1920, 1080), (1008, 560), 8),  # 5/8 would cover, but full size (SIMD) is faster
        ((1920, 1080), (960, 540), 4),
        ((1920, 1080), (200, 100), 1),
        ((6000, 6000), (3100, 3100), 5),  # 8/8 is over the decoded ceiling: 5/8 covers
        ((8192, 8192), (8192, 8192), 8),  # decodes over the ceiling: refused by the caller
        ((20, 20), (28, 28), 8),  # a target over the source (one patch): full size
    ],
)
def test_jpeg_scale_is_the_smallest_simd_scale_unless_that_is_over_the_ceiling(
    source: tuple[int, int], target: tuple[int, int], eighths: int
) -> None:
    assert decoding._jpeg_scale(*source, target) == eighths


def test_a_jpeg_that_would_decode_over_the_ceiling_at_every_scale_is_refused() -> None:
    msg = compressed(jpeg_claiming(8192, 8192), "jpeg")
    with pytest.raises(FrameError, match="over the ceiling of 16777216 pixels") as caught:
        decode_image(msg, lambda w, h: (w, h), RAISED)
    assert caught.value.cause == "too_large"


def test_data_over_the_byte_ceiling_is_not_looked_at(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = spy_decoders(monkeypatch)
    huge = np.zeros(MAX_MESSAGE_BYTES + 1, np.uint8)
    huge[:3] = (0xFF, 0xD8, 0xFF)
    error = refused(compressed(huge, "jpeg"))
    assert f"over the ceiling of {MAX_MESSAGE_BYTES} bytes" in str(error)
    assert error.cause == "too_large" and calls == []


def test_the_ceilings_are_consistent() -> None:
    assert MAX_DECODED_PIXELS == 4096 * 4096 < MAX_SOURCE_PIXELS == 8192 * 8192
    assert MAX_MESSAGE_BYTES >= 4 * MAX_DECODED_PIXELS  # a 4096x4096 rgba8 frame fits


def corrupt_jpeg() -> bytes:
    good = encoded(".jpg")
    scan = good.index(b"\xff\xda") + 20
    return good[:scan] + bytes(len(good) - scan - 2) + b"\xff\xd9"


def corrupt_png() -> bytes:
    good = encoded(".png")
    idat = good.index(b"IDAT") + 40
    return good[:idat] + bytes(200) + good[idat + 200 :]


@pytest.mark.parametrize(
    ("data", "fmt", "message"),
    [
        (corrupt_jpeg(), "jpeg", "could not decode jpeg image"),
        (encoded(".jpg")[:-600], "jpeg", "could not decode jpeg image"),
        (corrupt_png(), "png", "could not decode png image"),
        (encoded(".png")[:-300], "png", "could not decode png image"),
    ],
)
def test_corrupt_data_is_a_corrupt_frame_and_the_decoders_print_nothing(
    capfd: pytest.CaptureFixture[str], data: bytes, fmt: str, message: str
) -> None:
    """OpenCV decoded a JPEG with zeroed scan data as a valid frame, printing a libjpeg
    warning to stderr for every one."""
    for _ in range(3):
        error = refused(compressed(data, fmt))
        assert message in str(error) and "corrupt or truncated" in str(error)
        assert error.cause == "corrupt"
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")


@pytest.mark.parametrize(
    ("msg", "cause"),
    [
        (
            SimpleNamespace(height=2, width=2, encoding="yuv420_10bit", step=6, data=bytes(12)),
            "encoding",
        ),
        (compressed(b"GIF89a" + bytes(10), "gif"), "encoding"),
        (SimpleNamespace(height=2, width=2, encoding="rgb8", step=5, data=bytes(12)), "malformed"),
        (compressed(b"", "jpeg"), "corrupt"),
        (SimpleNamespace(height=2, width=3, encoding="yuyv", step=6, data=bytes(12)), "malformed"),
    ],
)
def test_every_refused_frame_names_its_cause(msg: object, cause: str) -> None:
    error = refused(msg)
    assert error.cause == cause
    assert "OpenCV" not in str(error) and "Assertion" not in str(error)


def test_a_zero_stamp_is_a_bad_stamp_and_nothing_reaches_the_window() -> None:
    window = FrameWindow("cam")
    rgb = SimpleNamespace(height=2, width=2, encoding="rgb8", step=6, data=bytes(12))
    with pytest.raises(FrameError, match=r"header\.stamp is 0") as caught:
        ingest(window, 0, "cam", rgb, 1000, now_ns=10**18, arrival_s=1.0)
    assert caught.value.cause == "stamp"
    assert window.stats().received == 0 and window.usable_arrival_s() is None


def test_max_input_pixels_cannot_be_set_above_the_source_ceiling() -> None:
    with pytest.raises(ConfigError, match="max_input_pixels"):
        build_config({"max_input_pixels": MAX_SOURCE_PIXELS + 1}, REASON1)
    assert build_config({"max_input_pixels": MAX_SOURCE_PIXELS}, REASON1)


def test_one_node_watches_at_most_max_cameras() -> None:
    topics = [f"/cam{i}/image_raw" for i in range(MAX_CAMERAS + 1)]
    with pytest.raises(ConfigError, match=f"names {MAX_CAMERAS + 1} topics; .* at most 16"):
        build_config({"image_topics": topics}, REASON1)
    assert build_config({"image_topics": topics[:MAX_CAMERAS]}, REASON1)
