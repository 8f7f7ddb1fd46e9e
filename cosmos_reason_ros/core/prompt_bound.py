"""The longest prompt a configuration can produce, in tokens, from the configuration alone.

Used to size what must hold it before anything loads: the static KV cache of compiled
decoding (transformers) and ``max_num_tokens`` (TensorRT-LLM, which refuses longer prompts).

- visual tokens: every camera's window full, each frame at the window's pixel budget
  (``WindowConfig.max_video_tokens``: Qwen-VL merges 2x2 patches of 14 px (Qwen2.5-VL) or
  16 px (Qwen3-VL) over pairs of frames, one token per 28x28 or 32x32 pixels per two frames).
  The Hugging Face video processors enlarge frames below 128 such tokens (their default
  ``min_pixels``), so a pair counts at least 128. Qwen3-VL adds a timestamp and vision markers
  to every pair of frames (counted as 12 tokens).
- text tokens: the UTF-8 bytes of the system and user text with the configured question and
  actions (a byte-level BPE never spends more than one token per byte), one token per
  character of the longest question a request may bring beyond that, and 64 tokens of chat
  template markup plus 4 per camera.
- generated tokens: ``max_new_tokens`` (a two-phase answer prefills the thinking again).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from cosmos_reason_ros.core.prompts import profile_for, render_text
from cosmos_reason_ros.core.reasoner import ReasonerConfig
from cosmos_reason_ros.core.types import Clip
from cosmos_reason_ros.core.window import WindowConfig

__all__ = ["PromptBound", "prompt_bound"]

MIN_TOKENS_PER_FRAME_PAIR = 128
QWEN3_PAIR_MARKUP_TOKENS = 12
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
        model_type: The checkpoint's architecture (``qwen2_5_vl``, ``qwen3_vl``).
        cameras: The camera names (topics), which label the clips in the prompt.
    """
    qwen3 = model_type.lower().replace("-", "_").startswith("qwen3")
    pairs = math.ceil(window.capacity / 2)
    visual = max(window.max_video_tokens, pairs * MIN_TOKENS_PER_FRAME_PAIR)
    per_clip = visual + (pairs * QWEN3_PAIR_MARKUP_TOKENS if qwen3 else 0)
    clips = tuple(Clip(c, "", (), (), window.sample_fps) for c in cameras)
    profile = profile_for(reasoner.profile, model_type)
    messages = profile.build_messages(reasoner.question, clips, reasoner.action_space)
    text_bytes = len(render_text(messages).encode("utf-8"))
    longer_question = max(0, reasoner.max_question_chars - len(reasoner.question))
    text = text_bytes + longer_question + TEMPLATE_TOKENS + TEMPLATE_TOKENS_PER_CAMERA * len(clips)
    return PromptBound(
        cameras=len(clips),
        frames=window.capacity,
        frame_pixels=window.frame_pixel_budget,
        visual_tokens=per_clip * len(clips),
        text_tokens=text,
        generated_tokens=reasoner.sampling.max_new_tokens,
    )
