"""Specification of the prompt profiles: message layout per model generation, goldens.

Regenerate the golden files after an intended prompt change with
``COSMOS_REASON_REGENERATE_GOLDEN=1 pytest test/core/test_prompts.py`` and review the diff.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from goldens import check_golden

from cosmos_reason_ros.core.action_space import ActionSpace
from cosmos_reason_ros.core.errors import ConfigError
from cosmos_reason_ros.core.generation import TextPart, VideoPart
from cosmos_reason_ros.core.prompts import (
    REASON1,
    REASON1_SYSTEM_PROMPT,
    REASON2,
    REASON2_REASONING_PROMPT,
    option_label,
    profile_for,
    render_text,
)
from cosmos_reason_ros.core.types import Clip

GOLDEN = Path(__file__).parent / "golden"
SPACE = ActionSpace.parse(
    ["move_forward: drive ahead slowly", "turn_left", "turn_right", "pick_up: grasp the target"],
    "stop",
)


def clip(camera: str) -> Clip:
    frame = np.zeros((28, 28, 3), dtype=np.uint8)
    return Clip(camera, "cam_link", (frame, frame), (1_000, 2_000), 4.0)


def test_reason1_open_question_matches_golden() -> None:
    messages = REASON1.build_messages("What should the robot do next?", [clip("front")], SPACE)
    check_golden(GOLDEN / "reason1_open.txt", render_text(messages))


def test_reason2_open_question_matches_golden() -> None:
    messages = REASON2.build_messages("What should the robot do next?", [clip("front")], SPACE)
    check_golden(GOLDEN / "reason2_open.txt", render_text(messages))


def test_reason1_multiple_choice_with_two_cameras_matches_golden() -> None:
    choices = ("turn_left", "pick_up", "stop")
    messages = REASON1.build_messages(
        "Which way avoids the box?",
        [clip("/front/image_raw"), clip("/wrist/image_raw/compressed")],
        SPACE.restricted_to(choices, 8),
        choices,
    )
    check_golden(GOLDEN / "reason1_multiple_choice.txt", render_text(messages))


def test_reason1_asks_for_think_and_answer_tags_in_the_system_prompt() -> None:
    system, user = REASON1.build_messages("Q?", [clip("front")], SPACE)
    assert system.role == "system"
    assert system.parts == (TextPart(REASON1_SYSTEM_PROMPT),)
    assert "<think>\nyour reasoning\n</think>\n\n<answer>\nyour answer\n</answer>" in (
        REASON1_SYSTEM_PROMPT
    )
    assert user.role == "user"
    assert isinstance(user.parts[0], VideoPart), "video comes before the question"


def test_reason2_appends_the_reasoning_instruction_to_the_user_turn_after_the_media() -> None:
    system, user = REASON2.build_messages("Q?", [clip("front")], SPACE)
    assert "<think>" not in render_text([system])
    assert user.parts[0] == VideoPart(0)
    last = user.parts[-1]
    assert isinstance(last, TextPart)
    assert last.text.startswith("Q?")
    assert last.text.endswith(REASON2_REASONING_PROMPT)
    assert "<answer>" not in last.text


def test_every_camera_gets_a_label_then_its_video() -> None:
    _, user = REASON2.build_messages("Q?", [clip("left"), clip("right")], SPACE)
    assert user.parts[:4] == (
        TextPart("Camera 1: left"),
        VideoPart(0),
        TextPart("Camera 2: right"),
        VideoPart(1),
    )


def test_answer_formats_put_the_json_where_each_model_answers() -> None:
    schema = SPACE.answer_schema()
    one = REASON1.answer_format(schema, 64)
    assert (one.think_end, one.answer_prefix, one.answer_suffix) == (
        "</think>",
        "</think>\n\n<answer>\n",
        "\n</answer>",
    )
    assert one.json_schema == schema
    assert one.max_thinking_tokens == 64
    two = REASON2.answer_format(schema, 0)
    assert (two.answer_prefix, two.answer_suffix) == ("</think>\n\n", "")
    assert two.max_thinking_tokens == 0
    assert (REASON1.patch_multiple, REASON2.patch_multiple) == (28, 32)


@pytest.mark.parametrize(
    ("architecture", "expected"),
    [
        ("qwen2_5_vl", "reason1"),
        ("Qwen2_5_VLForConditionalGeneration", "reason1"),
        ("qwen3_vl", "reason2"),
        ("Qwen3VLForConditionalGeneration", "reason2"),
    ],
)
def test_auto_profile_follows_the_architecture(architecture: str, expected: str) -> None:
    assert profile_for("auto", architecture).name == expected


def test_auto_profile_of_an_unknown_architecture_is_reason1_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING):
        assert profile_for("auto", "llama") is REASON1
    assert "unknown model architecture 'llama'" in caplog.text


def test_explicit_profile_wins_over_the_architecture() -> None:
    assert profile_for("reason2", "qwen2_5_vl") is REASON2
    with pytest.raises(ConfigError, match="prompt profile must be one of auto, reason1, reason2"):
        profile_for("reason3", "qwen3_vl")


def test_option_labels_run_a_to_z_then_two_letters() -> None:
    assert [option_label(i) for i in (0, 1, 25, 26, 27, 51, 52)] == [
        "A",
        "B",
        "Z",
        "AA",
        "AB",
        "AZ",
        "BA",
    ]
