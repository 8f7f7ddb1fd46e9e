"""Upstream's Cosmos-Reason1 benchmark as data: its items, prompt, answer rule, settings and
video preparation, reproduced exactly (``cosmos-reason-benchmark`` runs them: tools.benchmark).

Source: ``nvidia-cosmos/cosmos-reason1`` @ 3e7f1cb, ``examples/benchmark``:

- items (``utils/input.py`` ``InputStructure.from_dict``): ``question``, ``index2ans`` (option
  letter to text, in file order), ``answer`` (else ``correct_answer``); the clip is ``video``,
  the dataset ``datasource``;
- prompt (``get_prompt``, ``prepare_single_model_input``): system "Answer the questions.", then
  the video (with ``fps``) before the text: the question, one ``(A) text`` line per option, the
  letter instruction and, answering with reasoning, the think/answer format line;
- answer rule (``utils/output.py``): reasoning, the first capital letter inside the first
  ``<answer>…</answer>``; letter, the first capital letter anywhere; correct when it equals the
  gold letter ignoring case;
- settings (``configs/evaluate.yaml``, ``evaluate.py`` ``run_model``): fps 4, max_tokens 1024,
  temperature 0.6, top_p 0.95, repetition_penalty 1.0, presence_penalty 0, seed 1; letter mode
  greedy (temperature 0, top_k 1, 10 tokens); up to 10 retries of empty answers, retry k with
  ``max_tokens + 256 k`` and ``min(temperature + 0.05 k, 0.9)``;
- video: qwen-vl-utils ``fetch_video`` with only ``fps`` set (frames picked by
  ``smart_nframes`` and ``linspace``, resized bicubic by ``smart_resize`` within its default
  budget); 0.0.11 (28 px) for Reason1, 0.0.14 with the 16 px patch (32 px) for Reason2.

Cosmos 3 models (profile ``cosmos3``) get the same items, options, letter instruction,
settings and video, asked as the Cosmos 3 reasoner prompt guide asks (NVIDIA/cosmos
``cookbooks/cosmos3/reasoner/reasoner_prompt_guide.md`` @ 3d56c91): its system prompt ("You are
a helpful assistant.") and, answering with reasoning, its instruction in place of Reason1's
``<answer>`` format line; the answer is read after ``</think>`` (inside ``<answer>`` when the
model adds one), the first capital letter that stands alone (a guide-style answer is prose, so
"The answer is C" must give C, not Reason1's T).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from cosmos_reason_ros.core.generation import SamplingSettings
from cosmos_reason_ros.core.prompts import COSMOS3_REASONING_PROMPT, COSMOS3_SYSTEM_PROMPT
from cosmos_reason_ros.core.recipes import (
    FRAME_FACTOR,
    VIDEO_MAX_TOKENS,
    VIDEO_MIN_TOKENS,
    default_total_pixels,
    smart_nframes,
    smart_resize,
)
from cosmos_reason_ros.core.types import Clip

__all__ = [
    "ANSWER_TYPES",
    "SYSTEM_PROMPT",
    "BenchmarkError",
    "BenchmarkSettings",
    "Item",
    "letter_of",
    "load_items",
    "load_video",
    "prompt_text",
    "system_prompt",
]

ANSWER_TYPES = ("reasoning", "letter")
SYSTEM_PROMPT = "Answer the questions."
LETTER_LINE = "\nAnswer with the option's letter from the given choices directly."
REASONING_LINE = (
    "\nPlease answer the question in the following format: <think> your reasoning </think> "
    "<answer> your single letter answer </answer>."
)
DEFAULT_DATASOURCE = "default"
_MAX_REPORTED = 10


class BenchmarkError(Exception):
    """Bad benchmark input or settings; the message says where and what."""


@dataclass(frozen=True)
class Item:
    """One question of the benchmark.

    Attributes:
        index: Position among the items (0-based).
        line: Line of the items file it came from (1-based).
        question: The question.
        index2ans: Option letter to option text, in the file's order.
        answer: The correct option letter.
        video: The clip's path (relative paths resolved against the items file's folder).
        datasource: The dataset it belongs to.
    """

    index: int
    line: int
    question: str
    index2ans: Mapping[str, str]
    answer: str
    video: Path
    datasource: str = DEFAULT_DATASOURCE


def prompt_text(
    question: str, index2ans: Mapping[str, str], answer_type: str, family: str = ""
) -> str:
    """The user text upstream builds (``get_prompt``), byte for byte; for ``family``
    ``cosmos3``, with the Cosmos 3 prompt guide's reasoning instruction instead."""
    text = question + "\n"
    text += "\n".join(f"({key}) {choice}" for key, choice in index2ans.items())
    text += LETTER_LINE
    if answer_type == "reasoning":
        text += "\n\n" + COSMOS3_REASONING_PROMPT if family == "cosmos3" else REASONING_LINE
    return text


