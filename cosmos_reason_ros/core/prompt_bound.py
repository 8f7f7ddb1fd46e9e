"""The longest prompt a configuration can produce, in tokens, from the configuration alone.

Used to size what must hold it before anything loads: the static KV cache of compiled
decoding (transformers) and ``max_num_tokens`` (TensorRT-LLM, which refuses longer prompts).

- visual tokens: every camera's window full, each frame at the window's pixel budget
  (``WindowConfig.max_video_tokens``: Qwen-VL merges 2x2 patches of 14 px (Qwen2.5-VL) or
  16 px (Qwen3-VL) over pairs of frames, one token per 28x28 or 32x32 pixels per two frames).
  The Hugging Face video processors enlarge frames below 128 such tokens (their default
  ``min_pixels``), so a pair counts at least 128. Qwen3-VL adds a timestamp and vision markers
  to every pair of frames (counted as 12 tokens). Cosmos3-Edge's temporal patch is one frame:
  every frame costs its own tokens, and its processor wraps every frame in a timestamp
  (``<12.5 seconds>``) and vision markers (counted as 18 tokens).
- text tokens: the UTF-8 bytes of the system and user text with the configured question, goal
  and actions (a byte-level BPE never spends more than one token per byte), one token per
  character of the longest question and goal a request may bring beyond those, and 64 tokens
  of chat template markup plus 4 per camera. Text of several bytes per character (CJK) may
  cost more than one token per character: such a prompt past the bound is refused before
  prefill (``check_context``; TensorRT-LLM: its ``max_num_tokens``) with a clear message.
- generated tokens: ``max_new_tokens`` (a two-phase answer prefills the thinking again).

A request's own prompt is checked where a backend tokenizes it, before any prefill:
``check_context`` refuses a prompt that, with ``max_new_tokens``, does not fit in the model's
context (``context_tokens`` of its config: ``max_position_embeddings``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cosmos_reason_ros.core.errors import InputError
from cosmos_reason_ros.core.prompts import profile_for, render_text
from cosmos_reason_ros.core.reasoner import ReasonerConfig
from cosmos_reason_ros.core.types import Clip
from cosmos_reason_ros.core.window import WindowConfig

__all__ = ["PromptBound", "check_context", "context_tokens", "prompt_bound"]

MIN_TOKENS_PER_FRAME_PAIR = 128
QWEN3_PAIR_MARKUP_TOKENS = 12
EDGE_FRAME_MARKUP_TOKENS = 18
TEMPLATE_TOKENS = 64
TEMPLATE_TOKENS_PER_CAMERA = 4


@dataclass(frozen=True)
class PromptBound:
    """The longest prompt (in tokens) a configuration can make TensorRT-LLM prefill at once.

    Attributes:
        cameras: Cameras, one clip each.
        frames: Frames per clip (a full window).
        frame_pixels: Most pixels of one frame.
        visual_tokens: Visual tokens of all clips together.
        text_tokens: Text tokens, chat markup included.
        generated_tokens: Generated tokens the answer phase prefills again.
    """

    cameras: int
    frames: int
    frame_pixels: int
    visual_tokens: int
    text_tokens: int
    generated_tokens: int

    @property
    def total(self) -> int:
        return self.visual_tokens + self.text_tokens + self.generated_tokens

    def describe(self) -> str:
        return (
            f"{self.cameras} camera(s) x {self.frames} frames of <= {self.frame_pixels} px: "
            f"{self.visual_tokens} visual + {self.text_tokens} text tokens, + "
            f"{self.generated_tokens} generated tokens the answer phase prefills again"
        )


def prompt_bound(
    window: WindowConfig,
    reasoner: ReasonerConfig,
    model_type: str,
    cameras: Sequence[str],
) -> PromptBound:
    """The worst-case prompt of ``cameras`` through ``window`` (see the module docstring).

    Args:
        window: The frame window of every camera.
        reasoner: What is asked (question, actions, profile, limits, ``max_new_tokens``).
        model_type: The checkpoint's architecture (``qwen2_5_vl``, ``qwen3_vl``, ``cosmos3_omni``,
            ``cosmos3_edge``).
        cameras: The camera names (topics), which label the clips in the prompt.
    """
    kind = model_type.lower().replace("-", "_")
    pairs = math.ceil(window.capacity / 2)
    if kind.startswith("cosmos3_edge"):  # one frame per temporal patch, markup on each frame
        frame_tokens = window.frame_pixel_budget // window.patch_multiple**2
        per_clip = window.capacity * (frame_tokens + EDGE_FRAME_MARKUP_TOKENS)
    else:  # Qwen-VL (Cosmos3-Nano / Super included): frames in pairs
        visual = max(window.max_video_tokens, pairs * MIN_TOKENS_PER_FRAME_PAIR)
        qwen3 = kind.startswith(("qwen3", "cosmos3"))
        per_clip = visual + (pairs * QWEN3_PAIR_MARKUP_TOKENS if qwen3 else 0)
    clips = tuple(Clip(c, "", (), (), window.sample_fps) for c in cameras)
    profile = profile_for(reasoner.profile, model_type)
    goal = reasoner.goal or "g"  # a request may bring a goal: its wording counts too
    messages = profile.build_messages(reasoner.question, clips, reasoner.action_space, goal=goal)
    text_bytes = len(render_text(messages).encode("utf-8"))
    longer_question = max(0, reasoner.max_question_chars - len(reasoner.question))
    longer_goal = max(0, reasoner.max_question_chars - len(goal))
    markup = TEMPLATE_TOKENS + TEMPLATE_TOKENS_PER_CAMERA * len(clips)
    text = text_bytes + longer_question + longer_goal + markup
    return PromptBound(
        cameras=len(clips),
        frames=window.clip_frames,
        frame_pixels=window.frame_pixel_budget,
        visual_tokens=per_clip * len(clips),
        text_tokens=text,
        generated_tokens=reasoner.sampling.max_new_tokens,
    )


def context_tokens(model_config: Any) -> int | None:
    """The context of a model, in tokens: ``max_position_embeddings`` of a Hugging Face config
    (its text model's, for a vision-language model), or None where it names none.

    Args:
        model_config: A ``transformers`` config object (read by attribute; no import here).
    """
    get_text_config = getattr(model_config, "get_text_config", None)
    for config in (get_text_config() if callable(get_text_config) else None, model_config):
        value = getattr(config, "max_position_embeddings", None)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def check_context(prompt_tokens: int, max_new_tokens: int, context: int | None) -> None:
    """Refuse a prompt that, with the tokens it may generate, does not fit in the context.

    Called where a backend has tokenized the prompt and before it prefills: a prompt past the
    context would only fail (or degrade) after a prefill that nothing can interrupt.

    Args:
        prompt_tokens: The prompt's tokens, visual tokens included.
        max_new_tokens: Tokens the answer may generate.
        context: The model's context (``context_tokens``); None: unknown, nothing is checked.

    Raises:
        InputError: The prompt and ``max_new_tokens`` need more than ``context`` tokens.
    """
    if context is None or prompt_tokens + max_new_tokens <= context:
        return
    raise InputError(
        f"the prompt is {prompt_tokens} tokens, which with max_new_tokens={max_new_tokens} "
        f"is past the model's context of {context} tokens (max_position_embeddings): ask a "
        "shorter question or goal, or lower max_new_tokens, the cameras, window_s or the "
        "frame size"
    )
