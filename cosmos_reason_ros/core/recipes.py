"""Each Cosmos-Reason family's upstream recipe, defined once: sampling with and without
reasoning, generation length, frame rate and the video pixel budget.

Sources (docs/fidelity.md has the table and where we differ on purpose):

- Reason1 (Qwen2.5-VL, 28 px per visual token): the model card's vLLM example (temperature 0.6,
  top_p 0.95, repetition_penalty 1.05, max_tokens 4096, fps 4) and ``total_pixels`` 8192·28²
  (``cosmos-reason1`` ``configs/vision_config.yaml``). No ``top_k``, no seed.
- Reason2 (Qwen3-VL, 32 px per visual token): ``cosmos_reason2_utils`` ``get_defaults`` after
  commit f180ea7 (reasoning: temperature 0.6, top_p 0.95, top_k 20, repetition 1.0, presence
  0.0, seed 1234; without: temperature 0.7, top_p 0.8, top_k 20, repetition 1.0, presence 1.5,
  seed 3407; max_tokens 4096), fps 4 (``scripts/inference_sample.py``).
- The per-frame pixel cap is qwen-vl-utils' ``fetch_video``: ``max(min(VIDEO_MAX_PIXELS,
  total_pixels / frames * 2), int(VIDEO_MIN_PIXELS * 1.05))`` with VIDEO_MAX = 768 and
  VIDEO_MIN = 128 tokens of the family's factor (qwen-vl-utils 0.0.11 for 28 px, 0.0.14 with
  ``image_patch_size=16`` for 32 px). Frames count in pairs: two frames share one token.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from cosmos_reason_ros.core.generation import SamplingSettings

__all__ = [
    "REASON1_RECIPE",
    "REASON2_RECIPE",
    "FamilyRecipe",
    "recipe_for",
    "video_frame_pixels",
]

VIDEO_MIN_TOKENS = 128
"""qwen-vl-utils ``VIDEO_MIN_PIXELS`` (0.0.11) / ``VIDEO_MIN_TOKEN_NUM`` (0.0.14)."""
VIDEO_MAX_TOKENS = 768
"""qwen-vl-utils ``VIDEO_MAX_PIXELS`` (0.0.11) / ``VIDEO_MAX_TOKEN_NUM`` (0.0.14)."""
FRAME_FACTOR = 2
"""Frames per temporal patch: qwen-vl-utils ``FRAME_FACTOR``."""


@dataclass(frozen=True)
class FamilyRecipe:
    """One family's upstream settings.

    Attributes:
        name: The prompt profile it belongs to: ``reason1`` or ``reason2``.
        patch_multiple: Pixels per visual token side (patch size x spatial merge).
        sampling_reasoning: Sampling when the model thinks first.
        sampling_plain: Sampling when it answers at once (thinking budget 0).
        fps: Frames per second of camera time given to the model.
        total_tokens: Visual tokens of one clip (``total_pixels`` / ``patch_multiple``²).
    """

    name: str
    patch_multiple: int
    sampling_reasoning: SamplingSettings
    sampling_plain: SamplingSettings
    fps: float = 4.0
    total_tokens: int = 8192

    def sampling(self, reasoning: bool) -> SamplingSettings:
        """The sampling settings of the mode: thinking first, or answering at once."""
        return self.sampling_reasoning if reasoning else self.sampling_plain

    @property
    def total_pixels(self) -> int:
        """Pixel budget of one clip, all frames (qwen-vl-utils ``total_pixels``)."""
        return self.total_tokens * self.patch_multiple**2

    @property
    def frame_max_pixels(self) -> int:
        """The largest frame qwen-vl-utils gives the model (``VIDEO_MAX_PIXELS``)."""
        return VIDEO_MAX_TOKENS * self.patch_multiple**2

    def parameter_defaults(self, reasoning: bool) -> dict[str, int | float]:
        """The values node parameters take when set to -1 ("the family's"), by name.

        A seed of -2 stands for "no fixed seed" (Reason1 publishes none).
        """
        s = self.sampling(reasoning)
        return {
            "temperature": s.temperature,
            "top_p": s.top_p,
            "top_k": s.top_k,
            "repetition_penalty": s.repetition_penalty,
            "presence_penalty": s.presence_penalty,
            "max_new_tokens": s.max_new_tokens,
            "seed": -2 if s.seed is None else s.seed,
            "sample_fps": self.fps,
            "max_total_pixels": self.total_pixels,
            "max_frame_pixels": self.frame_max_pixels,
        }


_REASON1_SAMPLING = SamplingSettings(
    temperature=0.6, top_p=0.95, top_k=0, repetition_penalty=1.05, max_new_tokens=4096
)
REASON1_RECIPE = FamilyRecipe(
    name="reason1",
    patch_multiple=28,
    # Reason1 publishes one recipe; answering at once uses it too.
    sampling_reasoning=_REASON1_SAMPLING,
    sampling_plain=_REASON1_SAMPLING,
)
REASON2_RECIPE = FamilyRecipe(
    name="reason2",
    patch_multiple=32,
    sampling_reasoning=SamplingSettings(
        temperature=0.6,
        top_p=0.95,
        top_k=20,
        repetition_penalty=1.0,
        presence_penalty=0.0,
        max_new_tokens=4096,
        seed=1234,
    ),
    sampling_plain=SamplingSettings(
        temperature=0.7,
        top_p=0.8,
        top_k=20,
        repetition_penalty=1.0,
        presence_penalty=1.5,
        max_new_tokens=4096,
        seed=3407,
    ),
)

_BY_NAME = {r.name: r for r in (REASON1_RECIPE, REASON2_RECIPE)}


def recipe_for(profile: str) -> FamilyRecipe:
    """The recipe of prompt profile ``profile`` (``reason1`` or ``reason2``).

    Raises:
        KeyError: ``profile`` is not a resolved profile name.
    """
    return _BY_NAME[profile]


def video_frame_pixels(total_pixels: int, frames: int, patch_multiple: int) -> int:
    """qwen-vl-utils' per-frame pixel cap of a clip of ``frames`` frames.

    ``max(min(VIDEO_MAX, total_pixels / nframes * FRAME_FACTOR), int(VIDEO_MIN * 1.05))`` where
    ``nframes`` is ``frames`` rounded up to whole pairs (qwen-vl-utils pads a frame list so).

    Args:
        total_pixels: Pixel budget of the whole clip (``total_pixels``).
        frames: Frames in the clip.
        patch_multiple: Pixels per visual token side (28 or 32).
    """
    nframes = max(FRAME_FACTOR, math.ceil(frames / FRAME_FACTOR) * FRAME_FACTOR)
    area = patch_multiple**2
    cap = min(VIDEO_MAX_TOKENS * area, total_pixels / nframes * FRAME_FACTOR)
    return int(max(cap, int(VIDEO_MIN_TOKENS * area * 1.05)))