def system_prompt(family: str = "") -> str:
    """The benchmark's system prompt: upstream's, or the Cosmos 3 guide's for ``cosmos3``."""
    return COSMOS3_SYSTEM_PROMPT if family == "cosmos3" else SYSTEM_PROMPT


_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
_THINK = re.compile(r"<think>(.*?)</think>", re.DOTALL)
_LETTER = re.compile(r"[A-Z]")


def letter_of(text: str, answer_type: str, family: str = "") -> tuple[str, str]:
    """(answer letter, reasoning) by upstream's rule (``cosmos3``: the module docstring's);
    "" when none is found."""
    if family == "cosmos3" and answer_type == "reasoning":
        return _cosmos3_letter(text)
    if answer_type == "letter":
        found = _LETTER.search(text)
        return (found.group(0) if found else ""), ""
    answer = ""
    tagged = _ANSWER.search(text)
    if tagged:
        found = _LETTER.search(tagged.group(1))
        answer = found.group(0) if found else ""
    thought = _THINK.search(text)
    return answer, (thought.group(1).strip() if thought else "")


_LONE_LETTER = re.compile(r"(?<![A-Za-z])([A-Z])(?![A-Za-z])")


def _cosmos3_letter(text: str) -> tuple[str, str]:
    """The lone capital letter of the answer after ``</think>`` (inside ``<answer>`` if any)."""
    thinking, found, rest = text.partition("</think>")
    answer = rest if found else text
    tagged = _ANSWER.search(answer)
    if tagged:
        answer = tagged.group(1)
    letter = _LONE_LETTER.search(answer)
    thought = thinking.replace("<think>", "", 1).strip() if found else ""
    return (letter.group(1) if letter else ""), thought


@dataclass(frozen=True)
class BenchmarkSettings:
    """Upstream's benchmark settings; any of them may be overridden.

    Raises:
        BenchmarkError: A value is out of range.
    """

    answer_type: str = "reasoning"
    fps: float = 4.0
    max_tokens: int = 1024
    temperature: float = 0.6
    top_p: float = 0.95
    repetition_penalty: float = 1.0
    presence_penalty: float = 0.0
    seed: int = 1
    max_retries: int = 10

    def __post_init__(self) -> None:
        checks = (
            (self.answer_type in ANSWER_TYPES, f"one of {', '.join(ANSWER_TYPES)}"),
            (0 < self.fps <= 60, "in (0, 60]"),
            (1 <= self.max_tokens <= 1_000_000, "in [1, 1000000]"),
            (0 <= self.temperature <= 2, "in [0, 2]"),
            (0 < self.top_p <= 1, "in (0, 1]"),
            (0 < self.repetition_penalty <= 2, "in (0, 2]"),
            (-2 <= self.presence_penalty <= 2, "in [-2, 2]"),
            (0 <= self.seed < 2**63, "in [0, 2**63)"),
            (0 <= self.max_retries <= 100, "in [0, 100]"),
        )
        names = [f.name for f in fields(self)]
        for name, (ok, bounds) in zip(names, checks, strict=True):
            if not ok:
                raise BenchmarkError(f"{name} must be {bounds}, got {getattr(self, name)!r}")

    def sampling(self, retry: int = 0) -> SamplingSettings:
        """Sampling of attempt ``retry`` (0: the first). Upstream mutates one SamplingParams
        object for its retries: only ``max_tokens`` and ``temperature`` change, from the
        configured values, so letter mode keeps ``top_k`` 1 but samples on retries."""
        if self.answer_type == "letter":
            base = SamplingSettings(
                temperature=0.0, top_p=1.0, top_k=1, repetition_penalty=1.0, max_new_tokens=10
            )
        else:
            base = SamplingSettings(
                temperature=self.temperature,
                top_p=self.top_p,
                top_k=0,
                repetition_penalty=self.repetition_penalty,
                presence_penalty=self.presence_penalty,
                max_new_tokens=self.max_tokens,
            )
        temperature, max_tokens = base.temperature, base.max_new_tokens
        if retry > 0:
            max_tokens = self.max_tokens + 256 * retry
            temperature = min(self.temperature + 0.05 * retry, 0.9)
        return SamplingSettings(
            temperature=temperature,
            top_p=base.top_p,
            top_k=base.top_k,
            repetition_penalty=base.repetition_penalty,
            presence_penalty=base.presence_penalty,
            max_new_tokens=max_tokens,
            seed=self.seed,
        )


