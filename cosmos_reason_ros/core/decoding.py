"""Decode ROS image messages to RGB uint8 arrays at the size the frame window wants.

Messages are duck-typed, so rclpy messages and rosbags' message objects both work:
``sensor_msgs/Image`` has ``height width encoding step data`` (and ``is_bigendian``),
``sensor_msgs/CompressedImage`` has ``format data``. ``data`` may be bytes, bytearray,
``array.array('B')`` or a numpy uint8 array.

Cost matters because this runs in the image callback for every kept frame:

* Raw 8-bit images are read through a zero-copy numpy view over ``data`` that honours ``step``,
  downscaled first (``cv2.INTER_AREA``) and colour-converted after, on the small image.
* JPEG sizes are read from the SOF header without decoding; libjpeg-turbo (through simplejpeg)
  then decodes at a reduced scale that still covers the target, and a linear resize finishes.
  The scale is the smallest of 1/8, 1/4, 1/2 and 1 that covers the target: those have SIMD
  inverse DCTs, and measured here (1080p, x86-64) a 5/8, 6/8 or 7/8 decode took 1.4-1.8x as
  long as a full-size one. Only where that would decode more than ``MAX_DECODED_PIXELS`` is the
  smallest covering M/8 scale used instead. Strict: a JPEG with corrupt data is refused
  (libjpeg's warning becomes the error message; nothing is printed). PNG sizes come from the
  IHDR header; PNGs are decoded by Pillow, which reports corrupt data as an error instead of
  printing it.
* Bayer and YUV encodings are converted at full size by rosbags-image, then downscaled.

Hard ceilings, whatever ``max_input_pixels`` says (a parameter anyone on the ROS domain may
try to raise): at most ``MAX_DECODED_PIXELS`` pixels are ever decoded or converted at full
size (raw frames, PNG, progressive JPEG, and a baseline JPEG after its reduced-scale decode), a
baseline JPEG's header may claim at most ``MAX_SOURCE_PIXELS``, and data of more than
``MAX_MESSAGE_BYTES`` is not looked at. Every size is checked from the header, before decoding.

Depth-like encodings are normalised for display: ``16UC1`` (millimetres; 0 = no measurement)
and ``32FC1`` (metres; NaN and inf = no measurement) map their valid range to 0..255, invalid
pixels to black. ``mono16`` and 16-bit colour are intensities and keep their scale (top 8 bits).
Every problem with the input raises :class:`~cosmos_reason_ros.core.errors.FrameError` (an
``InputError``) whose ``cause`` says what kind of problem it is.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import simplejpeg
from PIL import Image as PILImage
from rosbags.image import ImageError
from rosbags.image.image import convert_color

from cosmos_reason_ros.core.errors import ConfigError, FrameError
from cosmos_reason_ros.core.types import Image

__all__ = [
    "MAX_DECODED_PIXELS",
    "MAX_MESSAGE_BYTES",
    "MAX_SOURCE_PIXELS",
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

MAX_DECODED_PIXELS = 4096 * 4096
"""The most pixels any decode produces or converts at full size (16.8 MP: 4K UHD fits twice).
A frame is downscaled to at most 768 visual tokens (< 1 MP) anyway."""
MAX_SOURCE_PIXELS = 8192 * 8192
"""The most pixels a baseline JPEG's header may claim (67 MP); it is decoded at a reduced scale
of at most ``MAX_DECODED_PIXELS``. Also the ceiling of the ``max_input_pixels`` parameter."""
MAX_MESSAGE_BYTES = 4 * MAX_DECODED_PIXELS + 2**20
"""The most bytes of image data looked at (65 MiB: a 4096x4096 frame of 4 bytes a pixel)."""

_JPEG_MAGIC = b"\xff\xd8\xff"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_SOF_MARKERS = frozenset(
    (*range(0xC0, 0xC4), *range(0xC5, 0xC8), *range(0xC9, 0xCC), *range(0xCD, 0xD0))
)
# Progressive frames: libjpeg keeps every coefficient of the whole image while decoding them,
# whatever the output scale, so they count at full size.
_PROGRESSIVE_SOF = frozenset((0xC2, 0xC6, 0xCA, 0xCE))
_PIL_16_BIT = frozenset(("I;16", "I;16B", "I;16L", "I"))


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
        max_input_pixels: Images with more source pixels are refused before decoding (the
            ceilings above hold whatever this says).

    Returns:
        A new, contiguous (H, W, 3) uint8 RGB array that shares no memory with ``msg``.

    Raises:
        FrameError: When the message cannot be decoded; the message says why, ``cause``
            which kind of problem it is.
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
    _check_size(width, height, max_input_pixels, MAX_DECODED_PIXELS, "image")
    if encoding in _RESIZE_FIRST:
        dtype, channels, to_rgb = _RESIZE_FIRST[encoding]
    elif encoding in _DEPTH:
        dtype, channels, to_rgb = _DEPTH[encoding], 1, cv2.COLOR_GRAY2RGB
    elif encoding in _CONVERT_FIRST:
        dtype, channels = _CONVERT_FIRST[encoding]
        to_rgb = None
        if channels == 2 and width % 2:
            raise FrameError(
                f"{encoding} image width {width} is odd: 4:2:2 YUV shares colour between "
                "pixel pairs, so its width must be even"
            )
    else:
        raise FrameError(
            f"unsupported image encoding {_excerpt(encoding)}; "
            f"supported: {', '.join(SUPPORTED_ENCODINGS)}",
            "encoding",
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
        raise FrameError(
            f"could not convert {encoding} image {width}x{height}: {_first_line(exc)}", "malformed"
        ) from exc


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
        raise FrameError("compressed image has no data", "corrupt")
    head = data[:8].tobytes()
    if head.startswith(_JPEG_MAGIC):
        kind = "jpeg"
    elif head == _PNG_MAGIC:
        kind = "png"
    else:
        raise FrameError(
            f"compressed image data is neither JPEG nor PNG (starts with {head!r})", "encoding"
        )
    if declared is not None and declared != kind:
        raise FrameError(
            f"compressed image format {_excerpt(fmt)} says {declared} but data is {kind}",
            "encoding",
        )
    if kind == "jpeg":
        return _decode_jpeg(data, target_size, max_input_pixels)
    return _decode_png(data, target_size, max_input_pixels)


def _decode_jpeg(
    data: npt.NDArray[np.uint8], target_size: TargetSize | None, max_input_pixels: int
) -> Image:
    header = _jpeg_header(data)
    if header is None:
        raise FrameError("jpeg header is corrupt or truncated: no image size found", "corrupt")
    width, height, progressive = header
    ceiling = MAX_DECODED_PIXELS if progressive else MAX_SOURCE_PIXELS
    _check_size(width, height, max_input_pixels, ceiling, "jpeg")
    size = _wanted_size(target_size, width, height)
    eighths = _jpeg_scale(width, height, size)
    scaled_w, scaled_h = _scaled(width, eighths), _scaled(height, eighths)
    decoded = scaled_w * scaled_h
    if decoded > MAX_DECODED_PIXELS:
        raise FrameError(
            f"jpeg of {width}x{height} would decode to {decoded} pixels for a "
            f"{size[0]}x{size[1]} frame, over the ceiling of {MAX_DECODED_PIXELS} pixels",
            "too_large",
        )
    try:
        # simplejpeg takes the smallest scale whose output is at least this: exactly eighths/8.
        # Plain (not triangular) chroma upsampling where a downscale follows and smooths it:
        # 15-20 % of a 1080p decode.
        rgb = simplejpeg.decode_jpeg(
            data,
            "RGB",
            min_width=scaled_w,
            min_height=scaled_h,
            fastupsample=(scaled_w, scaled_h) != size,
            strict=True,
        )
    except (ValueError, RuntimeError) as exc:  # libjpeg's error or warning, as the message
        raise FrameError(
            f"could not decode jpeg image ({len(data)} bytes): corrupt or truncated: "
            f"{_first_line(exc)}",
            "corrupt",
        ) from exc
    return _owned(_resize(np.asarray(rgb), size))


def _jpeg_scale(width: int, height: int, size: tuple[int, int]) -> int:
    """The eighths at which to decode a JPEG of ``width`` x ``height`` for a ``size`` frame."""
    covering = [m for m in range(1, 9) if _scaled(width, m) >= size[0]]
    covering = [m for m in covering if _scaled(height, m) >= size[1]] or [8]
    fast = next(m for m in covering if m in (1, 2, 4, 8))
    if _scaled(width, fast) * _scaled(height, fast) > MAX_DECODED_PIXELS:
        return covering[0]
    return fast


def _scaled(side: int, eighths: int) -> int:
    """A side decoded at ``eighths``/8 scale, rounded up as libjpeg-turbo does."""
    return -(-side * eighths // 8)


def _decode_png(
    data: npt.NDArray[np.uint8], target_size: TargetSize | None, max_input_pixels: int
) -> Image:
    header_size = _png_size(data)
    if header_size is None:
        raise FrameError("png header is corrupt or truncated: no image size found", "corrupt")
    width, height = header_size
    _check_size(width, height, max_input_pixels, MAX_DECODED_PIXELS, "png")
    size = _wanted_size(target_size, width, height)
    try:
        with PILImage.open(io.BytesIO(data.data), formats=("PNG",)) as image:
            if image.size != (width, height):
                raise FrameError(f"png header says {width}x{height}, data {image.size}", "corrupt")
            image.load()
            if image.mode in _PIL_16_BIT:
                pixels = np.asarray(image)
                grey = (pixels.astype(np.uint32) >> 8).clip(0, 255).astype(np.uint8)
                rgb = cv2.cvtColor(grey, cv2.COLOR_GRAY2RGB)
            else:
                rgb = np.asarray(image if image.mode == "RGB" else image.convert("RGB"))
    except FrameError:
        raise
    except (OSError, SyntaxError, ValueError, EOFError) as exc:  # Pillow's decode errors
        raise FrameError(
            f"could not decode png image ({len(data)} bytes): corrupt or truncated: "
            f"{_first_line(exc)}",
            "corrupt",
        ) from exc
    return _owned(_resize(rgb, size))


def _field(msg: object, name: str) -> object:
    try:
        return getattr(msg, name)
    except AttributeError:
        raise FrameError(
            f"{type(msg).__name__} is not an image message: it has no {name!r} field"
        ) from None


def _int_field(msg: object, name: str) -> int:
    value = _field(msg, name)
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise FrameError(f"image {name} must be an integer, got {_excerpt(repr(value))}")
    return int(value)


def _check_limit(max_input_pixels: int) -> None:
    if max_input_pixels <= 0:
        raise ConfigError(f"max_input_pixels must be > 0, got {max_input_pixels}")


def _check_size(width: int, height: int, max_input_pixels: int, ceiling: int, what: str) -> None:
    """Refuse a size from the header: zero, over ``max_input_pixels`` or over ``ceiling``."""
    if width <= 0 or height <= 0:
        raise FrameError(f"{what} has zero size: width {width}, height {height}")
    limit = min(max_input_pixels, ceiling)
    if width * height > limit:
        which = " (a ceiling no parameter lifts)" if limit == ceiling else ""
        raise FrameError(
            f"{what} of {width}x{height} = {width * height} pixels is over the limit of "
            f"{limit} pixels{which}",
            "too_large",
        )


def _wanted_size(target_size: TargetSize | None, width: int, height: int) -> tuple[int, int]:
    if target_size is None:
        return width, height
    out_w, out_h = target_size(width, height)
    if out_w <= 0 or out_h <= 0:
        raise ConfigError(f"target_size({width}, {height}) gave a non-positive {out_w}x{out_h}")
    return int(out_w), int(out_h)


def _bytes(data: object) -> npt.NDArray[np.uint8]:
    """A flat zero-copy uint8 view of message data, at most ``MAX_MESSAGE_BYTES`` long."""
    if isinstance(data, np.ndarray):
        if data.dtype != np.uint8 or data.ndim != 1:
            raise FrameError(
                f"image data must be a flat uint8 array, got {data.dtype} of shape {data.shape}"
            )
        flat = np.ascontiguousarray(data)
    else:
        try:
            flat = np.frombuffer(data, dtype=np.uint8)  # type: ignore[call-overload]
        except (TypeError, ValueError, BufferError) as exc:
            raise FrameError(
                f"image data of type {type(data).__name__} is not bytes-like"
            ) from exc
    if len(flat) > MAX_MESSAGE_BYTES:
        raise FrameError(
            f"image data of {len(flat)} bytes is over the ceiling of {MAX_MESSAGE_BYTES} bytes",
            "too_large",
        )
    return flat


def _pixel_view(
    msg: object, dtype: np.dtype[np.generic], channels: int, *, width: int, height: int, step: int
) -> _Pixels:
    """A zero-copy (H, W[, C]) view of the pixels that skips each row's padding."""
    pixel_bytes = dtype.itemsize * channels
    if step < width * pixel_bytes:
        raise FrameError(
            f"image step {step} is smaller than width * bytes per pixel = "
            f"{width} * {pixel_bytes} = {width * pixel_bytes}"
        )
    if step % dtype.itemsize:
        raise FrameError(f"image step {step} is not a multiple of the {dtype.itemsize}-byte pixel")
    data = _bytes(_field(msg, "data"))
    if len(data) < step * height:
        raise FrameError(
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
        raise FrameError(
            f"compressed image format {_excerpt(fmt)} (compressedDepth) is not supported",
            "encoding",
        )
    if "jpeg" in lowered or "jpg" in lowered:
        return "jpeg"
    if "png" in lowered:
        return "png"
    if lowered:
        raise FrameError(
            f"unsupported compressed image format {_excerpt(fmt)}; supported: jpeg, png",
            "encoding",
        )
    return None


def _jpeg_header(data: npt.NDArray[np.uint8]) -> tuple[int, int, bool] | None:
    """(width, height, progressive) from the first SOF marker, walking segment headers only."""
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
            return (width, height, marker in _PROGRESSIVE_SOF) if width and height else None
        else:
            pos += 2 + (buf[pos + 2] << 8 | buf[pos + 3])
    return None


def _png_size(data: npt.NDArray[np.uint8]) -> tuple[int, int] | None:
    """(width, height) from the IHDR chunk, which the PNG format puts first."""
    head = data[:24].tobytes()
    if len(head) < 24 or head[12:16] != b"IHDR":
        return None
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def _excerpt(value: str, limit: int = 40) -> str:
    """``repr`` of a user's value, cut to a short excerpt: errors never echo a whole value."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 5]}...' ({len(value)} characters)"


def _first_line(exc: BaseException, limit: int = 160) -> str:
    """A library's error message, first line only and cut short."""
    lines = str(exc).strip().splitlines() or [type(exc).__name__]
    return lines[0][:limit]
