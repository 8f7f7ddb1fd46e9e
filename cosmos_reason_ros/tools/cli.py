"""``cosmos-reason``: one decision about a video file or a folder of images, printed as JSON.

Frames go through the same ``FrameWindow`` sampling and downscaling as the node, stamped with
the video's frame times (or ``index / sample_fps`` for images), and the last ``window_s``
seconds are asked about. The output is one JSON object whose keys are the NextAction fields
(``action``, ``target``, ``parameters``, ``confidence``, ``valid``, ``reason``, ``decision_id``,
``frame_count``, ...) plus token counts and timings; ``-v`` adds the thinking and the raw text.
With ``--alert NAME="CONDITION"`` (repeatable) the clip is judged for those alert rules instead,
in one model call as the node judges its window: the object holds ``alerts`` (per rule its
``verdict``, true, false or null when the answer held none, and ``evidence``), ``valid``,
``error``, ``confidence`` and the judgment's frames, tokens and timings.
Every option named after a node parameter is that parameter (``config.SPEC_BY_NAME``); one not
given keeps the node's default.

Exit status (``tools.exits``, README "Exit status"): 0 with a decision (``valid`` may still be
false), 1 when the backend fails, 2 on bad input or settings (the message says what is wrong).

Example::

    cosmos-reason --model nvidia/Cosmos-Reason1-7B --video clip.mp4 \\
        --question "What should the robot do next?" --actions move_forward,turn_left,stop
    cosmos-reason --model nvidia/Cosmos-Reason1-7B --video clip.mp4 \\
        --alert fall="Has a person fallen to the floor?" --alert smoke="Is a machine smoking?"
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

from cosmos_reason_ros.config import FALLBACK_RULE, NodeConfig, build_config, load_configured
from cosmos_reason_ros.core.alert_judge import AlertJudge
from cosmos_reason_ros.core.errors import BackendError, ConfigError, InputError
from cosmos_reason_ros.core.ingest import ingest, raw_frame
from cosmos_reason_ros.core.reasoner import Reasoner
from cosmos_reason_ros.core.types import Clip, Image, WindowSnapshot
from cosmos_reason_ros.core.window import FrameWindow
from cosmos_reason_ros.exits import ExitCode, exit_epilog
from cosmos_reason_ros.tools.options import (
    HelpFormatter,
    add_action_options,
    add_alert_option,
    add_param_options,
    add_progress_option,
    alert_values,
    check_model_input,
    in_option_names,
    param_values,
    silence_progress_bars,
    split_list,
    stop_signals_as_interrupt,
)

_LOG = logging.getLogger("cosmos_reason_ros.cli")

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
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
_JUDGMENT_KEYS = (
    "decision_id",
    "stamp_ns",
    "frame_id",
    "window_start_ns",
    "frame_count",
    "model",
    "prompt_tokens",
    "generated_tokens",
    "timings",
)
_MODEL_PARAMS = ("backend", "base_url", "device", "dtype", "quantization", "profile")
_WINDOW_PARAMS = ("sample_fps", "window_s")
_ANSWER_PARAMS = (
    "max_new_tokens",
    "max_thinking_tokens",
    "max_thinking_s",
    "max_target_chars",
    "max_reason_chars",
    "max_parameters",
    "temperature",
    "top_p",
    "top_k",
    "presence_penalty",
    "seed",
    "constrained_decoding",
)
PARAMS = (
    "model",
    "question",
    "actions",
    "fallback_action",
    *_MODEL_PARAMS,
    *_WINDOW_PARAMS,
    *_ANSWER_PARAMS,
)
"""The node parameters this tool has an option for."""
_EXITS = {
    ExitCode.OK: "with a decision (valid may still be false)",
    ExitCode.FAILED: "the backend failed",
    ExitCode.INPUT: None,
    ExitCode.INTERRUPTED: None,
}


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser; its parameter options come from the node's parameter table."""
    p = argparse.ArgumentParser(
        prog="cosmos-reason",
        description="Ask a Cosmos-Reason model what a robot should do next, given a video. "
        "The input is checked before the model loads.",
        epilog=f"Fallback rule: {FALLBACK_RULE}. {exit_epilog(_EXITS)}",
        formatter_class=HelpFormatter,
    )
    add_param_options(p, ["model"], required=["model"])
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--video", type=Path, help="a video file")
    source.add_argument("--images", type=Path, help="a folder of images, sorted by name")
    add_param_options(p, ["question"])
    add_action_options(p)
    p.add_argument(
        "--choices",
        default="",
        help="comma-separated: this question's answer must be one of these (a multiple-choice "
        "question; --actions is the action space of every decision)",
    )
    add_param_options(p, _MODEL_PARAMS)
    add_param_options(p, _WINDOW_PARAMS, aliases={"sample_fps": "--fps"})
    add_param_options(p, _ANSWER_PARAMS)
    p.add_argument(
        "--unconstrained",
        dest="constrained_decoding",
        action="store_const",
        const=False,
        help="the same as --no-constrained-decoding (default: off)",
    )
    add_alert_option(p, "; judges the clip for these rules instead of deciding")
    p.add_argument("-v", "--verbose", action="store_true", help="add thinking and raw text")
    add_progress_option(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the CLI. Returns the exit status (see the module docstring)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad arguments, 0 on --help
        return exc.code if isinstance(exc.code, int) else ExitCode.INPUT
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
        return ExitCode.INTERRUPTED
    except (ConfigError, InputError) as exc:
        print(f"cosmos-reason: error: {in_option_names(str(exc))}", file=sys.stderr)
        return ExitCode.INPUT
    except BackendError as exc:
        print(f"cosmos-reason: backend error: {exc}", file=sys.stderr)
        return ExitCode.FAILED
    print(json.dumps(result, ensure_ascii=False))
    return ExitCode.OK


def _run(args: argparse.Namespace) -> dict[str, Any]:
    values = {**param_values(args, PARAMS), **alert_values(args.alert)}
    # Everything is checked before the model loads: the model folder, settings, request, and
    # the input itself.
    check_model_input(values)
    checked = build_config(values)
    request = checked.reasoner.check_request(args.question or "", split_list(args.choices))
    source = args.video if args.video is not None else args.images
    if args.video is not None:
        frames = _video_frames(source)
    else:
        frames = _image_frames(source, checked.window.sample_fps)
    first = next(frames, None)  # opens the video or lists the folder, and reads one frame
    if first is None:
        raise InputError(f"no frames could be read from {source}")
    if args.no_progress:
        silence_progress_bars()
    config, backend = load_configured(values)
    try:
        reasoner = Reasoner(backend, config.reasoner)  # the request stays as checked above
        window = FrameWindow(source.name, config.window)
        read = _fill(
            window, itertools.chain([first], frames), source.stem, config.max_input_pixels
        )
        clip = window.snapshot()
        if clip is None:
            raise InputError(f"no frames could be read from {source}")
        _LOG.info("frames read=%d kept=%d", read, len(clip.frames))
        if config.alert_rules:
            return _judged(AlertJudge(backend, lambda: config.reasoner), config, clip, args)
        decision = reasoner.decide(WindowSnapshot((clip,)), decision_id=1, request=request)
    finally:
        backend.close()
    full = decision.to_dict()
    keys = _NEXT_ACTION_KEYS + (_VERBOSE_KEYS if args.verbose else ())
    return {key: full[key] for key in keys}


def _judged(
    judge: AlertJudge, config: NodeConfig, clip: Clip, args: argparse.Namespace
) -> dict[str, Any]:
    """The clip judged for every rule of ``config``, as the output object."""
    judgment = judge.judge(WindowSnapshot((clip,)), config.alert_rules, decision_id=1)
    parsed = judgment.parsed
    verdicts = {v.rule: v for v in parsed.verdicts}
    full = judgment.record.to_dict()
    keys = _JUDGMENT_KEYS + (_VERBOSE_KEYS if args.verbose else ())
    return {
        "alerts": {
            r.name: {
                "condition": r.condition,
                "verdict": verdicts[r.name].positive if r.name in verdicts else None,
                "evidence": verdicts[r.name].evidence if r.name in verdicts else "",
            }
            for r in config.alert_rules
        },
        "valid": parsed.valid,
        "error": parsed.error,
        "confidence": full["confidence"],
        **{key: full[key] for key in keys},
    }


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
