"""The Cosmos 3 family: found from config.json (and its aliases) or a served name, asked with
the ``cosmos3`` profile, answered as the prompt guide lays answers out (a NIM-style ``<answer>``
wrapper accepted), with the guide's recipe as the family's parameter values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cosmos_reason_ros.config import build_config
from cosmos_reason_ros.core.action_space import ActionSpace
from cosmos_reason_ros.core.answer import parse_answer
from cosmos_reason_ros.core.architecture import Architecture, detect_architecture
from cosmos_reason_ros.core.errors import ConfigError
from cosmos_reason_ros.core.prompts import COSMOS3, PROFILES, profile_for, render_text
from cosmos_reason_ros.core.types import Clip

SPACE = ActionSpace.parse(["stop", "move_forward"], "stop")


@pytest.mark.parametrize(
    ("model_type", "expected"),
    [
        ("cosmos3_omni", "cosmos3_omni"),
        ("cosmos3", "cosmos3_omni"),
        ("cosmos3_edge", "cosmos3_edge"),
    ],
)
def test_config_json_model_types_and_aliases_are_read_as_the_family(
    tmp_path: Path, model_type: str, expected: str
) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"model_type": model_type}))
    found = detect_architecture(str(tmp_path))
    assert (found.model_type, found.source) == (expected, "config.json")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("nvidia/Cosmos3-Nano", "cosmos3_omni"),
        ("nvidia/Cosmos3-Super", "cosmos3_omni"),
        ("nvidia/Cosmos3-Edge", "cosmos3_edge"),
        ("nvidia/cosmos3-super-reasoner", "cosmos3_omni"),
        ("cosmos3-edge-reasoner", "cosmos3_edge"),
        ("nvidia/Cosmos-Reason2-8B", "qwen3_vl"),
        ("nvidia/Cosmos-Reason1-7B", "qwen2_5_vl"),
    ],
)
def test_served_names_tell_the_architecture(name: str, expected: str) -> None:
    assert detect_architecture(name).model_type == expected


@pytest.mark.parametrize(
    "architecture",
    [
        "cosmos3_omni",
        "cosmos3_edge",
        "Cosmos3ForConditionalGeneration",
        "Cosmos3EdgeForConditionalGeneration",
    ],
)
def test_auto_picks_the_cosmos3_profile(architecture: str) -> None:
    assert "cosmos3" in PROFILES
    assert profile_for("auto", architecture) is COSMOS3
    assert profile_for("cosmos3", "qwen2_5_vl") is COSMOS3


def test_unknown_profile_names_cosmos3_among_the_choices() -> None:
    with pytest.raises(ConfigError, match="auto, reason1, reason2, cosmos3; got 'reason3'"):
        profile_for("reason3", "cosmos3_omni")


def test_the_prompt_is_the_guide_layout_with_and_without_reasoning() -> None:
    clip = Clip("/front/image_raw", "", (), (), 4.0)
    on = render_text(COSMOS3.build_messages("Next?", (clip,), SPACE))
    off = render_text(COSMOS3.build_messages("Next?", (clip,), SPACE, reasoning=False))
    assert on.startswith("[system]\nYou are a helpful assistant.\n[user]\n<video clip=0>\nNext?")
    assert on.endswith(
        "<think>\nYour reasoning.\n</think>\n\n"
        "Write your final answer immediately after the </think> tag.\n"
    )
    assert "<think>" not in off and off.startswith(on[: on.index("Next?")])


@pytest.mark.parametrize(
    "text",
    [
        '<think>\nclear\n</think>\n\n{"action": "move_forward", "confidence": 0.5}',
        '<think>\nclear\n</think>\n<answer>\n{"action": "move_forward", "confidence": 0.5}'
        "\n</answer>",
        '<answer>{"action": "move_forward", "confidence": 0.5}</answer>',
    ],
)
def test_the_answer_after_think_end_is_read_with_or_without_an_answer_wrapper(text: str) -> None:
    parsed = parse_answer(text, COSMOS3, SPACE)
    assert (parsed.valid, parsed.action, parsed.confidence) == (True, "move_forward", 0.5)
    assert parsed.answer_text.startswith("{") and parsed.answer_text.endswith("}")


def test_an_empty_answer_wrapper_is_invalid_with_the_fallback() -> None:
    parsed = parse_answer("<think>x</think><answer></answer>", COSMOS3, SPACE)
    assert (parsed.valid, parsed.action, parsed.error) == (False, "stop", "empty answer")


@pytest.mark.parametrize("reasoning", [True, False])
def test_family_values_are_the_guide_recipe(reasoning: bool) -> None:
    config = build_config(
        {"max_thinking_tokens": 512 if reasoning else 0},
        Architecture("cosmos3_edge", "config.json", "test"),
    )
    s = config.reasoner.sampling
    got = (s.temperature, s.top_p, s.top_k, s.repetition_penalty, s.presence_penalty)
    assert got == ((0.6, 0.95, 20, 1.0, 0.0) if reasoning else (0.7, 0.8, 20, 1.0, 1.5))
    assert (s.max_new_tokens, s.seed) == (4096, None)
    assert config.window.sample_fps == 4.0
    assert config.window.patch_multiple == 32
    # 24 Mi px over frames x height x width, in qwen-vl-utils' pair counting
    assert config.window.max_total_pixels == 12288 * 32 * 32


def test_edge_counts_every_frame_in_the_prompt_bound() -> None:
    omni = build_config({}, Architecture("cosmos3_omni", "config.json", "t"))
    edge = build_config({}, Architecture("cosmos3_edge", "config.json", "t"))
    frames = edge.window.capacity
    frame_tokens = edge.window.frame_pixel_budget // 32**2
    assert edge.backend.cache_tokens - omni.backend.cache_tokens >= (
        frames * frame_tokens - math_ceil_half(frames) * frame_tokens
    )


def math_ceil_half(n: int) -> int:
    return (n + 1) // 2
