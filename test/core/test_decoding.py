"""Specification of image decoding: encodings, step padding, reduced JPEG decoding, bad input."""

from __future__ import annotations

import array
import warnings
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
from rosbags.typesys import Stores, get_typestore

from cosmos_reason_ros.core import decoding
from cosmos_reason_ros.core.decoding import decode_image
from cosmos_reason_ros.core.errors import InputError
from cosmos_reason_ros.core.window import FrameWindow

TYPESTORE = get_typestore(Stores.ROS2_HUMBLE)
RosImage = TYPESTORE.types["sensor_msgs/msg/Image"]
RosCompressedImage = TYPESTORE.types["sensor_msgs/msg/CompressedImage"]
Header = TYPESTORE.types["std_msgs/msg/Header"]
Time = TYPESTORE.types["builtin_interfaces/msg/Time"]

RED, GREEN, BLUE, BLUE_BGR = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 0, 0)
# A 2x3 RGB reference: primaries, white, black, and an asymmetric colour.
REF = np.array(
    [[RED, GREEN, BLUE], [(255, 255, 255), (0, 0, 0), (10, 128, 250)]],
    dtype=np.uint8,
)
GRAY = np.array([[0, 17, 128], [200, 254, 255]], dtype=np.uint8)


def header() -> object:
    return Header(stamp=Time(sec=1, nanosec=2), frame_id="camera")


def raw_msg(
    encoding: str,
    pixels: np.ndarray,
    *,
    pad: int = 0,
    data_kind: str = "bytes",
    factory: str = "namespace",
    big_endian: bool = False,
) -> object:
    """A sensor_msgs/Image holding ``pixels`` with ``pad`` junk bytes after each row."""
    height, width = pixels.shape[:2]
    ordered = pixels.astype(pixels.dtype.newbyteorder(">" if big_endian else "<"))
    rows = np.ascontiguousarray(ordered).view(np.uint8).reshape(height, -1)
    padded = np.full((height, rows.shape[1] + pad), 0xAB, dtype=np.uint8)
    padded[:, : rows.shape[1]] = rows
    flat = padded.reshape(-1)
    data = {
        "bytes": flat.tobytes(),
        "bytearray": bytearray(flat.tobytes()),
        "array": array.array("B", flat.tobytes()),
        "numpy": flat.copy(),
    }[data_kind]
    fields = {
        "height": height,
        "width": width,
        "encoding": encoding,
        "is_bigendian": int(big_endian),
        "step": padded.shape[1],
        "data": data,
    }
    if factory == "rosbags":
        return RosImage(header=header(), **fields)
    return SimpleNamespace(**fields)


def compressed_msg(fmt: str, data: bytes, factory: str = "namespace") -> object:
    payload = np.frombuffer(data, dtype=np.uint8)
    if factory == "rosbags":
        return RosCompressedImage(header=header(), format=fmt, data=payload)
    return SimpleNamespace(format=fmt, data=data)


def encode(ext: str, rgb: np.ndarray, *params: int) -> bytes:
    ok, buffer = cv2.imencode(ext, np.ascontiguousarray(rgb[..., ::-1]), list(params))
    if not ok:
        raise RuntimeError(f"OpenCV could not encode {ext}")
    return buffer.tobytes()