def load_items(path: str | Path) -> list[Item]:
    """The items of a JSON-lines file, every one checked (videos must exist and open).

    Raises:
        BenchmarkError: The file cannot be read, holds no item, or items are malformed (up to
            ten problems are listed, each as ``FILE:LINE: what``).
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise BenchmarkError(f"cannot read items {path}: {err}") from None
    items: list[Item] = []
    problems: list[str] = []
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            items.append(_item(json.loads(raw), len(items), number, path.parent))
        except (ValueError, BenchmarkError) as err:  # json.JSONDecodeError is a ValueError
            problems.append(f"{path}:{number}: {err}")
    if problems:
        more = len(problems) - _MAX_REPORTED
        tail = [f"... and {more} more"] if more > 0 else []
        raise BenchmarkError("bad items:\n" + "\n".join(problems[:_MAX_REPORTED] + tail))
    if not items:
        raise BenchmarkError(f"no items in {path}")
    return items


def _item(data: Any, index: int, line: int, folder: Path) -> Item:
    if not isinstance(data, dict):
        raise BenchmarkError(f"an item must be a JSON object, got {type(data).__name__}")
    question = data.get("question")
    if not isinstance(question, str) or not question.strip():
        raise BenchmarkError("'question' must be a non-empty string")
    options = data.get("index2ans")
    if (
        not isinstance(options, dict)
        or not options
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in options.items())
    ):
        raise BenchmarkError("'index2ans' must be a non-empty object of option letter: text")
    answer = data.get("answer", data.get("correct_answer"))
    if not isinstance(answer, str) or not answer.strip():
        raise BenchmarkError("'answer' (or 'correct_answer') must be the correct option letter")
    if answer.strip().upper() not in {k.upper() for k in options}:
        raise BenchmarkError(f"'answer' {answer!r} is not one of the options {list(options)}")
    datasource = data.get("datasource", DEFAULT_DATASOURCE)
    if not isinstance(datasource, str) or not datasource.strip():
        raise BenchmarkError("'datasource' must be a non-empty string when given")
    video = data.get("video")
    if not isinstance(video, str) or not video.strip():
        raise BenchmarkError("'video' must be the clip's path")
    clip = Path(video) if Path(video).is_absolute() else folder / video
    _check_video(clip)
    return Item(index, line, question, dict(options), answer, clip, datasource)


def _check_video(path: Path) -> None:
    import cv2

    if not path.is_file():
        raise BenchmarkError(f"video {path} does not exist")
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened() or not capture.grab():
            raise BenchmarkError(f"video {path} cannot be read (not a video OpenCV can decode)")
        if float(capture.get(cv2.CAP_PROP_FPS)) <= 0:
            raise BenchmarkError(f"video {path} has no frame rate")
    finally:
        capture.release()


def load_video(path: Path, fps: float, patch_multiple: int) -> Clip:
    """The clip as qwen-vl-utils ``fetch_video`` gives it for ``{"video": path, "fps": fps}``.

    Frames ``round(linspace(0, total - 1, smart_nframes))``, resized bicubic (antialiased) to
    ``smart_resize`` within ``[128, 768]`` tokens per frame and the default total budget, at
    the rate ``nframes / total * video_fps``.

    Raises:
        BenchmarkError: The video cannot be read or is too short.
    """
    import cv2
    import torch
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms import functional as tvf

    capture = cv2.VideoCapture(str(path))
    try:
        video_fps = float(capture.get(cv2.CAP_PROP_FPS))
        total = 0
        while capture.grab():
            total += 1
    finally:
        capture.release()
    if total == 0 or video_fps <= 0:
        raise BenchmarkError(f"video {path} cannot be read")
    try:
        nframes = smart_nframes(total, video_fps, fps)
    except ValueError as err:
        raise BenchmarkError(f"video {path}: {err}") from None
    wanted = torch.linspace(0, total - 1, nframes).round().long().tolist()
    frames = _frames_at(path, wanted)
    video = torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2)
    area = patch_multiple * patch_multiple
    min_pixels = VIDEO_MIN_TOKENS * area
    budget = default_total_pixels(patch_multiple) / nframes * FRAME_FACTOR
    max_pixels = max(min(VIDEO_MAX_TOKENS * area, budget), int(min_pixels * 1.05))
    height, width = video.shape[2:]
    size = smart_resize(height, width, patch_multiple, min_pixels, max_pixels)
    resized = tvf.resize(video, list(size), InterpolationMode.BICUBIC, antialias=True)
    sample_fps = nframes / max(total, 1e-6) * video_fps
    out = tuple(np.ascontiguousarray(f) for f in resized.permute(0, 2, 3, 1).numpy())
    stamps = tuple(round(i * 1e9 / video_fps) for i in wanted)
    return Clip(str(path), "", out, stamps, sample_fps)


def _frames_at(path: Path, wanted: list[int]) -> list[Any]:
    """RGB frames of ``path`` at the indices ``wanted`` (ascending, repeats allowed)."""
    import cv2

    capture = cv2.VideoCapture(str(path))
    found: dict[int, Any] = {}
    try:
        index = 0
        for target in sorted(set(wanted)):
            while index < target and capture.grab():
                index += 1
            ok, frame = capture.read()
            if not ok:
                raise BenchmarkError(f"video {path}: frame {target} cannot be decoded")
            found[target] = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            index += 1
    finally:
        capture.release()
    return [found[i] for i in wanted]
