"""Specification of the Reasoner, run against the real tiny model through transformers.

The tiny checkpoint has random weights: its free text is noise, so these tests show what the
constrained path, the parser and the fallback make of noise. Frames are 28x28 and answers are
kept short (small schema bounds, small token budgets) so the suite stays fast on two cores.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from cosmos_reason_ros.backends import BackendConfig, create_backend
from cosmos_reason_ros.core.action_space import ActionSpace
from cosmos_reason_ros.core.errors import (
    BackendError,
    ConfigError,
    GenerationCancelled,
    InputError,
)
from cosmos_reason_ros.core.generation import Backend, SamplingSettings
from cosmos_reason_ros.core.reasoner import (
    DEFAULT_QUESTION,
    CheckedRequest,
    Reasoner,
    ReasonerConfig,
)
from cosmos_reason_ros.core.types import Clip, WindowSnapshot

SPACE = ActionSpace.parse(["move_forward: drive ahead", "turn_left", "turn_right"], "stop")
S = 1_000_000_000


def fast_config(**overrides: object) -> ReasonerConfig:
    """Short answers: the random model fills every string up to its bound."""
    settings: dict[str, object] = {
        "action_space": SPACE,
        "sampling": SamplingSettings(max_new_tokens=160, seed=0),
        "max_thinking_tokens": 4,
        "max_target_chars": 4,
        "max_reason_chars": 8,
        "max_parameters": 0,
    }
    settings.update(overrides)
    return ReasonerConfig(**settings)  # type: ignore[arg-type]


def clip(camera: str, stamps_s: tuple[float, ...], frame_id: str = "cam_link") -> Clip:
    rng = np.random.default_rng(len(camera))
    frames = tuple(rng.integers(0, 256, (28, 28, 3), dtype=np.uint8) for _ in stamps_s)
    return Clip(camera, frame_id, frames, tuple(round(t * S) for t in stamps_s), 4.0)


SNAPSHOT = WindowSnapshot((clip("/front/image_raw", (10.0, 10.25)),))


@pytest.fixture(scope="module")
def backend(tiny_model_dir: Path) -> Iterator[Backend]:
    loaded = create_backend(
        BackendConfig(backend="transformers", model=str(tiny_model_dir), device="cpu")
    )
    loaded.load()
    yield loaded
    loaded.close()


@pytest.mark.compute
def test_constrained_decoding_gives_a_valid_decision_in_50_of_50_seeded_runs(
    backend: Backend,
) -> None:
    reasoner = Reasoner(backend, fast_config())
    failures = []
    for seed in range(50):
        sampling = SamplingSettings(max_new_tokens=160, seed=seed)
        reasoner.reconfigure(fast_config(sampling=sampling))
        decision = reasoner.decide(SNAPSHOT, decision_id=seed)
        assert decision.action in SPACE.names
        if not decision.valid:
            failures.append((seed, decision.reason, decision.raw_text[-200:]))
    assert failures == []


def test_unconstrained_noise_falls_back_with_the_reason(backend: Backend) -> None:
    reasoner = Reasoner(
        backend,
        fast_config(constrained=False, sampling=SamplingSettings(max_new_tokens=160, seed=3)),
    )
    decision = reasoner.decide(SNAPSHOT, decision_id=7)
    assert not decision.valid
    assert decision.action == "stop"
    assert decision.reason.startswith("invalid model output: ")
    assert math.isnan(decision.confidence)
    assert decision.raw_text, "the raw output is kept for the Reasoning message"
    assert 0 < decision.generated_tokens <= 160
    assert decision.thinking_ended_by == ""  # nothing was constrained


def test_choices_restrict_the_action_to_the_options(backend: Backend) -> None:
    reasoner = Reasoner(backend, fast_config())
    for seed in range(2):
        reasoner.reconfigure(fast_config(sampling=SamplingSettings(max_new_tokens=160, seed=seed)))
        request = reasoner.validate_request("Which way?", ["turn_right", "turn_left"])
        decision = reasoner.decide(SNAPSHOT, decision_id=seed, request=request)
        assert decision.valid, decision.reason
        assert decision.action in ("turn_right", "turn_left")
        assert decision.choices == ("turn_right", "turn_left")
        assert decision.question == "Which way?"


def test_stamps_and_timings_flow_from_the_snapshot_into_the_decision(backend: Backend) -> None:
    snapshot = WindowSnapshot(
        (
            clip("/front/image_raw", (10.0, 10.25, 10.5), frame_id="front_link"),
            clip("/wrist/image_raw", (10.1, 10.6), frame_id="wrist_link"),
        )
    )
    deltas: list[str] = []
    decision = Reasoner(backend, fast_config()).decide(
        snapshot, decision_id=42, on_text=lambda text, _n: deltas.append(text), snapshot_s=0.01
    )
    assert decision.decision_id == 42
    assert decision.stamp_ns == round(10.6 * S)
    assert decision.frame_id == "wrist_link"
    assert decision.window_start_ns == 10 * S
    assert decision.frame_count == 5
    assert decision.frame_stamps_ns == (
        ("/front/image_raw", (10 * S, round(10.25 * S), round(10.5 * S))),
        ("/wrist/image_raw", (round(10.1 * S), round(10.6 * S))),
    )
    assert decision.question == DEFAULT_QUESTION
    assert decision.model == backend.describe().model
    assert decision.prompt_tokens > 0
    assert decision.generated_tokens > 0
    t = decision.timings
    assert t.snapshot_s == 0.01
    assert min(t.preprocess_s, t.generation_s, t.parse_s, t.time_to_first_token_s) >= 0
    assert t.latency_s >= t.snapshot_s + t.generation_s
    assert "".join(deltas), "streamed text reaches on_text"


def test_explicit_reason2_profile_works_on_the_same_model(backend: Backend) -> None:
    decision = Reasoner(backend, fast_config(profile="reason2")).decide(SNAPSHOT, decision_id=1)
    assert decision.valid, decision.reason
    assert "<answer>" not in decision.raw_text


def test_empty_snapshot_is_an_input_error(backend: Backend) -> None:
    with pytest.raises(InputError, match="the frame window is empty"):
        Reasoner(backend, fast_config()).decide(WindowSnapshot(()), decision_id=1)


def test_cancel_set_before_generation_raises_generation_cancelled(backend: Backend) -> None:
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(GenerationCancelled):
        Reasoner(backend, fast_config()).decide(SNAPSHOT, decision_id=1, cancel=cancel)


def test_backend_errors_propagate_unchanged(tiny_model_dir: Path) -> None:
    """A real transformers backend that was never loaded refuses to generate."""
    unloaded = create_backend(
        BackendConfig(backend="transformers", model=str(tiny_model_dir), device="cpu")
    )
    with pytest.raises(BackendError, match="not loaded"):
        Reasoner(unloaded, fast_config(profile="reason1")).decide(SNAPSHOT, decision_id=1)


def test_fallback_decision_carries_the_fallback_action_and_the_snapshot_stamps(
    backend: Backend,
) -> None:
    reasoner = Reasoner(backend, fast_config())
    decision = reasoner.fallback(5, "backend failed: out of memory", SNAPSHOT, "Go?")
    assert (decision.decision_id, decision.action, decision.valid) == (5, "stop", False)
    assert decision.reason == "backend failed: out of memory"
    assert decision.question == "Go?"
    assert (decision.stamp_ns, decision.window_start_ns, decision.frame_count) == (
        round(10.25 * S),
        10 * S,
        2,
    )
    bare = reasoner.fallback(6, "no frames yet")
    assert (bare.stamp_ns, bare.frame_count, bare.question) == (0, 0, DEFAULT_QUESTION)


def test_validate_request_defaults_the_question_and_strips_choices(backend: Backend) -> None:
    reasoner = Reasoner(backend, fast_config())
    assert reasoner.validate_request("  ", ()) == CheckedRequest("", ())  # the default, later
    assert reasoner.validate_request(" Go? ", [" turn_left", "stop "], " tidy ") == (
        CheckedRequest("Go?", ("turn_left", "stop"), "tidy")
    )


@pytest.mark.parametrize(
    ("question", "choices", "message"),
    [
        ("x" * 4001, (), "question is 4001 characters; max_question_chars is 4000"),
        ("Go?", ("turn_left", "turn_left"), "duplicate choices: 'turn_left'"),
        ("Go?", ("turn_left", ""), r"choices \[1\] are empty"),
        ("Go?", ("fly",), "choices 'fly' are not allowed actions"),
        ("Go?", ("turn_left", "turn_right", "stop"), "3 choices given; max_choices is 2"),
        ("a\x00b", (), "NUL"),
    ],
)
def test_validate_request_refuses_bad_requests_with_a_clear_message(
    backend: Backend, question: str, choices: tuple[str, ...], message: str
) -> None:
    reasoner = Reasoner(backend, fast_config(max_choices=2))
    with pytest.raises(InputError, match=message):
        reasoner.validate_request(question, choices)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"profile": "reason9"}, "profile must be one of auto, reason1, reason2"),
        ({"question": " "}, "question must be a non-empty string"),
        ({"max_thinking_tokens": 160}, r"max_thinking_tokens \(160\) must be below max_new"),
        ({"max_choices": 0}, "max_choices"),
        ({"action_space": ["go"]}, "action_space must be an ActionSpace"),
        ({"max_reason_chars": 10_000}, "max_reason_chars"),
    ],
)
def test_config_refuses_bad_settings(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        fast_config(**overrides)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"top_p": 0.0}, "top_p must be >= 0.01"),
        ({"temperature": math.nan}, "temperature must be finite"),
        ({"presence_penalty": 2.5}, "presence_penalty must be <= 2"),
        ({"seed": -1}, "seed must be >= 0 or None"),
    ],
)
def test_sampling_refuses_values_outside_the_declared_ranges(
    overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        SamplingSettings(**overrides)  # type: ignore[arg-type]


def test_reconfigure_swaps_the_config_for_the_next_decision(backend: Backend) -> None:
    reasoner = Reasoner(backend, fast_config())
    new = fast_config(question="Is the path clear?")
    worker = threading.Thread(target=reasoner.reconfigure, args=(new,))
    worker.start()
    worker.join()
    assert reasoner.config is new
    decision = reasoner.decide(SNAPSHOT, decision_id=1, request=reasoner.validate_request(""))
    assert decision.question == "Is the path clear?"
    with pytest.raises(ConfigError, match="must be a ReasonerConfig"):
        reasoner.reconfigure("fast")  # type: ignore[arg-type]


def test_auto_profile_on_a_qwen3_vl_model_uses_reason2(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    from cosmos_reason_ros.testing.tiny_model import build_tiny_model

    model_dir = build_tiny_model(tmp_path_factory.mktemp("tiny_qwen3_vl"), arch="qwen3_vl")
    qwen3 = create_backend(
        BackendConfig(backend="transformers", model=str(model_dir), device="cpu")
    )
    qwen3.load()
    try:
        reasoner = Reasoner(qwen3, fast_config())
        assert reasoner.profile().name == "reason2"
        decision = reasoner.decide(WindowSnapshot((clip("cam", (1.0, 1.25)),)), decision_id=1)
    finally:
        qwen3.close()
    assert decision.valid, decision.reason
    assert decision.action in SPACE.names
