"""Decode ROS image messages to RGB uint8 arrays at the size the frame window wants.

Messages are duck-typed, so rclpy messages and rosbags' message objects both work:
``sensor_msgs/Image`` has ``height width encoding step data`` (and ``is_bigendian``),
``sensor_msgs/CompressedImage`` has ``format data``. ``data`` may be bytes, bytearray,
``array.array('B')`` or a numpy uint8 array.

Cost matters because this runs in the image callback for every kept frame:

* Raw 8-bit images are read through a zero-copy numpy view over ``data`` that honours ``step``,
  downscaled first (``cv2.INTER_AREA``) and colour-converted after, on the small image.
* JPEG sizes are read from the SOF header without decoding; when the target is at most half the
  source, libjpeg decodes at 1/2, 1/4 or 1/8 scale (``cv2.IMREAD_REDUCED_COLOR_*``) before the
  final resize. PNG sizes come from the IHDR header, so oversized images are refused up front.
* Bayer and YUV encodings are converted at full size by rosbags-image, then downscaled.

Depth-like encodings are normalised for display: ``16UC1`` (millimetres; 0 = no measurement)
and ``32FC1`` (metres; NaN and inf = no measurement) map their valid range to 0..255, invalid
pixels to black. ``mono16`` and 16-bit colour are intensities and keep their scale (top 8 bits).
Every problem with the input raises :class:`~cosmos_reason_ros.core.errors.InputError`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
from rosbags.image import ImageError
from rosbags.image.image import convert_color

from cosmos_reason_ros.core.errors import ConfigError, InputError
from cosmos_reason_ros.core.types import Image

__all__ = [
    "SUPPORTED_ENCODINGS",
    "TargetSize",
    "decode_compressed_image",
    "decode_image",
    "decode_raw_image",
]

_Pixels = npt.NDArray[Any]  # any element type OpenCV accepts

TargetSize = Callable[[int, int], tuple[int, int]]
"""Maps a source (width, height) to the wanted (width, height), e.g. FrameWindow.target_size."""

_U8, _U16, _F32 = np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.float32)

# encoding -> (element type, channels, OpenCV conversion to RGB after resizing or None)
_RESIZE_FIRST: dict[str, tuple[np.dtype[np.generic], int, int | None]] = {
    "rgb8": (_U8, 3, None),
    "bgr8": (_U8, 3, cv2.COLOR_BGR2RGB),
    "rgba8": (_U8, 4, cv2.COLOR_RGBA2RGB),
    "bgra8": (_U8, 4, cv2.COLOR_BGRA2RGB),
    "mono8": (_U8, 1, cv2.COLOR_GRAY2RGB),
    "8UC1": (_U8, 1, cv2.COLOR_GRAY2RGB),
    "8UC3": (_U8, 3, cv2.COLOR_BGR2RGB),  # OpenCV's channel order
    "8UC4": (_U8, 4, cv2.COLOR_BGRA2RGB),
    "rgb16": (_U16, 3, None),
    "bgr16": (_U16, 3, cv2.COLOR_BGR2RGB),
    "rgba16": (_U16, 4, cv2.COLOR_RGBA2RGB),
    "bgra16": (_U16, 4, cv2.COLOR_BGRA2RGB),
    "mono16": (_U16, 1, cv2.COLOR_GRAY2RGB),
}
_DEPTH: dict[str, np.dtype[np.generic]] = {"16UC1": _U16, "32FC1": _F32}
# Converted by rosbags-image at full size (a mosaic or chroma layout cannot be resized first).
_CONVERT_FIRST: dict[str, tuple[np.dtype[np.generic], int]] = {
    **{f"bayer_{p}8": (_U8, 1) for p in ("rggb", "bggr", "gbrg", "grbg")},
    **{f"bayer_{p}16": (_U16, 1) for p in ("rggb", "bggr", "gbrg", "grbg")},
    **{name: (_U8, 2) for name in ("uyvy", "yuv422", "yuyv", "yuv422_yuy2")},
}
SUPPORTED_ENCODINGS: tuple[str, ...] = (*_RESIZE_FIRST, *_DEPTH, *_CONVERT_FIRST)

_JPEG_MAGIC = b"\xff\xd8\xff"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_SOF_MARKERS = frozenset(
    (*range(0xC0, 0xC4), *range(0xC5, 0xC8), *range(0xC9, 0xCC), *range(0xCD, 0xD0))
)
_REDUCED_FLAGS = (
    (8, cv2.IMREAD_REDUCED_COLOR_8),
    (4, cv2.IMREAD_REDUCED_COLOR_4),
    (2, cv2.IMREAD_REDUCED_COLOR_2),
)


def decode_image(
    msg: object,
    target_size: TargetSize | None = None,
    max_input_pixels: int = 50_000_000,
) -> Image:
    """Decode a ``sensor_msgs/Image`` or ``sensor_msgs/CompressedImage`` to RGB uint8.

    Args:
        msg: The message; one with a ``format`` field is taken as compressed.
        target_size: Maps the source (width, height) to the output (width, height);
            None keeps the source size.
        max_input_pixels: Images with more source pixels are refused before decoding.

    Returns:
        A new, contiguous (H, W, 3) uint8 RGB array that shares no memory with ``msg``.

    Raises:
        InputError: When the message cannot be decoded; the message says why.
        ConfigError: When ``max_input_pixels`` or ``target_size``'s answer is not positive.
    """
    if hasattr(msg, "format"):
        return decode_compressed_image(msg, target_size, max_input_pixels)
    return decode_raw_image(msg, target_size, max_input_pixels)


def decode_raw_image(
    msg: object,
    target_size: TargetSize | None = None,
    max_input_pixels: int = 50_000_000,
) -> Image:
    """Decode a ``sensor_msgs/Image``; see :func:`decode_image`."""
    _check_limit(max_input_pixels)
    encoding = str(_field(msg, "encoding"))
    width, height, step = (_int_field(msg, name) for name in ("width", "height", "step"))
    _check_size(width, height, max_input_pixels, "image")
    if encoding in _RESIZE_FIRST:
        dtype, channels, to_rgb = _RESIZE_FIRST[encoding]
    elif encoding in _DEPTH:
        dtype, channels, to_rgb = _DEPTH[encoding], 1, cv2.COLOR_GRAY2RGB
    elif encoding in _CONVERT_FIRST:
        dtype, channels = _CONVERT_FIRST[encoding]
        to_rgb = None
    else:
        raise InputError(
            f"unsupported image encoding {encoding!r}; supported: {', '.join(SUPPORTED_ENCODINGS)}"
        )
    view = _pixel_view(msg, dtype, channels, width=width, height=height, step=step)
    size = _wanted_size(target_size, width, height)
    try:
        if encoding in _CONVERT_FIRST:
            rgb = np.asarray(convert_color(view, encoding, "rgb8"), dtype=np.uint8)
            return _owned(_resize(rgb, size))
        if encoding in _DEPTH:
            return _owned(cv2.cvtColor(_resize(_normalise_depth(view), size), cv2.COLOR_GRAY2RGB))
        small = _resize(view, size)
        if dtype == _U16:
            small = (small >> 8).astype(np.uint8)
        if to_rgb is not None:
            return _owned(cv2.cvtColor(small, to_rgb))
        return _owned(small)
    except (cv2.error, ImageError) as exc:
        raise InputError(f"could not convert {encoding} image {width}x{height}: {exc}") from exc


def decode_compressed_image(
    msg: object,
    target_size: TargetSize | None = None,
    max_input_pixels: int = 50_000_000,
) -> Image:
    """Decode a ``sensor_msgs/CompressedImage`` holding JPEG or PNG; see :func:`decode_image`."""
    _check_limit(max_input_pixels)
    fmt = str(_field(msg, "format"))
    data = _bytes(_field(msg, "data"))
    declared = _declared_kind(fmt)
    if not len(data):
        raise InputError("compressed image has no data")
    head = data[:8].tobytes()
    if head.startswith(_JPEG_MAGIC):
        kind = "jpeg"
    elif head == _PNG_MAGIC:
        kind = "png"
    else:
        raise InputError(f"compressed image data is neither JPEG nor PNG (starts with {head!r})")
    if declared is not None and declared != kind:
        raise InputError(f"compressed image format {fmt!r} says {declared} but data is {kind}")
    header_size = _jpeg_size(data) if kind == "jpeg" else _png_size(data)
    if header_size is None:
        raise InputError(f"{kind} header is corrupt or truncated: no image size found")
    width, height = header_size
    _check_size(width, height, max_input_pixels, kind)
    size = _wanted_size(target_size, width, height)
    flags = cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION
    if kind == "jpeg":
        for factor, reduced in _REDUCED_FLAGS:
            if -(-width // factor) >= size[0] and -(-height // factor) >= size[1]:
                flags = reduced | cv2.IMREAD_IGNORE_ORIENTATION
                break
    try:
        bgr = cv2.imdecode(data, flags)
    except cv2.error as exc:
        raise InputError(f"could not decode {kind} image ({len(data)} bytes): {exc}") from exc
    if bgr is None:
        raise InputError(
            f"could not decode {kind} image ({len(data)} bytes): corrupt or truncated"
        )
    return _owned(cv2.cvtColor(_resize(bgr, size), cv2.COLOR_BGR2RGB))


def _field(msg: object, name: str) -> object:
    try:
        return getattr(msg, name)
    except AttributeError:
        raise InputError(
            f"{type(msg).__name__} is not an image message: it has no {name!r} field"
        ) from None


def _int_field(msg: object, name: str) -> int:
    value = _field(msg, name)
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InputError(f"image {name} must be an integer, got {value!r}")
    return int(value)


def _check_limit(max_input_pixels: int) -> None:
    if max_input_pixels <= 0:
        raise ConfigError(f"max_input_pixels must be > 0, got {max_input_pixels}")


def _check_size(width: int, height: int, max_input_pixels: int, what: str) -> None:
    if width <= 0 or height <= 0:
        raise InputError(f"{what} has zero size: width {width}, height {height}")
    if width * height > max_input_pixels:
        raise InputError(
            f"{what} of {width}x{height} = {width * height} pixels is over the limit of "
            f"{max_input_pixels} pixels"
        )


def _wanted_size(target_size: TargetSize | None, width: int, height: int) -> tuple[int, int]:
    if target_size is None:
        return width, height
    out_w, out_h = target_size(width, height)
    if out_w <= 0 or out_h <= 0:
        raise ConfigError(f"target_size({width}, {height}) gave a non-positive {out_w}x{out_h}")
    return int(out_w), int(out_h)


def _bytes(data: object) -> npt.NDArray[np.uint8]:
    """A flat zero-copy uint8 view of message data."""
    if isinstance(data, np.ndarray):
        if data.dtype != np.uint8 or data.ndim != 1:
            raise InputError(
                f"image data must be a flat uint8 array, got {data.dtype} of shape {data.shape}"
            )
        return np.ascontiguousarray(data)
    try:
        return np.frombuffer(data, dtype=np.uint8)  # type: ignore[call-overload, no-any-return]
    except (TypeError, ValueError, BufferError) as exc:
        raise InputError(f"image data of type {type(data).__name__} is not bytes-like") from exc


def _pixel_view(
    msg: object, dtype: np.dtype[np.generic], channels: int, *, width: int, height: int, step: int
) -> _Pixels:
    """A zero-copy (H, W[, C]) view of the pixels that skips each row's padding."""
    pixel_bytes = dtype.itemsize * channels
    if step < width * pixel_bytes:
        raise InputError(
            f"image step {step} is smaller than width * bytes per pixel = "
            f"{width} * {pixel_bytes} = {width * pixel_bytes}"
        )
    if step % dtype.itemsize:
        raise InputError(f"image step {step} is not a multiple of the {dtype.itemsize}-byte pixel")
    data = _bytes(_field(msg, "data"))
    if len(data) < step * height:
        raise InputError(
            f"image data is truncated: {len(data)} bytes < step * height = {step} * {height} "
            f"= {step * height}"
        )
    swapped = dtype.itemsize > 1 and bool(getattr(msg, "is_bigendian", False)) != (
        sys.byteorder == "big"
    )
    shape = (height, width, channels) if channels > 1 else (height, width)
    strides = (step, pixel_bytes, dtype.itemsize) if channels > 1 else (step, pixel_bytes)
    view_type = dtype.newbyteorder("S") if swapped else dtype
    view: _Pixels = np.ndarray(shape, view_type, data, 0, strides)
    return view.astype(dtype) if swapped else view  # OpenCV needs native byte order


