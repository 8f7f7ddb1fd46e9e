"""``cosmos-reason``: one decision about a video file or a folder of images, printed as JSON.

Frames go through the same ``FrameWindow`` sampling and downscaling as the node, stamped with
the video's frame times (or ``index / --fps`` for images), and the last ``--window-s`` seconds
are asked about. The output is one JSON object whose keys are the NextAction fields (``action``,
``target``, ``parameters``, ``confidence``, ``valid``, ``reason``, ``decision_id``,
``frame_count``, ...) plus token counts and timings; ``-v`` adds the thinking and the raw text.

Exit status: 0 with a decision (``valid`` may still be false), 1 when the backend fails,
2 on bad input or settings (the message says what is wrong).

Example::

    cosmos-reason --model nvidia/Cosmos-Reason1-7B --video clip.mp4 \\
        --question "What should the robot do next?" --actions move_forward,turn_left,stop
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from cosmos_reason_ros.backends import BACKENDS
from cosmos_reason_ros.backends.config import DEVICES, DTYPES, QUANTIZATIONS
from cosmos_reason_ros.config import SPEC_BY_NAME, build_config, load_configured
from cosmos_reason_ros.core.action_space import (
    MAX_PARAMETERS,
    MAX_REASON_CHARS,
    MAX_TARGET_CHARS,
)
from cosmos_reason_ros.core.errors import BackendError, ConfigError, InputError
from cosmos_reason_ros.core.ingest import ingest, raw_frame
from cosmos_reason_ros.core.prompts import DEFAULT_QUESTION, PROFILES
from cosmos_reason_ros.core.reasoner import Reasoner
from cosmos_reason_ros.core.types import Image, WindowSnapshot
from cosmos_reason_ros.core.window import FrameWindow

_LOG = logging.getLogger("cosmos_reason_ros.cli")

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
EXIT_OK, EXIT_BACKEND, EXIT_INPUT = 0, 1, 2
_NS_PER_S = 1_000_000_000
_NEXT_ACTION_KEYS = (
    "decision_id",
    "action",
    "target",
    "parameters",
    "confidence",
    "valid",
    "reason",
    "stamp_ns",
    "frame_id",
    "window_start_ns",
    "frame_count",
    "question",
    "choices",
    "model",
    "prompt_tokens",
    "generated_tokens",
    "timings",
)
_VERBOSE_KEYS = ("thinking", "answer", "raw_text", "frame_stamps_ns")


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser."""
    p = argparse.ArgumentParser(
        prog="cosmos-reason",
        description="Ask a Cosmos-Reason model what a robot should do next, given a video.",
    )
    p.add_argument("--model", required=True, help="hub id or local folder")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--video", type=Path, help="a video file")
    source.add_argument("--images", type=Path, help="a folder of images, sorted by name")
    p.add_argument("--question", default=DEFAULT_QUESTION)
    p.add_argument(
        "--actions",
        required=True,
        help='comma-separated allowed actions, each "name" or "name: description"',
    )
    p.add_argument("--fallback", default="stop", help="action of an unusable answer")
    p.add_argument("--choices", default="", help="comma-separated options (allowed actions)")
    p.add_argument("--backend", default="transformers", choices=BACKENDS)
    p.add_argument("--base-url", default=None, help="openai backend: the server's base URL")
    p.add_argument("--device", default="auto", choices=DEVICES)
    p.add_argument("--dtype", default="auto", choices=DTYPES)
    p.add_argument("--quantization", default="none", choices=QUANTIZATIONS)
    p.add_argument("--profile", default="auto", choices=PROFILES, help="prompt profile")
    p.add_argument("--fps", type=float, default=None, help="frames sampled per second")
    p.add_argument("--window-s", type=float, default=4.0, help="seconds of video asked about")
    p.add_argument("--max-new-tokens", type=int, default=None)
    p.add_argument("--max-thinking-tokens", type=int, default=256)
    p.add_argument("--max-target-chars", type=int, default=MAX_TARGET_CHARS)
    p.add_argument("--max-reason-chars", type=int, default=MAX_REASON_CHARS)
    p.add_argument("--max-parameters", type=int, default=MAX_PARAMETERS)
    # Sampling: unset options take the model family's recipe (docs/fidelity.md).
    p.add_argument("--temperature", type=float, default=None)
    p.add_argument("--top-p", type=float, default=None)
    p.add_argument("--top-k", type=int, default=None, help="0: no top-k cut")
    p.add_argument("--presence-penalty", type=float, default=None)
    p.add_argument("--seed", type=int, default=None, help="-2: a random seed each time")
    p.add_argument(
        "--unconstrained", action="store_true", help="do not constrain the answer to the schema"
    )
    p.add_argument("-v", "--verbose", action="store_true", help="add thinking and raw text")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the CLI. Returns the exit status (see the module docstring)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad arguments, 0 on --help
        return exc.code if isinstance(exc.code, int) else EXIT_INPUT
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        result = _run(args)
    except (ConfigError, InputError) as exc:
        print(f"cosmos-reason: error: {_in_option_names(str(exc))}", file=sys.stderr)
        return EXIT_INPUT
    except BackendError as exc:
        print(f"cosmos-reason: backend error: {exc}", file=sys.stderr)
        return EXIT_BACKEND
    print(json.dumps(result, ensure_ascii=False))
    return EXIT_OK


