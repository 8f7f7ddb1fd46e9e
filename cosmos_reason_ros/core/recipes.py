"""Each Cosmos-Reason family's upstream recipe, defined once: sampling with and without
reasoning, generation length, frame rate and the video pixel budget.

Sources (docs/fidelity.md has the table and where we differ on purpose):

- Reason1 (Qwen2.5-VL, 28 px per visual token): the model card's vLLM example (temperature 0.6,
  top_p 0.95, repetition_penalty 1.05, max_tokens 4096, fps 4) and ``total_pixels`` 8192·28²
  (``cosmos-reason1`` ``configs/vision_config.yaml``). No ``top_k``; the model card sets no seed
  (the repository's ``configs/sampling_params.yaml`` has seed 42 with temperature 0.01, for its
  own evaluation; docs/fidelity.md).
- Reason2 (Qwen3-VL, 32 px per visual token): ``cosmos_reason2_utils`` ``get_defaults`` after
  commit f180ea7 (reasoning: temperature 0.6, top_p 0.95, top_k 20, repetition 1.0, presence
  0.0, seed 1234; without: temperature 0.7, top_p 0.8, top_k 20, repetition 1.0, presence 1.5,
  seed 3407; max_tokens 4096), fps 4 (``scripts/inference_sample.py``).
- Cosmos 3 (Nano / Super: Qwen3-VL reasoner; Edge: SigLIP2 encoder; both 32 px per visual
  token): NVIDIA/cosmos ``cookbooks/cosmos3/reasoner/reasoner_prompt_guide.md`` (commit
  3d56c91): reasoning on: temperature 0.6, top_p 0.95, top_k 20, repetition 1.0, presence 0.0;
  off: temperature 0.7, top_p 0.8, top_k 20, repetition 1.0, presence 1.5; no seed;
  ``max_tokens`` 4096 and video at 4 fps (``run_with_vllm.ipynb``). The video pixel budget is
  the processors' own: Qwen3-VL's (Nano / Super) and Cosmos3-Edge's video processors both bound
  a clip's frames x height x width by ``size.longest_edge`` = 24 Mi px (transformers 5.25
  ``video_processing_cosmos3_edge.py``; Qwen3-VL's published ``video_preprocessor_config.json``).
  Expressed as qwen-vl-utils counts (two frames per token: ``max_total_pixels``) that is
  12 Mi px = 12288 tokens of 32² px, so a frame's share is 24 Mi px / frames for both, and
  Edge, whose temporal patch is one frame, spends one token per 32² px of every frame.
- The per-frame pixel cap is qwen-vl-utils' ``fetch_video``: ``max(min(VIDEO_MAX_PIXELS,
  total_pixels / frames * 2), int(VIDEO_MIN_PIXELS * 1.05))`` with VIDEO_MAX = 768 and
  VIDEO_MIN = 128 tokens of the family's factor (qwen-vl-utils 0.0.11 for 28 px, 0.0.14 with
  ``image_patch_size=16`` for 32 px). Frames count in pairs: two frames share one token.
- Frame sizes (``core.window.WindowConfig.frame_size``): Reason1's are qwen-vl-utils'
  ``smart_resize`` (QwenLM/Qwen2.5-VL ``qwen-vl-utils/src/qwen_vl_utils/vision_process.py``,
  0.0.11): each side rounded to the factor, then floored into ``max_pixels`` or raised to
  ``min_pixels`` (128 tokens), so small cameras are upsized. Reason2's and Cosmos 3's are the
  Qwen3-VL video processor's (transformers 5.25 ``video_processing_qwen3_vl.py``
  ``smart_resize`` with ``cap_pixels_per_frame``): sides rounded, floored into the clip's
  ``T x H x W`` budget, raised only when the whole clip is under ``shortest_edge``.
- Frame counts: qwen-vl-utils' file sampling (``smart_nframes``) always keeps an even count
  (frames merge in pairs); a window keeps ``even_frames`` of what it holds.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from cosmos_reason_ros.core.generation import SamplingSettings

__all__ = [
    "COSMOS3_RECIPE",
    "REASON1_RECIPE",
    "REASON2_RECIPE",
    "FamilyRecipe",
    "default_total_pixels",
    "even_frames",
    "qwen3_vl_video_resize",
    "recipe_for",
    "smart_nframes",
    "smart_resize",
    "video_frame_pixels",
]

VIDEO_MIN_TOKENS = 128
"""qwen-vl-utils ``VIDEO_MIN_PIXELS`` (0.0.11) / ``VIDEO_MIN_TOKEN_NUM`` (0.0.14)."""
VIDEO_MAX_TOKENS = 768
"""qwen-vl-utils ``VIDEO_MAX_PIXELS`` (0.0.11) / ``VIDEO_MAX_TOKEN_NUM`` (0.0.14)."""
FRAME_FACTOR = 2
"""Frames per temporal patch: qwen-vl-utils ``FRAME_FACTOR``."""
MODEL_SEQ_TOKENS = 128000
"""qwen-vl-utils' default ``total_pixels`` is this many tokens, times 0.9 (``VIDEO_TOTAL_PIXELS``
in 0.0.11, ``MODEL_SEQ_LEN`` in 0.0.14)."""
_MAX_RATIO = 200


@dataclass(frozen=True)
class FamilyRecipe:
    """One family's upstream settings.

    Attributes:
        name: The prompt profile it belongs to: ``reason1``, ``reason2`` or ``cosmos3``.
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

        A seed of -2 stands for "no fixed seed" (Reason1's model card and Cosmos 3's guide set
        none).
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

