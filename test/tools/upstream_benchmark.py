"""Upstream's own code, for tests to compare ours against: what upstream's benchmark does.

Copied from (Apache-2.0; logic unchanged, docstrings and logging left out, lines wrapped to
this repository's length, an ``InputStructure`` replaced by its two fields):

- ``nvidia-cosmos/cosmos-reason1`` @ 3e7f1cb11128bb424e2a8e85a4aafc7ee9b8bb34,
  ``examples/benchmark/tools/eval/utils/input.py`` ``get_prompt`` (lines 145-186) and the
  video insertion of ``prepare_single_model_input`` (lines 423-509);
  ``utils/output.py`` ``parse_reasoning_response`` / ``parse_letter_response`` (77-141);
  ``evaluate.py`` ``run_model``'s sampling parameters and retry adjustment (329-489);
- ``qwen-vl-utils`` 0.0.11 (PyPI wheel) ``vision_process.py``: ``smart_resize``,
  ``smart_nframes`` and ``fetch_video``'s pixel cap (lines 26-186, 393-447).
"""

from __future__ import annotations

import math
import re
from typing import Any

# -- cosmos-reason1 examples/benchmark -----------------------------------------------------


def get_prompt(question: str, choices: dict[str, str], answer_type: str) -> list[dict[str, Any]]:
    system_prompt = "Answer the questions."

    # Format question with choices
    prompt_text = question + "\n"
    prompt_text += "\n".join([f"({i}) {choice}" for i, choice in choices.items()])
    prompt_text += "\nAnswer with the option's letter from the given choices directly."

    # Add reasoning instructions if required
    if answer_type == "reasoning":
        prompt_text += (
            "\nPlease answer the question in the following format: <think> your reasoning "
            "</think> <answer> your single letter answer </answer>."
        )

    # Structure the prompt as a chat history
    prompt: list[dict[str, Any]] = [
        {
            "role": "system",
            "content": system_prompt,
        },
        {
            "role": "user",
            "content": prompt_text,
        },
    ]
    return prompt


def insert_video(prompt: list[dict[str, Any]], video_cache_path: str, fps: float) -> None:
    """``prepare_single_model_input``: the video item goes before the text."""
    if len(prompt) > 1 and prompt[1]["role"] == "user" and isinstance(prompt[1]["content"], str):
        prompt[1]["content"] = [
            {"type": "video", "video": video_cache_path, "fps": fps},
            {"type": "text", "text": prompt[1]["content"]},
        ]


ANSWER_PATTERN = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
REASONING_PATTERN = re.compile(r"<think>(.*?)</think>", re.DOTALL)
SINGLE_LETTER_PATTERN = re.compile(r"[A-Z]")


def parse_reasoning_response(output_text: str) -> tuple[str, str]:
    answer = ""
    reasoning = ""

    # Find the <answer> tag content
    answer_match = ANSWER_PATTERN.search(output_text)
    if answer_match:
        # Look for a single uppercase letter within the extracted answer content
        letter_match = SINGLE_LETTER_PATTERN.search(answer_match.group(1))
        if letter_match:
            answer = letter_match.group(0)

    # Find the <think> tag content
    reasoning_match = REASONING_PATTERN.search(output_text)
    if reasoning_match:
        reasoning = reasoning_match.group(1).strip()

    return answer, reasoning


def parse_letter_response(output_text: str) -> tuple[str, str]:
    answer = ""
    reasoning = ""  # This parser does not extract reasoning

    # Look for the first single uppercase letter in the text
    letter_match = SINGLE_LETTER_PATTERN.search(output_text)
    if letter_match:
        answer = letter_match.group(0)

    return answer, reasoning


def sampling_params(  # noqa: PLR0917
    answer_type: str,
    retry_count: int | None = None,
    max_tokens: int = 1024,
    temperature: float = 0.6,
    repetition_penalty: float = 1.0,
    presence_penalty: float = 0.0,
    seed: int = 1,
) -> dict[str, Any]:
    """``run_model``'s ``SamplingParams`` (as a dict; vLLM's defaults: top_p 1, top_k off),
    after the in-place changes of retry ``retry_count`` (0-based) when given."""
    if answer_type == "letter":
        sampling = {"temperature": 0.0, "max_tokens": 10, "top_k": 1, "seed": seed}
        sampling |= {"top_p": 1.0, "repetition_penalty": 1.0, "presence_penalty": 0.0}
    else:
        sampling = {
            "max_tokens": max_tokens,
            "temperature": temperature,
            "top_p": 0.95,
            "repetition_penalty": repetition_penalty,
            "presence_penalty": presence_penalty,
            "seed": seed,
            "top_k": 0,
        }
    if retry_count is not None:
        sampling["max_tokens"] = max_tokens + 256 * (retry_count + 1)
        sampling["temperature"] = min(temperature + (0.05 * (retry_count + 1)), 0.9)
    return sampling


# -- qwen-vl-utils 0.0.11 -------------------------------------------------------------------
MAX_RATIO = 200
FRAME_FACTOR = 2
FPS_MIN_FRAMES = 4
FPS_MAX_FRAMES = 768


def round_by_factor(number: float, factor: int) -> int:
    return round(number / factor) * factor


def ceil_by_factor(number: float, factor: int) -> int:
    return math.ceil(number / factor) * factor


def floor_by_factor(number: float, factor: int) -> int:
    return math.floor(number / factor) * factor


def smart_resize(
    height: int, width: int, factor: int, min_pixels: float, max_pixels: float
) -> tuple[int, int]:
    if max(height, width) / min(height, width) > MAX_RATIO:
        raise ValueError(
            f"absolute aspect ratio must be smaller than {MAX_RATIO}, "
            f"got {max(height, width) / min(height, width)}"
        )
    h_bar = max(factor, round_by_factor(height, factor))
    w_bar = max(factor, round_by_factor(width, factor))
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = floor_by_factor(height / beta, factor)
        w_bar = floor_by_factor(width / beta, factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = ceil_by_factor(height * beta, factor)
        w_bar = ceil_by_factor(width * beta, factor)
    return h_bar, w_bar


def smart_nframes(ele: dict[str, Any], total_frames: int, video_fps: float) -> int:
    fps = ele["fps"]
    min_frames = ceil_by_factor(ele.get("min_frames", FPS_MIN_FRAMES), FRAME_FACTOR)
    max_frames = floor_by_factor(
        ele.get("max_frames", min(FPS_MAX_FRAMES, total_frames)), FRAME_FACTOR
    )
    nframes = total_frames / video_fps * fps
    nframes = min(min(max(nframes, min_frames), max_frames), total_frames)  # noqa: PLW3301
    nframes = floor_by_factor(nframes, FRAME_FACTOR)
    if not (FRAME_FACTOR <= nframes and nframes <= total_frames):  # noqa: PLR1716, SIM300
        raise ValueError(
            f"nframes should in interval [{FRAME_FACTOR}, {total_frames}], but got {nframes}."
        )
    return nframes


def frame_pixel_cap(nframes: int, factor: int) -> float:
    """``fetch_video``'s ``max_pixels`` for an item with neither pixel setting (0.0.11 with
    28 px; 0.0.14 computes the same with ``factor = image_patch_size * 2``)."""
    min_pixels = 128 * factor * factor
    total_pixels = int(128000 * factor * factor * 0.9)
    cap = min(768 * factor * factor, total_pixels / nframes * FRAME_FACTOR)
    return max(cap, int(min_pixels * 1.05))
