"""Figure 6 of ``make bench`` (CUDA): decisions of the node's own Reasoner and transformers
backend at the default parameters, on a random-weight model of the Cosmos-Reason1-7B shape.

The checkpoint is written the way users get one: the published Qwen2.5-VL-7B dimensions with
random bf16 weights, saved (to ``/dev/shm`` where it exists) beside the tiny checkpoint's
processor and tokenizer, whose token ids it uses, then loaded by ``load_configured`` exactly as
the node loads a checkpoint: bf16, and again in 4-bit. Measured side by side in one run:

- decision latency p50 / p95 with one camera and with two (1280x720 frames, full windows);
- our per-token overhead: decode speed of a decision against bare ``generate`` (greedy, no
  processors) on the same inputs for the same number of tokens;
- 4-bit against bf16 decode speed.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from cosmos_reason_ros.bench.figures import Figure
from cosmos_reason_ros.bench.gpu import _TEXT_7B, _VISION_7B, _no_cuda
from cosmos_reason_ros.config import load_configured
from cosmos_reason_ros.core.decision import Decision
from cosmos_reason_ros.core.reasoner import Reasoner
from cosmos_reason_ros.core.types import WindowSnapshot
from cosmos_reason_ros.core.window import FrameWindow

__all__ = ["decision_figures", "measure_decisions", "write_checkpoint"]

CAMERA = (1280, 720)
_TOKEN_KEYS = ("image_token_id", "video_token_id", "vision_start_token_id", "vision_end_token_id")


def decision_figures(quick: bool = False) -> list[Figure]:
    """The figures of the module docstring; skipped with the reason without CUDA."""
    base = "random-weight Cosmos-Reason1-7B shape, default parameters, 1280x720 cameras"
    names = (
        ("decision_gpu.p50_s.1_camera", "s", "<= 3", base),
        ("decision_gpu.p95_s.1_camera", "s", None, base),
        ("decision_gpu.p50_s.2_cameras", "s", None, base),
        ("decision_gpu.p95_s.2_cameras", "s", None, base),
        (
            "decision_gpu.decode_vs_bare_generate",
            "x",
            ">= 0.9",
            "same inputs, greedy, no processors",
        ),
        ("decision_gpu.decode_4bit_vs_bf16", "x", None, "bitsandbytes nf4 against bf16"),
    )
    reason = _no_cuda()
    if reason:
        return [Figure(n, None, u, t, b, skipped=reason) for n, u, t, b in names]
    shm = Path("/dev/shm")
    with tempfile.TemporaryDirectory(dir=shm if shm.is_dir() else None) as folder:
        checkpoint = write_checkpoint(Path(folder), device="cuda")
        raw = measure_decisions(checkpoint, "cuda", decisions=2 if quick else 8)
    values = (
        _median(raw["latency_s.1"]),
        _p95(raw["latency_s.1"]),
        _median(raw["latency_s.2"]),
        _p95(raw["latency_s.2"]),
        _median(raw["decode_tokens_per_s.1"]) / _median(raw["bare_tokens_per_s"]),
        _median(raw["decode_tokens_per_s.4bit"]) / _median(raw["decode_tokens_per_s.1"]),
    )
    return [Figure(n, v, u, t, b, raw) for (n, u, t, b), v in zip(names, values, strict=True)]


def write_checkpoint(folder: Path, device: str, dims: dict[str, Any] | None = None) -> Path:
    """A random-weight checkpoint of the 7B shape (or ``dims``: text and vision overrides)
    in ``folder``, with the tiny checkpoint's processor and tokenizer."""
    import torch
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    from cosmos_reason_ros.testing.tiny_model import build_tiny_model

    tiny = build_tiny_model(folder / "tiny", arch="qwen2_5_vl")
    tiny_config = Qwen2_5_VLConfig.from_pretrained(tiny)
    tokens = {k: getattr(tiny_config, k) for k in _TOKEN_KEYS}
    text_ids = {k: getattr(tiny_config.get_text_config(), k, None) for k in ("bos_token_id",)}
    dims = dims or {}
    text = {**_TEXT_7B, **text_ids, **dims.get("text", {})}
    text.pop("eos_token_id", None)
    vision = {**_VISION_7B, **dims.get("vision", {})}
    config = Qwen2_5_VLConfig(text_config=text, vision_config=vision, **tokens)
    config.architectures = ["Qwen2_5_VLForConditionalGeneration"]
    with torch.device(device):
        model = Qwen2_5_VLForConditionalGeneration._from_config(  # type: ignore[no-untyped-call]
            config, dtype=torch.bfloat16
        )
    model.generation_config = type(model.generation_config).from_pretrained(tiny)
    out = folder / "model"
    model.save_pretrained(out, safe_serialization=True)
    del model
    for path in tiny.iterdir():
        if path.suffix != ".safetensors" and path.name not in ("config.json",):
            shutil.copy(path, out / path.name)
    return out