COSMOS3_TOTAL_TOKENS = 24 * 1024 * 1024 // (2 * 32 * 32)
"""12288: the processors' ``longest_edge`` (24 Mi px over frames x height x width) as
qwen-vl-utils counts a clip (two frames per token of 32² px)."""
COSMOS3_RECIPE = FamilyRecipe(
    name="cosmos3",
    patch_multiple=32,
    # The guide's sampling is Reason2's, with and without reasoning, but it fixes no seed.
    sampling_reasoning=dataclasses.replace(REASON2_RECIPE.sampling_reasoning, seed=None),
    sampling_plain=dataclasses.replace(REASON2_RECIPE.sampling_plain, seed=None),
    total_tokens=COSMOS3_TOTAL_TOKENS,
)

_BY_NAME = {r.name: r for r in (REASON1_RECIPE, REASON2_RECIPE, COSMOS3_RECIPE)}


def recipe_for(profile: str) -> FamilyRecipe:
    """The recipe of prompt profile ``profile`` (``reason1``, ``reason2`` or ``cosmos3``).

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


def even_frames(frames: int) -> int:
    """The frames of a clip given to the model from ``frames`` held: an even count, as
    qwen-vl-utils' ``smart_nframes`` floors a sampled video to ``FRAME_FACTOR``; a single frame
    stays one (the processors repeat it into a pair, as qwen-vl-utils pads a frame list)."""
    return frames if frames < FRAME_FACTOR else frames // FRAME_FACTOR * FRAME_FACTOR


def qwen3_vl_video_resize(
    num_frames: int, height: int, width: int, factor: int, *, min_pixels: int, max_pixels: int
) -> tuple[int, int]:
    """Qwen3-VL's video ``smart_resize`` (transformers 5.25
    ``models/qwen3_vl/video_processing_qwen3_vl.py``): (height, width), multiples of ``factor``,
    with ``min_pixels`` and ``max_pixels`` bounding the clip's ``T x H x W`` (``T`` rounded to
    pairs).

    Raises:
        ValueError: Fewer than 2 frames or an aspect ratio over 200, as transformers raises.
    """
    if num_frames < FRAME_FACTOR:
        raise ValueError(f"t:{num_frames} must be larger than temporal_factor:{FRAME_FACTOR}")
    if height < factor or width < factor:
        scale = max(factor / height, factor / width)
        height, width = int(height * scale), int(width * scale)
    if max(height, width) / min(height, width) > _MAX_RATIO:
        raise ValueError(
            f"absolute aspect ratio must be smaller than {_MAX_RATIO}, "
            f"got {max(height, width) / min(height, width)}"
        )
    h_bar = round(height / factor) * factor
    w_bar = round(width / factor) * factor
    t_bar = round(num_frames / FRAME_FACTOR) * FRAME_FACTOR
    if t_bar * h_bar * w_bar > max_pixels:
        beta = math.sqrt((num_frames * height * width) / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif t_bar * h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (num_frames * height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


def default_total_pixels(patch_multiple: int) -> int:
    """qwen-vl-utils' ``total_pixels`` when a video item sets none (upstream's benchmark)."""
    return int(MODEL_SEQ_TOKENS * patch_multiple * patch_multiple * 0.9)


def smart_nframes(total_frames: int, video_fps: float, fps: float) -> int:
    """qwen-vl-utils ``smart_nframes`` for a video item with ``fps`` (0.0.11 and 0.0.14 alike):
    the frames kept of a ``total_frames``-frame video recorded at ``video_fps``.

    Raises:
        ValueError: The video is too short (fewer than 2 frames kept), as qwen-vl-utils raises.
    """
    min_frames = math.ceil(4 / FRAME_FACTOR) * FRAME_FACTOR  # FPS_MIN_FRAMES
    max_frames = math.floor(min(768, total_frames) / FRAME_FACTOR) * FRAME_FACTOR
    nframes = total_frames / video_fps * fps
    nframes = min(max(nframes, min_frames), max_frames, total_frames)
    nframes = math.floor(nframes / FRAME_FACTOR) * FRAME_FACTOR
    if not FRAME_FACTOR <= nframes <= total_frames:
        raise ValueError(
            f"nframes should in interval [{FRAME_FACTOR}, {total_frames}], but got {nframes}."
        )
    return int(nframes)


def smart_resize(
    height: int, width: int, factor: int, min_pixels: float, max_pixels: float
) -> tuple[int, int]:
    """qwen-vl-utils ``smart_resize`` (0.0.11 ``vision_process.py``, checked line by line):
    (height, width), multiples of ``factor``: each side rounded to the factor, then, when
    over ``max_pixels``, floored to fit, or, when under ``min_pixels``, raised (ceiling) to it.

    Raises:
        ValueError: The aspect ratio exceeds 200, as qwen-vl-utils raises.
    """
    if max(height, width) / min(height, width) > _MAX_RATIO:
        raise ValueError(
            f"absolute aspect ratio must be smaller than {_MAX_RATIO}, "
            f"got {max(height, width) / min(height, width)}"
        )
    h_bar = max(factor, round(height / factor) * factor)
    w_bar = max(factor, round(width / factor) * factor)
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = math.floor(height / beta / factor) * factor
        w_bar = math.floor(width / beta / factor) * factor
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar
