"""Every decision is valid, whatever the weights emit: properties over many seeds, at the
node's default parameters, on every tiny checkpoint (Qwen2.5-VL = Cosmos-Reason1, Qwen3-VL =
Cosmos-Reason2, ``cosmos3_omni`` = Cosmos3-Nano / Super, ``cosmos3_edge`` = Cosmos3-Edge), in
full precision and 8-bit and 4-bit (bitsandbytes on the CPU), and against an adversary that
prefers whatever breaks answers. Random weights are the hardest case: they want anything. Each
checkpoint is loaded once and decides in bulk. The Cosmos 3 checkpoints run fewer seeds, in full
precision and 4-bit, to keep the suite within its time budget (their decoding, grammar and
quantization paths are the ones the Qwen checkpoints exercise over every seed).
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("transformers", reason="the transformers backend needs transformers")
pytest.importorskip("xgrammar", reason="constrained decoding needs xgrammar")

from cosmos_reason_ros.backends import BackendConfig
from cosmos_reason_ros.config import build_config, load_configured
from cosmos_reason_ros.config.build import NodeConfig
from cosmos_reason_ros.core.alert_judge import AlertJudge, Judgment
from cosmos_reason_ros.core.alerts import MAX_EVIDENCE_CHARS
from cosmos_reason_ros.core.errors import ConfigError
from cosmos_reason_ros.core.reasoner import Reasoner
from cosmos_reason_ros.core.types import WindowSnapshot
from cosmos_reason_ros.core.window import FrameWindow
from cosmos_reason_ros.testing.adversary import AdversarialTransformersBackend

pytestmark = pytest.mark.compute

ARCHS = ("qwen2_5_vl", "qwen3_vl", "cosmos3_omni", "cosmos3_edge")
COSMOS3 = ("cosmos3_omni", "cosmos3_edge")
QUANTIZATIONS = ("none", "8bit", "4bit")
SEEDS = range(12)
COSMOS3_SEEDS = range(3)
EIGHT_BIT_SEEDS = range(6)  # 8-bit is the slowest on a CPU and the least used on robots
DEFAULT_CASES = [(a, q) for a in ARCHS for q in QUANTIZATIONS if a not in COSMOS3 or q != "8bit"]
CAMERA = (160, 120)  # a small camera keeps the prompt short; the window is the default one


def window_snapshot(config: NodeConfig, seed: int = 0) -> WindowSnapshot:
    """A full default window of one camera, filled as the node fills it."""
    window = FrameWindow("/camera/image_raw", config.window)
    rng = np.random.default_rng(seed)
    width, height = window.target_size(*CAMERA)
    for i in range(config.window.capacity):
        frame = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
        window.push(1_700_000_000 * 10**9 + i * 250_000_000, "camera", frame)
    clip = window.snapshot()
    assert clip is not None
    return WindowSnapshot((clip,))


def decide_over_seeds(backend: Any, config: NodeConfig, seeds: range = SEEDS) -> list[Any]:
    """One decision per seed (sampling seeded), all on the same loaded backend."""
    snapshot = window_snapshot(config)
    decisions = []
    for seed in seeds:
        sampling = dataclasses.replace(config.reasoner.sampling, seed=seed)
        reasoner = Reasoner(backend, dataclasses.replace(config.reasoner, sampling=sampling))
        decisions.append(reasoner.decide(snapshot, decision_id=seed))
    return decisions


def seeds_for(arch: str, seeds: range = SEEDS, cosmos3: range = COSMOS3_SEEDS) -> range:
    """``seeds``, or ``cosmos3`` for a Cosmos 3 checkpoint (the time budget)."""
    return cosmos3 if arch in COSMOS3 else seeds


def invalid(decisions: list[Any]) -> list[str]:
    return [f"seed {d.decision_id}: {d.action} {d.reason}" for d in decisions if not d.valid]


@pytest.fixture(params=ARCHS)
def arch(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.mark.slow
@pytest.mark.parametrize(("arch", "quantization"), DEFAULT_CASES)
def test_every_decision_at_the_node_defaults_is_valid(
    tiny_all_dirs: dict[str, Path], arch: str, quantization: str
) -> None:
    values = {"model": str(tiny_all_dirs[arch]), "device": "cpu", "quantization": quantization}
    config, backend = load_configured(values)
    try:
        seeds = EIGHT_BIT_SEEDS if quantization == "8bit" else SEEDS
        decisions = decide_over_seeds(backend, config, seeds_for(arch, seeds))
    finally:
        backend.close()
    assert not invalid(decisions), invalid(decisions)
    assert all(d.action in config.reasoner.action_space.names for d in decisions)
    assert all(d.thinking_ended_by in ("model", "tokens", "deadline") for d in decisions)


@pytest.fixture
def adversarial(tiny_all_dirs: dict[str, Path], arch: str) -> Iterator[tuple[Any, Any]]:
    """The real transformers backend with the adversary in front of the constraint."""
    values = {"model": str(tiny_all_dirs[arch]), "device": "cpu"}
    config = build_config(values)
    backend = AdversarialTransformersBackend(BackendConfig(model=values["model"], device="cpu"))
    backend.load()
    yield config, backend
    backend.close()


@pytest.mark.slow
def test_the_adversary_never_gets_an_invalid_decision_at_the_defaults(
    adversarial: tuple[Any, Any], arch: str
) -> None:
    config, backend = adversarial
    decisions = decide_over_seeds(backend, config, seeds_for(arch))
    assert not invalid(decisions), invalid(decisions)


def smallest_budget(values: dict[str, Any]) -> int:
    """The smallest max_new_tokens the configuration accepts with no thinking budget."""
    for max_new_tokens in range(16, 1024):
        try:
            build_config({**values, "max_new_tokens": max_new_tokens, "max_thinking_tokens": 0})
        except ConfigError:
            continue
        return max_new_tokens
    raise AssertionError("no budget accepted")


def test_budgets_at_their_smallest_accepted_values_decide_validly_or_are_refused(
    adversarial: tuple[Any, Any], tiny_all_dirs: dict[str, Path], arch: str
) -> None:
    _, backend = adversarial
    values = {"model": str(tiny_all_dirs[arch]), "device": "cpu"}
    smallest = smallest_budget(values)
    with pytest.raises(ConfigError, match=r"max_new_tokens \(\d+\) minus max_thinking_tokens"):
        build_config({**values, "max_new_tokens": smallest - 1, "max_thinking_tokens": 0})
    # The smallest budget with no thinking, and with as much thinking as it leaves room for.
    for thinking in (0, 40):
        config = build_config(
            {**values, "max_new_tokens": smallest + thinking, "max_thinking_tokens": thinking}
        )
        decisions = decide_over_seeds(backend, config, seeds_for(arch, range(5), range(2)))
        assert not invalid(decisions), invalid(decisions)
        assert all(d.generated_tokens <= smallest + thinking for d in decisions)
    with pytest.raises(ConfigError, match="max_thinking_tokens"):
        build_config({**values, "max_new_tokens": smallest + 40, "max_thinking_tokens": 41})


@pytest.mark.slow
def test_the_stream_joins_to_the_raw_text_with_no_control_characters(
    tiny_all_dirs: dict[str, Path], arch: str
) -> None:
    """What a planner reads from ~/reason feedback is the decision's ``raw_text``, piece by
    piece. Random weights emit NUL and other control characters (every seed here did), which a
    ROS string cannot carry whole; they were streamed raw, and a NUL cut a feedback delta."""
    config, backend = load_configured({"model": str(tiny_all_dirs[arch]), "device": "cpu"})
    snapshot = window_snapshot(config)
    deltas: list[str] = []
    try:
        for seed in seeds_for(arch, range(3), range(2)):
            sampling = dataclasses.replace(config.reasoner.sampling, seed=seed)
            reasoner = Reasoner(backend, dataclasses.replace(config.reasoner, sampling=sampling))
            deltas.clear()
            decision = reasoner.decide(
                snapshot, decision_id=seed, on_text=lambda text, _n: deltas.append(text)
            )
            streamed = "".join(deltas)
            assert streamed == decision.raw_text, f"seed {seed}"
            assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", streamed), f"seed {seed}"
    finally:
        backend.close()


# ----- alert judgments: one answer for every rule, valid whatever the weights emit ------------
FOUR_RULES = {
    "alerts": ["person_fallen", "smoke", "sparks", "blocked_exit"],
    "alerts.person_fallen.condition": "Has a person fallen to the floor?",
    "alerts.smoke.condition": "Is a machine giving off smoke?",
    "alerts.sparks.condition": "Are there sparks near a machine?",
    "alerts.blocked_exit.condition": "Is the emergency exit blocked?",
}
JUDGMENT_ARCHS = ("qwen2_5_vl", "qwen3_vl")
JUDGMENT_SEEDS = range(3)


def judge_over_seeds(backend: Any, config: NodeConfig, seeds: range) -> list[Judgment]:
    """One judgment of every rule per seed (sampling seeded), all on the same backend."""
    snapshot = window_snapshot(config)
    judgments = []
    for seed in seeds:
        sampling = dataclasses.replace(config.reasoner.sampling, seed=seed)
        reasoner = dataclasses.replace(config.reasoner, sampling=sampling)
        judge = AlertJudge(backend, functools.partial(lambda r: r, reasoner))
        judgments.append(judge.judge(snapshot, config.alert_rules, decision_id=seed))
    return judgments


def bad_judgments(judgments: list[Judgment], config: NodeConfig) -> list[str]:
    """What is wrong with each judgment that is not a verdict for every rule, in order."""
    names = [r.name for r in config.alert_rules]
    bad = []
    for j in judgments:
        parsed = j.parsed
        problems = [] if parsed.valid else [parsed.error]
        if [v.rule for v in parsed.verdicts] != names:
            problems.append(f"verdicts for {[v.rule for v in parsed.verdicts]}")
        if any(len(v.evidence) > MAX_EVIDENCE_CHARS for v in parsed.verdicts):
            problems.append("evidence past its bound")
        if not (parsed.confidence != parsed.confidence or 0.0 <= parsed.confidence <= 1.0):
            problems.append(f"confidence {parsed.confidence}")
        if j.record.generated_tokens > config.reasoner.sampling.max_new_tokens:
            problems.append(f"{j.record.generated_tokens} tokens")
        if not j.record.frame_stamps_ns or any(
            len(stamps) == 0 for _, stamps in j.record.frame_stamps_ns
        ):  # the record says which frames were judged, as a decision's does
            problems.append("no frame stamps")
        if problems:
            bad.append(f"seed {j.record.decision_id}: {problems}")
    return bad


@pytest.mark.slow
@pytest.mark.parametrize("arch", JUDGMENT_ARCHS)
def test_every_judgment_of_four_rules_at_the_node_defaults_is_valid(
    tiny_model_dirs: dict[str, Path], arch: str
) -> None:
    values = {"model": str(tiny_model_dirs[arch]), "device": "cpu", **FOUR_RULES}
    config, backend = load_configured(values)
    try:
        judgments = judge_over_seeds(backend, config, JUDGMENT_SEEDS)
    finally:
        backend.close()
    assert not bad_judgments(judgments, config), bad_judgments(judgments, config)
    assert all(j.record.thinking_ended_by in ("model", "tokens", "deadline") for j in judgments)


def test_the_adversary_at_the_smallest_budget_for_four_rules_gets_valid_judgments(
    tiny_model_dir: Path,
) -> None:
    """The answer's room is checked at configure for the judgment of every rule: at the smallest
    budget accepted with no thinking, the constrained decoder still closes every verdict (its
    reserve counts the nested ``rules`` object), and one token less is refused by name."""
    values = {"model": str(tiny_model_dir), "device": "cpu", **FOUR_RULES}
    smallest = smallest_budget(values)
    assert smallest > smallest_budget({"model": str(tiny_model_dir), "device": "cpu"})
    with pytest.raises(ConfigError, match=r"the shortest judgment of 4 rules"):
        build_config({**values, "max_new_tokens": smallest - 1, "max_thinking_tokens": 0})
    config = build_config({**values, "max_new_tokens": smallest, "max_thinking_tokens": 0})
    backend = AdversarialTransformersBackend(BackendConfig(model=values["model"], device="cpu"))
    backend.load()
    try:
        judgments = judge_over_seeds(backend, config, range(2))
    finally:
        backend.close()
    assert not bad_judgments(judgments, config), bad_judgments(judgments, config)
