"""Decisions in bounded time (issue 13's CPU checks): compiled decoding gives the tokens eager
decoding gives, a thinking deadline ends thinking that a token budget never would, and the
default answer bounds keep an answer within a stated number of tokens even when the model
(the adversary) fills every string to its bound."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("transformers", reason="the transformers backend needs transformers")

from cosmos_reason_ros.backends import BackendConfig
from cosmos_reason_ros.backends.transformers.backend import TransformersBackend
from cosmos_reason_ros.config import build_config
from cosmos_reason_ros.core.action_space import (
    DEFAULT_PARAMETERS,
    DEFAULT_REASON_CHARS,
    DEFAULT_TARGET_CHARS,
    MAX_PARAMETER_KEY_CHARS,
    MAX_PARAMETER_VALUE_CHARS,
    shortest_answer_bytes,
)
from cosmos_reason_ros.core.generation import (
    ChatMessage,
    GenerationRequest,
    SamplingSettings,
    TextPart,
    VideoPart,
)
from cosmos_reason_ros.core.reasoner import Reasoner
from cosmos_reason_ros.core.types import Clip, WindowSnapshot
from cosmos_reason_ros.testing.adversary import AdversarialTransformersBackend

# Free text an answer may hold at the default bounds, in characters: the reason, the target,
# and every parameter's key and value. A character is at most 4 UTF-8 bytes, and a token of a
# byte-level tokenizer at least one byte; the rest of the object is the shortest answer.
FREE_CHARS = (
    DEFAULT_REASON_CHARS
    + DEFAULT_TARGET_CHARS
    + DEFAULT_PARAMETERS * (MAX_PARAMETER_KEY_CHARS + MAX_PARAMETER_VALUE_CHARS + 6)
)

pytestmark = pytest.mark.compute


def snapshot(side: int = 112, frames: int = 4) -> WindowSnapshot:
    rng = np.random.default_rng(0)
    pixels = tuple(rng.integers(0, 255, (side, side, 3), dtype=np.uint8) for _ in range(frames))
    stamps = tuple(1_700_000_000 * 10**9 + i * 250_000_000 for i in range(frames))
    return WindowSnapshot((Clip("/camera/image_raw", "camera", pixels, stamps, 4.0),))


def test_compiled_decoding_gives_the_greedy_tokens_of_eager_decoding(tiny_model_dir: Path) -> None:
    """torch.compile on the CPU (transformers' own switch for it) against eager decoding."""
    clip = snapshot().clips[0]
    request = GenerationRequest(
        messages=(ChatMessage("user", (VideoPart(0), TextPart("What next?"))),),
        clips=(clip,),
        sampling=SamplingSettings(temperature=0.0, max_new_tokens=12),
        constrained=False,
    )
    texts = {}
    for mode in ("off", "on"):
        backend = TransformersBackend(
            BackendConfig(model=str(tiny_model_dir), device="cpu", compile=mode, cache_tokens=512)
        )
        backend.load()
        try:
            texts[mode] = backend.generate(request).text
            compiled = backend._decoding.enabled
        finally:
            backend.close()
        if mode == "on" and not compiled:
            pytest.skip("torch.compile failed on this machine (see the log): no compiler here")
    assert texts["on"] == texts["off"]


def test_a_deadline_ends_thinking_a_token_budget_never_would(tiny_model_dir: Path) -> None:
    values = {
        "model": str(tiny_model_dir),
        "device": "cpu",
        "max_new_tokens": 30000,
        "max_thinking_tokens": 29000,
        "max_thinking_s": 1.0,
        "seed": 3,
    }
    config = build_config(values)
    backend = TransformersBackend(BackendConfig(model=values["model"], device="cpu"))
    backend.load()
    try:
        decision = Reasoner(backend, config.reasoner).decide(snapshot(), decision_id=1)
    finally:
        backend.close()
    assert decision.valid, decision.reason
    assert decision.thinking_ended_by == "deadline"
    # Thinking stopped within a token or two of the deadline, far short of its token budget.
    assert 1.0 <= decision.timings.thinking_s < 2.0
    assert decision.generated_tokens < 29000


@pytest.mark.parametrize("seed", range(3))
def test_default_answer_bounds_keep_the_answer_within_its_stated_token_count(
    tiny_model_dir: Path, seed: int
) -> None:
    config = build_config({"model": str(tiny_model_dir), "device": "cpu", "seed": seed})
    backend = AdversarialTransformersBackend(
        BackendConfig(model=str(tiny_model_dir), device="cpu")
    )
    backend.load()
    try:
        reasoner = Reasoner(backend, config.reasoner)
        decision = reasoner.decide(snapshot(), decision_id=seed)
        tokens = len(backend._processor.tokenizer.encode(decision.answer))
    finally:
        backend.close()
    schema = json.loads(json.dumps(config.reasoner.action_space.answer_schema()))
    bound = shortest_answer_bytes(schema) + 4 * FREE_CHARS
    assert decision.valid, decision.reason
    assert tokens <= bound, (tokens, bound)
    assert len(decision.reason) <= DEFAULT_REASON_CHARS