def halves(width: int, height: int) -> np.ndarray:
    """An RGB image whose left half is red and right half is blue."""
    image = np.zeros((height, width, 3), np.uint8)
    image[:, : width // 2] = RED
    image[:, width // 2 :] = BLUE
    return image


def alpha(rgb: np.ndarray) -> np.ndarray:
    return np.dstack([rgb, np.full(rgb.shape[:2], 77, np.uint8)])


ENCODED = {
    "rgb8": REF,
    "bgr8": REF[..., ::-1],
    "8UC3": REF[..., ::-1],
    "rgba8": alpha(REF),
    "bgra8": alpha(REF[..., ::-1]),
    "rgb16": REF.astype(np.uint16) * 257,
    "bgr16": REF[..., ::-1].astype(np.uint16) * 257,
    "mono8": GRAY,
    "8UC1": GRAY,
    "mono16": GRAY.astype(np.uint16) * 257,
}


def expected_rgb(encoding: str) -> np.ndarray:
    return np.dstack([GRAY] * 3) if "mono" in encoding or encoding == "8UC1" else REF


@pytest.mark.parametrize("factory", ["namespace", "rosbags"])
@pytest.mark.parametrize("data_kind", ["bytes", "bytearray", "array", "numpy"])
@pytest.mark.parametrize("encoding", list(ENCODED))
def test_raw_encodings_round_trip_colours_exactly(encoding, data_kind, factory) -> None:
    msg = raw_msg(encoding, ENCODED[encoding], data_kind=data_kind, factory=factory)
    out = decode_image(msg)
    assert out.dtype == np.uint8 and out.shape == (2, 3, 3)
    np.testing.assert_array_equal(out, expected_rgb(encoding))


@pytest.mark.parametrize("encoding", ["rgb8", "bgra8", "mono8", "mono16", "rgb16"])
def test_row_padding_given_by_step_is_skipped(encoding: str) -> None:
    out = decode_image(raw_msg(encoding, ENCODED[encoding], pad=7 if "16" not in encoding else 6))
    np.testing.assert_array_equal(out, expected_rgb(encoding))


def test_big_endian_16_bit_images_are_byte_swapped() -> None:
    out = decode_image(raw_msg("mono16", ENCODED["mono16"], big_endian=True))
    np.testing.assert_array_equal(out, expected_rgb("mono16"))


def test_decoded_raw_image_owns_its_memory_even_at_source_size() -> None:
    msg = raw_msg("rgb8", REF, data_kind="numpy")
    out = decode_image(msg)
    assert not np.shares_memory(out, msg.data)
    assert out.flags.writeable and out.flags.c_contiguous


@pytest.mark.parametrize("encoding", ["bgr8", "bgra8", "rgb8"])
def test_raw_images_are_downscaled_to_the_requested_size_keeping_content(encoding) -> None:
    rgb = halves(280, 140)
    layout = rgb[..., ::-1] if encoding.startswith("bgr") else rgb
    pixels = alpha(layout) if encoding.endswith("a8") else layout
    out = decode_image(raw_msg(encoding, pixels, pad=5), lambda w, h: (w // 5, h // 5))
    np.testing.assert_array_equal(out, halves(56, 28))


def test_window_target_size_drives_the_decode_size_of_a_1080p_frame() -> None:
    msg = raw_msg("bgr8", np.zeros((1080, 1920, 3), np.uint8))
    assert decode_image(msg, FrameWindow("cam").target_size).shape == (560, 1008, 3)


def test_16uc1_depth_is_normalised_over_valid_pixels_and_zero_stays_black() -> None:
    depth = np.array([[0, 1000], [2000, 1500]], np.uint16)
    out = decode_image(raw_msg("16UC1", depth))
    np.testing.assert_array_equal(out[..., 0], [[0, 0], [255, 128]])
    assert (out[..., 0] == out[..., 2]).all()


def test_32fc1_depth_is_normalised_safely_around_nan_and_inf() -> None:
    depth = np.array([[np.nan, np.inf, -np.inf], [1.0, 2.0, 3.0]], np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = decode_image(raw_msg("32FC1", depth))
    np.testing.assert_array_equal(out[..., 1], [[0, 0, 0], [0, 128, 255]])


def test_32fc1_without_any_valid_pixel_is_black() -> None:
    out = decode_image(raw_msg("32FC1", np.full((2, 2), np.nan, np.float32)))
    assert out.shape == (2, 2, 3) and not out.any()


BAYER_OFFSETS = {"rggb": "RG/GB", "bggr": "BG/GR", "gbrg": "GB/RG", "grbg": "GR/BG"}


@pytest.mark.parametrize("bits", [8, 16])
@pytest.mark.parametrize("pattern", list(BAYER_OFFSETS))
def test_bayer_mosaics_are_debayered_to_the_scene_colour(pattern: str, bits: int) -> None:
    scene = {"R": 200, "G": 100, "B": 40}
    top, bottom = BAYER_OFFSETS[pattern].split("/")
    mosaic = np.zeros((8, 8), np.uint16 if bits == 16 else np.uint8)
    for row, letters in enumerate((top, bottom)):
        for col, letter in enumerate(letters):
            mosaic[row::2, col::2] = scene[letter] * (257 if bits == 16 else 1)
    out = decode_image(raw_msg(f"bayer_{pattern}{bits}", mosaic, pad=4))
    interior = out[2:-2, 2:-2].reshape(-1, 3).astype(int)
    assert np.abs(interior - (200, 100, 40)).max() <= 1


def test_uyvy_is_converted_like_opencv_converts_it() -> None:
    packed = np.random.default_rng(0).integers(0, 256, (4, 6, 2), dtype=np.uint8)
    out = decode_image(raw_msg("uyvy", packed, pad=3))
    np.testing.assert_array_equal(out, cv2.cvtColor(packed, cv2.COLOR_YUV2RGB_UYVY))


@pytest.mark.parametrize("factory", ["namespace", "rosbags"])
def test_jpeg_decodes_to_rgb_with_approximately_right_colours(factory: str) -> None:
    out = decode_image(compressed_msg("jpeg", encode(".jpg", halves(64, 48)), factory))
    assert out.shape == (48, 64, 3)
    assert np.abs(out[10:38, 4:28].astype(int) - RED).max() < 24
    assert np.abs(out[10:38, 36:60].astype(int) - BLUE).max() < 24


def spy_jpeg_decodes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """Record the (width, height) libjpeg-turbo decoded at, for every JPEG decode (which still
    runs: the real simplejpeg)."""
    sizes: list[tuple[int, int]] = []
    real = decoding.simplejpeg.decode_jpeg

    def recording(*args: object, **kwargs: object) -> np.ndarray:
        out = real(*args, **kwargs)
        sizes.append((out.shape[1], out.shape[0]))
        return out

    monkeypatch.setattr(decoding.simplejpeg, "decode_jpeg", recording)
    return sizes


@pytest.mark.parametrize(
    ("target", "decoded"),
    [
        ((160, 120), (160, 120)),  # 2/8
        ((150, 100), (160, 120)),
        ((80, 60), (80, 60)),  # 1/8: the smallest scale
        ((320, 240), (320, 240)),  # 4/8
        ((336, 252), (640, 480)),  # 5/8 would do, but 1/1 (SIMD) is faster
        ((400, 300), (640, 480)),
        ((420, 300), (640, 480)),
        ((640, 480), (640, 480)),
    ],
)
def test_jpeg_is_decoded_at_the_smallest_simd_scale_that_covers_the_target(
    monkeypatch, target, decoded
):
    data = encode(".jpg", halves(640, 480), cv2.IMWRITE_JPEG_QUALITY, 95)
    sizes = spy_jpeg_decodes(monkeypatch)
    out = decode_image(compressed_msg("rgb8; jpeg compressed bgr8", data), lambda w, h: target)
    assert sizes == [decoded]
    width, height = target
    assert out.shape == (height, width, 3)
    left, right = out[4:-4, 4 : width // 2 - 4], out[4:-4, width // 2 + 4 : -4]
    assert np.abs(left.astype(int) - RED).max() < 24
    assert np.abs(right.astype(int) - BLUE).max() < 24


def test_jpeg_size_is_read_past_exif_segments_and_from_progressive_frames() -> None:
    plain = encode(".jpg", halves(64, 48), cv2.IMWRITE_JPEG_PROGRESSIVE, 1)
    exif = b"Exif\x00\x00" + bytes(300)
    with_app1 = plain[:2] + b"\xff\xe1" + (len(exif) + 2).to_bytes(2, "big") + exif + plain[2:]
    sizes: list[tuple[int, int]] = []

    def target(width: int, height: int) -> tuple[int, int]:
        sizes.append((width, height))
        return width // 2, height // 2

    out = decode_image(compressed_msg("jpeg", with_app1), target)
    assert sizes == [(64, 48)] and out.shape == (24, 32, 3)


@pytest.mark.parametrize("factory", ["namespace", "rosbags"])
def test_png_round_trips_exactly_and_resizes_to_target(factory: str) -> None:
    assert (decode_image(compressed_msg("png", encode(".png", REF), factory)) == REF).all()
    big = compressed_msg("png", encode(".png", halves(280, 140)), factory)
    np.testing.assert_array_equal(decode_image(big, lambda w, h: (56, 28)), halves(56, 28))


def test_compressed_format_may_be_empty_and_is_then_sniffed_from_the_data() -> None:
    assert (decode_image(compressed_msg("", encode(".png", REF))) == REF).all()


def base_raw(**changes: object) -> SimpleNamespace:
    fields = {"height": 2, "width": 3, "encoding": "rgb8", "step": 9, "data": bytes(18)}
    fields.update(changes)
    return SimpleNamespace(**fields)


@pytest.mark.parametrize(
    ("msg", "message"),
    [
        (base_raw(width=0, step=0, data=b""), "image has zero size: width 0, height 2"),
        (base_raw(height=0), "image has zero size: width 3, height 0"),
        (base_raw(step=8), r"image step 8 is smaller than width \* bytes per pixel = 3 \* 3 = 9"),
        (base_raw(data=bytes(17)), r"image data is truncated: 17 bytes < step \* height"),
        (base_raw(encoding="rgb9"), "unsupported image encoding 'rgb9'"),
        (
            base_raw(width=16384, height=16384, step=16384 * 3, data=b""),
            "image of 16384x16384 = 268435456 pixels is over the limit of 16777216 pixels "
            r"\(a ceiling no parameter lifts\)",
        ),
        (base_raw(data=12345), "image data of type int is not bytes-like"),
        (base_raw(data=np.zeros(9, np.uint16)), "image data must be a flat uint8 array"),
        (base_raw(encoding="mono16", step=7, data=bytes(14)), "not a multiple of the 2-byte"),
        (base_raw(height=2.0), "image height must be an integer"),
        (object(), "object is not an image message: it has no 'encoding' field"),
    ],
)
def test_bad_raw_images_raise_input_error_naming_the_problem(msg: object, message: str) -> None:
    with pytest.raises(InputError, match=message):
        decode_image(msg)


def with_size(data: bytes, width: int, height: int, kind: str) -> bytes:
    """The same image with the size in its header replaced."""
    if kind == "png":
        return data[:16] + width.to_bytes(4, "big") + height.to_bytes(4, "big") + data[24:]
    sof = data.find(b"\xff\xc0")
    size = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return data[: sof + 5] + size + data[sof + 9 :]


JPEG = encode(".jpg", halves(64, 48))
PNG = encode(".png", halves(64, 48))


@pytest.mark.parametrize(
    ("fmt", "data", "message"),
    [
        ("jpeg", b"", "compressed image has no data"),
        ("jpeg", b"hello world", "compressed image data is neither JPEG nor PNG"),
        ("png", JPEG, "compressed image format 'png' says png but data is jpeg"),
        ("jpeg", PNG, "compressed image format 'jpeg' says jpeg but data is png"),
        ("tiff", JPEG, "unsupported compressed image format 'tiff'"),
        ("16UC1; compressedDepth png", PNG, r"\(compressedDepth\) is not supported"),
        ("jpeg", b"\xff\xd8\xff\xd9", "jpeg header is corrupt or truncated: no image size"),
        ("jpeg", JPEG[: len(JPEG) // 2], r"could not decode jpeg image \(\d+ bytes\): corrupt"),
        ("png", PNG[:40], r"could not decode png image \(40 bytes\): corrupt or truncated"),
        ("jpeg", with_size(JPEG, 16000, 16000, "jpeg"), "jpeg of 16000x16000 .* over the limit"),
        ("png", with_size(PNG, 16000, 16000, "png"), "png of 16000x16000 .* over the limit"),
        ("png", with_size(PNG, 0, 48, "png"), "png has zero size: width 0, height 48"),
    ],
)
def test_bad_compressed_images_raise_input_error_naming_the_problem(fmt, data, message) -> None:
    with pytest.raises(InputError, match=message):
        decode_image(compressed_msg(fmt, data))


def test_oversized_compressed_images_are_refused_before_decoding(monkeypatch) -> None:
    sizes = spy_jpeg_decodes(monkeypatch)
    with pytest.raises(InputError, match="over the limit"):
        decode_image(compressed_msg("jpeg", JPEG), max_input_pixels=64 * 48 - 1)
    assert sizes == []
