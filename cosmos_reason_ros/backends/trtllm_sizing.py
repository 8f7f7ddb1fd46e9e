"""``max_num_tokens`` for TensorRT-LLM, sized from the configuration before anything loads.

Without chunked prefill, TensorRT-LLM's PyTorch backend refuses a prompt longer than
``max_num_tokens`` when ``generate_async`` is called (``tensorrt_llm/llmapi/llm.py``,
``_check_arguments``: "The sum of prompt length (…), query length (…) should not exceed
max_num_tokens (…)"); the default is 8192. A constrained request's answer phase prefills the
prompt again with the thinking appended, so what must fit is the longest prompt the configured
cameras and window can produce plus the tokens generated before the answer.

``prompt_bound`` is that bound, from the configuration alone:

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
- generated tokens: ``max_new_tokens`` (the answer phase's prompt holds the thinking).

``size_for_window`` fills ``max_num_tokens = 0`` with the bound rounded up to 1024 (never below
TensorRT-LLM's 8192), and refuses an explicit value below the bound unless chunked prefill is on.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

from cosmos_reason_ros.backends.config import BackendConfig
from cosmos_reason_ros.core.errors import ConfigError
from cosmos_reason_ros.core.prompts import profile_for, render_text
from cosmos_reason_ros.core.reasoner_config import ReasonerConfig
from cosmos_reason_ros.core.types import Clip
from cosmos_reason_ros.core.window_config import WindowConfig

__all__ = ["PromptBound", "computed_max_num_tokens", "prompt_bound", "size_for_window"]

TENSORRT_LLM_DEFAULT_MAX_NUM_TOKENS = 8192
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


def computed_max_num_tokens(bound: PromptBound) -> int:
    """``bound.total`` rounded up to a multiple of 1024, at least TensorRT-LLM's 8192."""
    return max(TENSORRT_LLM_DEFAULT_MAX_NUM_TOKENS, math.ceil(bound.total / 1024) * 1024)


def size_for_window(
    backend: BackendConfig,
    window: WindowConfig,
    reasoner: ReasonerConfig,
    model_type: str,
    cameras: Sequence[str],
) -> BackendConfig:
    """``backend`` with ``max_num_tokens`` computed (when 0) and checked; other backends as is.

    Raises:
        ConfigError: ``max_num_tokens`` is set below the worst-case prompt and chunked prefill
            is off; the sentence names both parameters and the bound.
    """
    if backend.backend != "tensorrt_llm":
        return backend
    bound = prompt_bound(window, reasoner, model_type, cameras)
    if backend.max_num_tokens == 0:
        return dataclasses.replace(backend, max_num_tokens=computed_max_num_tokens(bound))
    if backend.max_num_tokens < bound.total and not backend.enable_chunked_prefill:
        raise ConfigError(
            f"max_num_tokens {backend.max_num_tokens} is below the worst-case prompt of this "
            f"configuration, {bound.total} tokens ({bound.describe()}); raise max_num_tokens "
            f"to at least {bound.total}, set it to 0 to have it computed, or set "
            "enable_chunked_prefill"
        )
    return backend
