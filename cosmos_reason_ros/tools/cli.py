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
import itertools
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
from cosmos_reason_ros.config import FALLBACK_RULE, SPEC_BY_NAME, build_config, load_configured
from cosmos_reason_ros.core.errors import BackendError, ConfigError, InputError
from cosmos_reason_ros.core.ingest import ingest, raw_frame
from cosmos_reason_ros.core.prompts import PROFILES
from cosmos_reason_ros.core.reasoner import Reasoner, check_request
from cosmos_reason_ros.core.types import Image, WindowSnapshot
from cosmos_reason_ros.core.window import FrameWindow
from cosmos_reason_ros.tools.options import (
    EXIT_INTERRUPTED,
    HelpFormatter,
    add_action_options,
    backend_values,
    default,
    split_list,
    stop_signals_as_interrupt,
)

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
    """The command-line parser; defaults are the node's parameter defaults."""
    p = argparse.ArgumentParser(
        prog="cosmos-reason",
        description="Ask a Cosmos-Reason model what a robot should do next, given a video. "
        "The input is checked before the model loads.",
        epilog=f"Fallback rule: {FALLBACK_RULE}. Exit status: 0 with a decision, 1 when the "
        "backend fails, 2 on bad input or settings, 130 on Ctrl-C or SIGTERM.",
        formatter_class=HelpFormatter,
    )
    p.add_argument("--model", required=True, help="hub id or local checkpoint folder")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--video", type=Path, help="a video file")
    source.add_argument("--images", type=Path, help="a folder of images, sorted by name")
    p.add_argument("--question", default=default("question"), help="what to ask")
    add_action_options(p)
    p.add_argument("--choices", default="", help="comma-separated allowed actions to pick from")
    p.add_argument("--backend", default=default("backend"), choices=BACKENDS, help="backend")
    p.add_argument("--base-url", default=None, help="openai backend: the server's base URL")
    p.add_argument("--device", default=default("device"), choices=DEVICES, help="device")
    p.add_argument("--dtype", default=default("dtype"), choices=DTYPES, help="weights dtype")
    p.add_argument(
        "--quantization",
        default=default("quantization"),
        choices=QUANTIZATIONS,
        help="bitsandbytes weights",
    )
    p.add_argument(
        "--profile", default=default("profile"), choices=PROFILES, help="prompt profile"
    )
    p.add_argument("--fps", type=float, default=default("sample_fps"), help="frames kept per s")
    p.add_argument(
        "--window-s", type=float, default=default("window_s"), help="seconds of video asked about"
    )
    for name, text in _NUMBERS:
        kind = type(default(name))
        p.add_argument("--" + name.replace("_", "-"), type=kind, default=default(name), help=text)
    p.add_argument(
        "--seed", type=int, default=None, help="sampling seed (default: the family's; -2: random)"
    )
    p.add_argument(
        "--unconstrained", action="store_true", help="do not constrain the answer to the schema"
    )
    p.add_argument("-v", "--verbose", action="store_true", help="add thinking and raw text")
    return p


_NUMBERS = (
    ("max_new_tokens", "generated tokens at most, thinking and answer"),
    ("max_thinking_tokens", "thinking budget; then the answer is forced"),
    ("max_thinking_s", "thinking deadline in seconds after generation starts (0 = none)"),
    ("max_target_chars", "length bound of the answer's target"),
    ("max_reason_chars", "length bound of the answer's reason"),
    ("max_parameters", "most key/value parameters in the answer"),
    ("temperature", "sampling temperature; 0 = greedy; -1 = the model family's recipe"),
    ("top_p", "nucleus sampling mass; -1 = the model family's recipe"),
    ("top_k", "top-k cut (0 = none); -1 = the model family's recipe"),
    ("presence_penalty", "presence penalty; -1 = the model family's recipe"),
)


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
        with stop_signals_as_interrupt():
            result = _run(args)
    except KeyboardInterrupt:
        print("cosmos-reason: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
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
        **backend_values(args),
        "profile": args.profile,
        "window_s": args.window_s,
        "question": args.question,
        "fallback_action": args.fallback,
        "max_thinking_tokens": args.max_thinking_tokens,
        "max_thinking_s": args.max_thinking_s,
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
    if args.actions is not None:
        values["actions"] = split_list(args.actions)
    return values


def _run(args: argparse.Namespace) -> dict[str, Any]:
    values = _values(args)
    # Everything is checked before the model loads: settings, request, and the input itself.
    checked = build_config(values)
    check_request(checked.reasoner, args.question, split_list(args.choices))
    source = args.video if args.video is not None else args.images
    frames = _video_frames(source) if args.video is not None else _image_frames(source, args.fps)
    first = next(frames, None)  # opens the video or lists the folder, and reads one frame
    if first is None:
        raise InputError(f"no frames could be read from {source}")
    config, backend = load_configured(values)
    try:
        reasoner = Reasoner(backend, config.reasoner)
        question, choices = reasoner.validate_request(args.question, split_list(args.choices))
        window = FrameWindow(source.name, config.window)
        read = _fill(
            window, itertools.chain([first], frames), source.stem, config.max_input_pixels
        )
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
    if not path.is_file():
        what = "does not exist" if not path.exists() else "is not a file"
        raise InputError(f"--video {path} {what}")
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
        what = "does not exist" if not folder.exists() else "is not a folder"
        raise InputError(f"--images {folder} {what}")
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
