"""Goldens through the real chat templates: upstream's model-card conversations, and ours.

Each upstream conversation below is copied from upstream (sources in each test) and rendered by
``apply_chat_template`` of the tiny checkpoints, which ship the published Qwen2.5-VL / Qwen3-VL
templates (``testing/chat_templates``), video placeholders included. The render is kept as a
golden file. Our profile's chat for the same question goes through the same template by way of
``backends.messages.hf_messages`` (what the transformers and TensorRT-LLM backends render) and
must equal upstream's render with only the question text changed: ours adds the action list
and the JSON answer object (docs/fidelity.md); everything else (system prompt, media before
the text, turn markers, reasoning suffix, generation prompt) is byte-identical.

Regenerate the golden files after an intended change with
``COSMOS_REASON_REGENERATE_GOLDEN=1 pytest test/core/test_upstream_goldens.py`` and review the
diff.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from goldens import check_golden

from cosmos_reason_ros.backends.messages import hf_messages
from cosmos_reason_ros.core.action_space import ActionSpace
from cosmos_reason_ros.core.generation import GenerationRequest
from cosmos_reason_ros.core.prompts import REASON1, REASON2, question_text
from cosmos_reason_ros.core.types import Clip

GOLDEN = Path(__file__).parent / "golden" / "upstream"
VIDEO = "<|vision_start|><|video_pad|><|vision_end|>"
SPACE = ActionSpace.parse(["turn_right: take the right turn", "wait", "go_straight"], "stop")

# nvidia-cosmos/cosmos-reason1 @ 7630fc74eb5db6cd371ee5a5b6e13cd10eb19db6, README.md (the
# model card's inference example) lines 56-120.
REASON1_MODEL_CARD = [
    {
        "role": "system",
        "content": "You are a helpful assistant. Answer the question in the following format: "
        "<think>\nyour reasoning\n</think>\n\n<answer>\nyour answer\n</answer>.",
    },
    {
        "role": "user",
        "content": [
            {"type": "text", "text": ("Is it safe to turn right?")},
            {"type": "video", "video": "assets/sample.mp4", "fps": 4},
        ],
    },
]
# nvidia-cosmos/cosmos-reason2 @ a3b4a1db4065fe13c4b1f4d2fb8605bad647f4b9: text.py
# (SYSTEM_PROMPT, REASONING_PROMPT, create_conversation: media, then the prompt), inference.py
# (user_prompt.strip() + "\n\n" + REASONING_PROMPT with --reasoning) and
# prompts/embodied_reasoning.yaml ("What can be the next immediate action?").
REASON2_REASONING_PROMPT = (
    "Answer the question using the following format:\n\n<think>\nYour reasoning.\n</think>\n\n"
    "Write your final answer immediately after the </think> tag."
)
REASON2_QUESTION = "What can be the next immediate action?"


def reason2_conversation(reasoning: bool) -> list[dict[str, Any]]:
    """``create_conversation(system_prompt=SYSTEM_PROMPT, user_prompt=..., videos=[path])``."""
    prompt = REASON2_QUESTION + (f"\n\n{REASON2_REASONING_PROMPT}" if reasoning else "")
    return [
        {"role": "system", "content": "You are a helpful assistant."},
        {
            "role": "user",
            "content": [
                {"type": "video", "video": "assets/sample.mp4"},
                {"type": "text", "text": prompt},
            ],
        },
    ]


def render(checkpoint: Path, chat: list[dict[str, Any]]) -> str:
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(checkpoint)
    text: str = processor.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    return text


def ours(profile: Any, question: str, reasoning: bool = True) -> list[dict[str, Any]]:
    frame = np.zeros((28, 28, 3), dtype=np.uint8)
    clip = Clip("/front/image_raw", "cam", (frame, frame), (0, 250_000_000), 4.0)
    messages = profile.build_messages(question, [clip], SPACE, reasoning=reasoning)
    return hf_messages(GenerationRequest(messages=messages, clips=(clip,)))


def test_reason1_model_card_render_is_the_golden(tiny_model_dir: Path) -> None:
    check_golden(GOLDEN / "reason1_model_card.txt", render(tiny_model_dir, REASON1_MODEL_CARD))


def test_reason1_ours_is_the_model_card_with_the_video_first_and_our_question(
    tiny_model_dir: Path,
) -> None:
    """Differences on purpose: the video goes before the text, as upstream's benchmark,
    ``scripts/inference_sample.py`` and Reason2 ("Media is listed before text to match
    training") put it (the model card put it after), and the question carries our action list
    and answer object, to be put inside the ``<answer>`` tags the system prompt asks for."""
    question = "Is it safe to turn right?"
    upstream = render(tiny_model_dir, REASON1_MODEL_CARD)
    mine = render(tiny_model_dir, ours(REASON1, question))
    text = question_text(question, SPACE) + "\nPut the JSON object inside <answer>."
    expected = upstream.replace(question + VIDEO, VIDEO + text)
    assert question + VIDEO in upstream
    assert mine == expected


@pytest.mark.parametrize("reasoning", [True, False], ids=["reasoning", "plain"])
def test_reason2_embodied_example_render_is_the_golden(
    tiny_reason2_dir: Path, reasoning: bool
) -> None:
    name = f"reason2_embodied_{'reasoning' if reasoning else 'plain'}.txt"
    check_golden(GOLDEN / name, render(tiny_reason2_dir, reason2_conversation(reasoning)))


@pytest.mark.parametrize("reasoning", [True, False], ids=["reasoning", "plain"])
def test_reason2_ours_is_upstreams_render_with_our_question(
    tiny_reason2_dir: Path, reasoning: bool
) -> None:
    """With reasoning the suffix follows our question exactly as upstream appends it; without
    (thinking budget 0) there is no suffix, as upstream without ``--reasoning``."""
    upstream = render(tiny_reason2_dir, reason2_conversation(reasoning))
    mine = render(tiny_reason2_dir, ours(REASON2, REASON2_QUESTION, reasoning))
    expected = upstream.replace(
        VIDEO + REASON2_QUESTION, VIDEO + question_text(REASON2_QUESTION, SPACE)
    )
    assert upstream.count(REASON2_REASONING_PROMPT) == int(reasoning)
    assert mine == expected


def test_goldens_show_the_layouts_the_templates_produce() -> None:
    """The golden files themselves, read as a person would: Reason1 keeps the model card's
    system prompt; Reason2 has the plain system prompt and the reasoning suffix after the
    question, right before the end of the user turn."""
    r1 = (GOLDEN / "reason1_model_card.txt").read_text(encoding="utf-8")
    r2 = (GOLDEN / "reason2_embodied_reasoning.txt").read_text(encoding="utf-8")
    assert r1.startswith("<|im_start|>system\nYou are a helpful assistant. Answer the question")
    assert r1.endswith(f"Is it safe to turn right?{VIDEO}<|im_end|>\n<|im_start|>assistant\n")
    assert r2 == (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
        f"{VIDEO}{REASON2_QUESTION}\n\n{REASON2_REASONING_PROMPT}<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
