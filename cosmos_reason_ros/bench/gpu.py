"""Model speed of a random-weight Cosmos-Reason1-7B: time to first token and decode speed.

The model is built from the published Qwen2.5-VL-7B dimensions (Cosmos-Reason1-7B is a
post-trained Qwen2.5-VL-7B-Instruct) with random bf16 weights, directly on the device, so no
checkpoint is needed. The window is a 16-frame 448x448 clip: 8 temporal patches of 32x32
patches, 2048 video tokens after the 2x2 merge.

Decode speed is compared with its memory-bandwidth floor: every decoded token reads all weights
of the language model once (the embedding table only one row, so it is left out), so the best
possible tokens/s is ``copy bandwidth / weight bytes``, with the bandwidth measured here as a
device-to-device copy (bytes read + bytes written, per second).

Call :func:`measure_model_speed` only when ``torch.cuda.is_available()``; with a small
``config`` and ``device="cpu"`` it runs the same code path for tests.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from cosmos_reason_ros.bench.figures import Figure

__all__ = ["ModelSpeed", "measure_model_speed", "model_figures", "reason1_7b_config"]

# Qwen2.5-VL-7B-Instruct config.json (the Cosmos-Reason1-7B base), token ids included.
_TOKENS: dict[str, Any] = {
    "bos_token_id": 151643,
    "eos_token_id": 151645,
    "vision_start_token_id": 151652,
    "vision_end_token_id": 151653,
    "image_token_id": 151655,
    "video_token_id": 151656,
}
_TEXT_7B: dict[str, Any] = {
    "vocab_size": 152064,
    "hidden_size": 3584,
    "intermediate_size": 18944,
    "num_hidden_layers": 28,
    "num_attention_heads": 28,
    "num_key_value_heads": 4,
    "max_position_embeddings": 128000,
    "rms_norm_eps": 1e-6,
    "rope_theta": 1000000.0,
    "rope_scaling": {"type": "mrope", "mrope_section": [16, 24, 24]},
    "tie_word_embeddings": False,
    "bos_token_id": _TOKENS["bos_token_id"],
    "eos_token_id": _TOKENS["eos_token_id"],
}
_VISION_7B: dict[str, Any] = {
    "depth": 32,
    "hidden_size": 1280,
    "intermediate_size": 3420,
    "num_heads": 16,
    "out_hidden_size": 3584,
    "patch_size": 14,
    "spatial_merge_size": 2,
    "temporal_patch_size": 2,
    "window_size": 112,
    "fullatt_block_indexes": [7, 15, 23, 31],
    "tokens_per_second": 2,
}


@dataclass(frozen=True)
class ModelSpeed:
    """What :func:`measure_model_speed` measured; times in seconds, sizes in bytes.

    Attributes:
        device: Device name.
        prompt_tokens: Prompt length, video tokens included.
        video_tokens: Video tokens in the prompt.
        build_s: Seconds to build the random-weight model on the device.
        ttft_s: Time to first token of each repeat (vision encoder + prefill + one token).
        decode_tokens_per_s: Eager decode speed of each repeat, first token excluded.
        compiled_decode_tokens_per_s: The same with compiled decoding (static cache +
            torch.compile, as ``compile: on`` runs it); empty when compiling failed.
        compile_s: Seconds the first compiled generation took (the compile warm-up).
        decode_tokens: Tokens decoded after the first in each repeat.
        weight_bytes: Bytes of the weights one decode step reads (language model + LM head).
        copy_bandwidth_bytes_per_s: Device-to-device copy bandwidth of each repeat.
    """

    device: str
    prompt_tokens: int
    video_tokens: int
    build_s: float
    ttft_s: tuple[float, ...]
    decode_tokens_per_s: tuple[float, ...]
    compiled_decode_tokens_per_s: tuple[float, ...]
    compile_s: float
    decode_tokens: int
    weight_bytes: int
    copy_bandwidth_bytes_per_s: tuple[float, ...]

    @property
    def floor_tokens_per_s(self) -> float:
        """Decode speed if each token cost only one read of the weights at copy bandwidth."""
        return statistics.median(self.copy_bandwidth_bytes_per_s) / self.weight_bytes

    @property
    def floor_share(self) -> float:
        """Median eager decode speed as a share of ``floor_tokens_per_s`` (1.0 = the floor)."""
        return statistics.median(self.decode_tokens_per_s) / self.floor_tokens_per_s

    @property
    def compiled_floor_share(self) -> float | None:
        """Median compiled decode speed as a share of the floor; None when compiling failed."""
        if not self.compiled_decode_tokens_per_s:
            return None
        return statistics.median(self.compiled_decode_tokens_per_s) / self.floor_tokens_per_s

    @property
    def compiled_speedup(self) -> float | None:
        """Compiled over eager decode speed (medians); None when compiling failed."""
        if not self.compiled_decode_tokens_per_s:
            return None
        compiled = statistics.median(self.compiled_decode_tokens_per_s)
        return compiled / statistics.median(self.decode_tokens_per_s)


def model_figures(quick: bool = False) -> list[Figure]:
    """Figure 5 of ``bench``: TTFT, eager and compiled decode speed against the floor.

    Args:
        quick: Fewer decode tokens and one repeat.

    Returns:
        The figures; without CUDA (or torch) they are skipped with the reason.
    """
    base = "random-weight Qwen2.5-VL-7B shape (Cosmos-Reason1-7B), bf16, 16 frames 448x448"
    floor = "weight bytes / device-to-device copy bandwidth"
    names = (
        ("model.ttft_s", "s", None, base),
        ("model.decode_tokens_per_s", "tokens/s", None, base + ", eager"),
        ("model.compiled_decode_tokens_per_s", "tokens/s", None, base + ", compiled"),
        ("model.compiled_speedup", "x", ">= 3", "compiled / eager decode speed, same inputs"),
        ("model.decode_floor_share", "share", None, "eager decode speed / " + floor),
        ("model.compiled_floor_share", "share", ">= 0.4", "compiled decode speed / " + floor),
    )
    reason = _no_cuda()
    if reason:
        return [Figure(n, None, u, t, b, skipped=reason) for n, u, t, b in names]
    speed = measure_model_speed(decode_tokens=16 if quick else 64, repeats=1 if quick else 3)
    raw = asdict(speed) | {"floor_tokens_per_s": speed.floor_tokens_per_s}
    compiled = speed.compiled_decode_tokens_per_s
    values = (
        statistics.median(speed.ttft_s),
        statistics.median(speed.decode_tokens_per_s),
        statistics.median(compiled) if compiled else None,
        speed.compiled_speedup,
        speed.floor_share,
        speed.compiled_floor_share,
    )
    failed = "compiling failed (see the log); eager decoding only"
    return [
        Figure(n, v, u, t, b, raw, skipped="" if v is not None else failed)
        for (n, u, t, b), v in zip(names, values, strict=True)
    ]


def _no_cuda() -> str:
    """Why the GPU figures cannot be measured here, or ""."""
    try:
        import torch
    except ImportError as exc:
        return f"torch not importable ({exc})"
    if not torch.cuda.is_available():
        return "no CUDA device (torch.cuda.is_available() is False)"
    return ""


def reason1_7b_config() -> Any:
    """A ``Qwen2_5_VLConfig`` with the Cosmos-Reason1-7B (Qwen2.5-VL-7B) dimensions."""
    from transformers import Qwen2_5_VLConfig

    return Qwen2_5_VLConfig(text_config=dict(_TEXT_7B), vision_config=dict(_VISION_7B), **_TOKENS)


def measure_model_speed(
    config: Any = None,
    *,
    device: str = "cuda",
    frames: int = 16,
    side: int = 448,
    decode_tokens: int = 64,
    repeats: int = 3,
) -> ModelSpeed:
    """Build a random-weight model on ``device`` and time prefill and decode.

    Args:
        config: A ``Qwen2_5_VLConfig``; defaults to :func:`reason1_7b_config`.
        device: ``cuda`` (the benchmark) or ``cpu`` (tests, with a small config).
        frames: Frames in the window (even: two frames per temporal patch).
        side: Frame side in pixels, a multiple of ``patch_size * spatial_merge_size``.
        decode_tokens: Tokens decoded after the first one when timing decode.
        repeats: Timed repeats of each measurement, after one warm-up.

    Returns:
        The measurements.
    """
    import torch
    from transformers import Qwen2_5_VLForConditionalGeneration

    config = config if config is not None else reason1_7b_config()
    dev = torch.device(device)
    start = time.perf_counter()
    with dev:
        model = Qwen2_5_VLForConditionalGeneration._from_config(  # type: ignore[no-untyped-call]
            config, dtype=torch.bfloat16, attn_implementation="sdpa"
        ).eval()
    _sync(dev)
    build_s = time.perf_counter() - start
    inputs, video_tokens = _window_inputs(config, dev, frames, side)
    sync = _sync_function(dev)
    eager = {"disable_compile": True}
    one = _generate_timer(model, inputs, 1, sync, eager)
    many = _generate_timer(model, inputs, 1 + decode_tokens, sync, eager)
    one(), many()  # warm-up: kernels, allocator, cuDNN/SDPA choices
    ttft, speeds = [], []
    for _ in range(repeats):
        first = one()
        total = many()
        ttft.append(first)
        speeds.append(decode_tokens / max(total - first, 1e-9))
    compiled_speeds, compile_s = _compiled_speeds(
        model, inputs, sync, dev.type, decode_tokens=decode_tokens, repeats=repeats
    )
    weight_bytes = _decode_weight_bytes(model)
    del model
    bandwidth = _copy_bandwidth(dev, repeats)
    return ModelSpeed(
        device=torch.cuda.get_device_name(dev) if dev.type == "cuda" else dev.type,
        prompt_tokens=int(inputs["input_ids"].shape[1]),
        video_tokens=video_tokens,
        build_s=build_s,
        ttft_s=tuple(ttft),
        decode_tokens_per_s=tuple(speeds),
        compiled_decode_tokens_per_s=tuple(compiled_speeds),
        compile_s=compile_s,
        decode_tokens=decode_tokens,
        weight_bytes=weight_bytes,
        copy_bandwidth_bytes_per_s=tuple(bandwidth),
    )


def _window_inputs(config: Any, dev: Any, frames: int, side: int) -> tuple[dict[str, Any], int]:
    """Model inputs for one clip of random pixels, laid out as the Qwen2.5-VL processor does."""
    import torch

    vision = config.vision_config
    temporal, patch = vision.temporal_patch_size, vision.patch_size
    merge = vision.spatial_merge_size
    grid = (frames // temporal, side // patch, side // patch)
    patches = grid[0] * grid[1] * grid[2]
    video_tokens = patches // (merge * merge)
    generator = torch.Generator().manual_seed(0)
    vocab = min(config.text_config.vocab_size, _token_id(config, "bos_token_id") or 1000)
    text = torch.randint(0, vocab, (48,), generator=generator)
    video = torch.full((video_tokens,), config.video_token_id)
    ids = torch.cat(
        (
            text[:16],
            torch.tensor([config.vision_start_token_id]),
            video,
            torch.tensor([config.vision_end_token_id]),
            text[16:],
        )
    ).unsqueeze(0)
    pixels = torch.randn(
        (patches, vision.in_channels * temporal * patch * patch), generator=generator
    )
    inputs = {
        "input_ids": ids.to(dev),
        "attention_mask": torch.ones_like(ids).to(dev),
        "pixel_values_videos": pixels.to(dev, torch.bfloat16),
        "video_grid_thw": torch.tensor([grid], device=dev),
        "second_per_grid_ts": torch.tensor([temporal / 4.0], device=dev),  # 4 fps window
    }
    return inputs, video_tokens


def _token_id(config: Any, name: str) -> int | None:
    """A token id from the config or its text config (transformers 5.x keeps them there)."""
    value = getattr(config, name, None)
    if value is None:
        value = getattr(config.get_text_config(), name, None)
    return int(value) if isinstance(value, int) else None


def _generate_timer(
    model: Any,
    inputs: dict[str, Any],
    new_tokens: int,
    sync: Callable[[], None],
    extra: dict[str, Any],
) -> Callable[[], float]:
    """A function that runs one greedy generation of exactly ``new_tokens`` and times it."""
    import torch

    def run() -> float:
        sync()
        start = time.perf_counter()
        with torch.inference_mode():
            model.generate(
                **inputs,
                max_new_tokens=new_tokens,
                min_new_tokens=new_tokens,  # random weights: never stop early at EOS
                do_sample=False,
                pad_token_id=_token_id(model.config, "bos_token_id"),
                **extra,
            )
        sync()
        return time.perf_counter() - start

    return run


def _compiled_speeds(
    model: Any,
    inputs: dict[str, Any],
    sync: Callable[[], None],
    device: str,
    *,
    decode_tokens: int,
    repeats: int,
) -> tuple[list[float], float]:
    """Decode speeds with compiled decoding, and the first (compiling) run's seconds."""
    from cosmos_reason_ros.backends.transformers.compile import CompiledDecoding

    decoding = CompiledDecoding.resolve("on", device)
    prompt = int(inputs["input_ids"].shape[1])
    kwargs = decoding.generate_kwargs(prompt, 1 + decode_tokens)
    one = _generate_timer(model, inputs, 1, sync, kwargs)
    many = _generate_timer(model, inputs, 1 + decode_tokens, sync, kwargs)
    try:
        compile_s = many()
        one()
    except Exception as exc:  # a compiler failure is a figure, not a crash
        decoding.disable(exc)
        return [], 0.0
    speeds = []
    for _ in range(repeats):
        first, total = one(), many()
        speeds.append(decode_tokens / max(total - first, 1e-9))
    return speeds, compile_s


def _decode_weight_bytes(model: Any) -> int:
    """Bytes of the weights a decode step reads: all but the vision tower and embedding table."""
    return sum(
        p.numel() * p.element_size()
        for name, p in model.named_parameters()
        if "visual" not in name and "embed_tokens" not in name
    )


def _copy_bandwidth(dev: Any, repeats: int, nbytes: int = 1 << 30) -> list[float]:
    """Device-to-device copy bandwidth, (read + written bytes) / s, of ``repeats`` runs."""
    import torch

    if dev.type != "cuda":
        nbytes = min(nbytes, 64 << 20)
    src = torch.empty(nbytes, dtype=torch.uint8, device=dev).fill_(1)
    dst = torch.empty_like(src)
    sync = _sync_function(dev)
    dst.copy_(src)
    copies, results = 10, []
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        for _ in range(copies):
            dst.copy_(src)
        sync()
        results.append(2 * nbytes * copies / (time.perf_counter() - start))
    return results


def _sync_function(dev: Any) -> Callable[[], None]:
    import torch

    if dev.type == "cuda":
        return lambda: torch.cuda.synchronize(dev)
    return lambda: None


def _sync(dev: Any) -> None:
    _sync_function(dev)()