def _resize(image: _Pixels, size: tuple[int, int]) -> _Pixels:
    """Resize to ``size`` (width, height). Shrinking by 2x or more averages (INTER_AREA);
    less than 2x -- what is left after a reduced JPEG decode -- interpolates linearly, which
    samples every source pixel there and costs a sixth of INTER_AREA."""
    height, width = image.shape[:2]
    if (width, height) == size:
        return image
    gentle = size[0] * 2 >= width and size[1] * 2 >= height
    interpolation = cv2.INTER_LINEAR if gentle else cv2.INTER_AREA
    return np.asarray(cv2.resize(image, size, interpolation=interpolation))


def _normalise_depth(depth: _Pixels) -> npt.NDArray[np.uint8]:
    """Map the valid depth range to 0..255, invalid pixels (0, NaN, inf) to 0."""
    values = depth.astype(np.float64)
    valid = np.isfinite(values) & (values != 0) if depth.dtype == _U16 else np.isfinite(values)
    if not valid.any():
        return np.zeros(depth.shape, dtype=np.uint8)
    low, high = values[valid].min(), values[valid].max()
    scale = 255.0 / (high - low) if high > low else 0.0
    with np.errstate(invalid="ignore", over="ignore"):
        scaled = np.where(valid, (values - low) * scale, 0.0)
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def _owned(image: _Pixels) -> Image:
    """A contiguous uint8 array that owns its memory (never a view of message data)."""
    if image.base is None and image.flags.c_contiguous and image.dtype == np.uint8:
        return image.astype(np.uint8, copy=False)
    return np.array(image, dtype=np.uint8, order="C", copy=True)


