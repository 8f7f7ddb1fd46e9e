"""Cosmos 3 through the transformers backend, on the tiny ``cosmos3_omni`` and ``cosmos3_edge``
checkpoints: the real model classes load, each architecture's processor lays frames out as its
own does (Nano / Super: Qwen3-VL pairs; Edge: a timestamp before every frame), and deadlines and
cancellation hold as they do for the Qwen checkpoints."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("transformers", reason="the transformers backend needs transformers")

from cosmos_reason_ros.backends import BackendConfig
from cosmos_reason_ros.backends.transformers.backend import TransformersBackend, _build_inputs
from cosmos_reason_ros.config import build_config
from cosmos_reason_ros.core.errors import GenerationCancelled
from cosmos_reason_ros.core.generation import (
    ChatMessage,
    GenerationRequest,
    SamplingSettings,
    TextPart,
    VideoPart,
)
from cosmos_reason_ros.core.reasoner import Reasoner
from cosmos_reason_ros.core.types import Clip, WindowSnapshot

CLASSES = {
    "cosmos3_omni": "Cosmos3OmniForConditionalGeneration",
    "cosmos3_edge": "Cosmos3EdgeForConditionalGeneration",
}


def clip(frames: int = 4, side: int = 64, fps: float = 1.0) -> Clip:
    rng = np.random.default_rng(0)
    images = tuple(
        rng.integers(0, 255, (side, 2 * side, 3), dtype=np.uint8) for _ in range(frames)
    )
    stamps = tuple(int(i * 1e9 / fps) for i in range(frames))
    return Clip("front", "camera", images, stamps, fps)


def request(cancel: threading.Event | None = None, on_text: Any = None) -> GenerationRequest:
    return GenerationRequest(
        messages=(ChatMessage("user", (VideoPart(0), TextPart("Next?"))),),
        clips=(clip(),),
        sampling=SamplingSettings(temperature=0.8, max_new_tokens=200, seed=5),
        cancel=cancel,
        on_text=on_text,
    )


@pytest.fixture(scope="module", params=sorted(CLASSES))
def loaded(request: pytest.FixtureRequest, tiny_cosmos3_dirs: dict[str, Path]) -> Any:
    arch = str(request.param)
    backend = TransformersBackend(BackendConfig(model=str(tiny_cosmos3_dirs[arch]), device="cpu"))
    backend.load()
    yield arch, backend
    backend.close()


def test_each_architecture_loads_its_own_reasoner_class(loaded: Any) -> None:
    arch, backend = loaded
    assert type(backend._model).__name__ == CLASSES[arch]
    info = backend.describe()
    assert (info.architecture, info.loaded) == (arch, True)


def test_frames_are_laid_out_as_each_processor_lays_them(loaded: Any) -> None:
    arch, backend = loaded
    inputs = _build_inputs(backend._processor, request(), "cpu")
    prompt = backend._processor.tokenizer.decode(inputs["input_ids"][0])
    if arch == "cosmos3_edge":  # one temporal patch per frame, a timestamp before each
        assert inputs["video_grid_thw"].tolist() == [[4, 4, 8]]
        stamps = [f"<{t:.1f} seconds><|vision_start|>" for t in (0.0, 1.0, 2.0, 3.0)]
        assert all(s in prompt for s in stamps), prompt[:400]
        assert "mm_token_type_ids" in inputs and "video_metadata" not in inputs
    else:  # Qwen3-VL: frames in pairs, a timestamp per pair
        assert inputs["video_grid_thw"].tolist() == [[2, 4, 8]]
        assert "<0.5 seconds>" in prompt and "<2.5 seconds>" in prompt


def test_cancel_from_on_text_stops_early_and_raises(loaded: Any) -> None:
    _, backend = loaded
    cancel = threading.Event()
    seen: list[int] = []

    def on_text(delta: str, tokens: int) -> None:
        seen.append(tokens)
        if tokens >= 3:
            cancel.set()

    with pytest.raises(GenerationCancelled, match=r"generation cancelled after \d+ tokens"):
        backend.generate(request(cancel, on_text))
    assert 3 <= max(seen) <= 8


def test_a_deadline_ends_thinking_with_a_valid_decision(
    loaded: Any, tiny_cosmos3_dirs: dict[str, Path]
) -> None:
    """Random weights may write ``</think>`` (one token in Qwen's vocabulary) before the
    deadline; the first seed whose thinking runs on must be cut by the deadline."""
    arch, backend = loaded
    values = {
        "model": str(tiny_cosmos3_dirs[arch]),
        "device": "cpu",
        "max_new_tokens": 30000,
        "max_thinking_tokens": 29000,
        "max_thinking_s": 1.0,
    }
    for seed in range(3, 8):
        config = build_config({**values, "seed": seed})
        assert config.reasoner.profile == "cosmos3"
        snapshot = WindowSnapshot((clip(),))
        decision = Reasoner(backend, config.reasoner).decide(snapshot, decision_id=seed)
        assert decision.valid, decision.reason
        if decision.thinking_ended_by != "model":
            break
    assert decision.thinking_ended_by == "deadline"
    assert 1.0 <= decision.timings.thinking_s < 2.5