def _values(args: argparse.Namespace) -> dict[str, Any]:
    """The node parameter values the arguments set (the rest keep their defaults)."""
    values: dict[str, Any] = {
        "model": args.model,
        "backend": args.backend,
        "device": args.device,
        "dtype": args.dtype,
        "quantization": args.quantization,
        "profile": args.profile,
        "window_s": args.window_s,
        "question": args.question,
        "actions": _split(args.actions),
        "fallback_action": args.fallback,
        "max_thinking_tokens": args.max_thinking_tokens,
        "max_target_chars": args.max_target_chars,
        "max_reason_chars": args.max_reason_chars,
        "max_parameters": args.max_parameters,
        "constrained_decoding": not args.unconstrained,
    }
    family = {
        "sample_fps": args.fps,
        "max_new_tokens": args.max_new_tokens,
        "temperature": args.temperature,
        "top_p": args.top_p,
        "top_k": args.top_k,
        "presence_penalty": args.presence_penalty,
        "seed": args.seed,
    }
    values.update({k: v for k, v in family.items() if v is not None})
    if args.base_url:
        values["base_url"] = args.base_url
    return values


def _run(args: argparse.Namespace) -> dict[str, Any]:
    values = _values(args)
    build_config(values)  # every setting is checked before the model loads
    source = args.video if args.video is not None else args.images
    if not source.exists():
        raise InputError(f"{source} does not exist")
    config, backend = load_configured(values)
    try:
        reasoner = Reasoner(backend, config.reasoner)
        question, choices = reasoner.validate_request(args.question, _split(args.choices))
        window = FrameWindow(source.name, config.window)
        frames = (
            _video_frames(source) if args.video is not None else _image_frames(source, args.fps)
        )
        read = _fill(window, frames, source.stem, config.max_input_pixels)
        clip = window.snapshot()
        if clip is None:
            raise InputError(f"no frames could be read from {source}")
        _LOG.info("frames read=%d kept=%d", read, len(clip.frames))
        decision = reasoner.decide(
            WindowSnapshot((clip,)), decision_id=1, question=question, choices=choices
        )
    finally:
        backend.close()
    full = decision.to_dict()
    keys = _NEXT_ACTION_KEYS + (_VERBOSE_KEYS if args.verbose else ())
    return {key: full[key] for key in keys}


_OPTION_OF = {"sample_fps": "--fps", "window_s": "--window-s", "fallback_action": "--fallback"}


def _in_option_names(message: str) -> str:
    """A configuration message that names a parameter, naming the option that sets it."""
    for name, option in _OPTION_OF.items():
        if message.startswith(name + " "):
            return option + message[len(name) :]
    for name in SPEC_BY_NAME:
        if message.startswith(name + " "):
            return "--" + name.replace("_", "-") + message[len(name) :]
    return message


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _fill(
    window: FrameWindow, frames: Iterator[tuple[int, Image]], frame_id: str, max_pixels: int
) -> int:
    """Pushes BGR frames through the node's ingest path (stamp check, downscale, RGB)."""
    count = 0
    for stamp_ns, frame in frames:
        count += 1
        ingest(window, stamp_ns, frame_id, raw_frame(frame), max_pixels)
    return count


def _video_frames(path: Path) -> Iterator[tuple[int, Image]]:
    """(stamp_ns, BGR frame) of each frame of a video, stamped with its frame time."""
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise InputError(f"cannot open video {path}: not a video OpenCV can read")
    try:
        fps = float(capture.get(cv2.CAP_PROP_FPS))
        index = 0
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            if fps > 0:
                stamp_ns = round(index * _NS_PER_S / fps)
            else:  # variable or unknown rate: the container's time of this frame
                stamp_ns = round(float(capture.get(cv2.CAP_PROP_POS_MSEC)) * 1_000_000)
            index += 1
            yield stamp_ns, _bgr(frame, f"{path} frame {index}")
    finally:
        capture.release()


def _image_frames(folder: Path, fps: float) -> Iterator[tuple[int, Image]]:
    """(stamp_ns, BGR image) of the images in ``folder``, sorted by name, ``fps`` apart."""
    if not folder.is_dir():
        raise InputError(f"--images must be a folder, got {folder}")
    files = sorted(f for f in folder.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise InputError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {folder}")
    for index, file in enumerate(files):
        image = cv2.imread(str(file), cv2.IMREAD_COLOR)
        if image is None:
            raise InputError(f"cannot read image {file}")
        yield round(index * _NS_PER_S / fps), _bgr(image, str(file))


def _bgr(frame: Any, what: str) -> Image:
    array = np.asarray(frame)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3:
        raise InputError(f"{what}: expected an 8-bit colour image, got shape {array.shape}")
    return array


if __name__ == "__main__":
    sys.exit(main())