def _declared_kind(fmt: str) -> str | None:
    lowered = fmt.strip().lower()
    if "compresseddepth" in lowered:
        raise InputError(f"compressed image format {fmt!r} (compressedDepth) is not supported")
    if "jpeg" in lowered or "jpg" in lowered:
        return "jpeg"
    if "png" in lowered:
        return "png"
    if lowered:
        raise InputError(f"unsupported compressed image format {fmt!r}; supported: jpeg, png")
    return None


def _jpeg_size(data: npt.NDArray[np.uint8]) -> tuple[int, int] | None:
    """(width, height) from the first SOF marker, walking segment headers only."""
    buf = data.data  # memoryview: indexing gives ints, without numpy scalar overhead
    pos, end = 2, len(buf)
    while pos + 4 <= end:
        if buf[pos] != 0xFF:
            return None
        marker = buf[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
        elif marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            pos += 2
        elif marker in (0xD9, 0xDA):  # end of image, or scan data, before any frame header
            return None
        elif marker in _SOF_MARKERS:
            if pos + 9 > end:
                return None
            height = buf[pos + 5] << 8 | buf[pos + 6]
            width = buf[pos + 7] << 8 | buf[pos + 8]
            return (width, height) if width and height else None
        else:
            pos += 2 + (buf[pos + 2] << 8 | buf[pos + 3])
    return None


def _png_size(data: npt.NDArray[np.uint8]) -> tuple[int, int] | None:
    """(width, height) from the IHDR chunk, which the PNG format puts first."""
    head = data[:24].tobytes()
    if len(head) < 24 or head[12:16] != b"IHDR":
        return None
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