def measure_decisions(
    checkpoint: Path, device: str, decisions: int, **overrides: Any
) -> dict[str, list[float]]:
    """Latencies and decode speeds of ``decisions`` decisions per setting (see the module).

    ``overrides`` are node parameters on top of the defaults (tests shorten the decisions).
    """
    raw: dict[str, list[float]] = {}
    values = {"model": str(checkpoint), "device": device, **overrides}
    for quantization, cameras in (("none", 1), ("none", 2), ("4bit", 1)):
        topics = [f"/camera{i}/image_raw" for i in range(cameras)]
        config, backend = load_configured(
            {**values, "quantization": quantization, "image_topics": topics}
        )
        try:
            snapshot = _snapshot(config, topics)
            reasoner = Reasoner(backend, config.reasoner)
            reasoner.decide(snapshot, decision_id=0)  # warm-up
            made = [reasoner.decide(snapshot, decision_id=i + 1) for i in range(decisions)]
            key = "4bit" if quantization == "4bit" else str(cameras)
            raw[f"latency_s.{key}"] = [d.timings.latency_s for d in made]
            raw[f"decode_tokens_per_s.{key}"] = [_decode_speed(d) for d in made]
            if key == "1":
                raw["bare_tokens_per_s"] = _bare_speeds(backend, reasoner, snapshot, made)
        finally:
            backend.close()
    return raw


def _snapshot(config: Any, topics: list[str]) -> WindowSnapshot:
    rng = np.random.default_rng(0)
    clips = []
    for topic in topics:
        window = FrameWindow(topic, config.window)
        width, height = window.target_size(*CAMERA)
        for i in range(config.window.capacity):
            frame = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
            window.push(1_700_000_000 * 10**9 + i * 250_000_000, "camera", frame)
        clips.append(window.snapshot())
    return WindowSnapshot(tuple(c for c in clips if c is not None))


def _decode_speed(decision: Decision) -> float:
    """Tokens per second after the first token of a decision."""
    t = decision.timings
    return max(0, decision.generated_tokens - 1) / max(
        t.generation_s - t.time_to_first_token_s, 1e-9
    )


def _bare_speeds(
    backend: Any, reasoner: Reasoner, snapshot: WindowSnapshot, made: list[Decision]
) -> list[float]:
    """Bare ``generate`` (greedy, no processors) on the decision's inputs, as many tokens."""
    import torch

    from cosmos_reason_ros.backends.transformers.backend import _build_inputs
    from cosmos_reason_ros.core.generation import GenerationRequest

    profile = reasoner.profile()
    config = reasoner.config
    request = GenerationRequest(
        messages=profile.build_messages(config.question, snapshot.clips, config.action_space),
        clips=snapshot.clips,
    )
    # The backend's own model and processor: the bare call sees exactly the decision's inputs.
    device = backend.describe().device
    inputs = _build_inputs(backend._processor, request, device)
    model = backend._model

    def sync() -> None:
        if device == "cuda":
            torch.cuda.synchronize()

    def timed(tokens: int) -> float:
        sync()
        start = time.perf_counter()
        with torch.inference_mode():
            model.generate(**inputs, max_new_tokens=tokens, min_new_tokens=tokens, do_sample=False)
        sync()
        return time.perf_counter() - start

    speeds = []
    for decision in made:
        tokens = max(2, decision.generated_tokens)
        first, total = timed(1), timed(tokens)
        speeds.append((tokens - 1) / max(total - first, 1e-9))
    return speeds


def _median(values: list[float]) -> float:
    return statistics.median(values)


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
