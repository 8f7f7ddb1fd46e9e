"""Prompt profiles: how each Cosmos-Reason generation wants to be asked, and how it answers.

``Reason1Profile`` follows the Cosmos-Reason1 recipe (Qwen2.5-VL): a system prompt that asks for
``<think>…</think>`` then ``<answer>…</answer>``, videos before the question. ``Reason2Profile``
follows Cosmos-Reason2 (Qwen3-VL): the plain system prompt, media then the question with the
reasoning instruction appended, and the final answer right after ``</think>`` with no tag.

Both ask for the same JSON answer object (see ``ActionSpace.answer_schema``). A multiple-choice
question uses the Cosmos benchmark layout: the question, then one ``(A) option`` line per option.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from cosmos_reason_ros.core.action_space import ActionSpace
from cosmos_reason_ros.core.errors import ConfigError
from cosmos_reason_ros.core.generation import AnswerFormat, ChatMessage, Part, TextPart, VideoPart
from cosmos_reason_ros.core.types import Clip

_LOG = logging.getLogger(__name__)

PROFILES = ("auto", "reason1", "reason2")

DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant."

REASON1_SYSTEM_PROMPT = (
    "You are a helpful assistant. Answer the question in the following format: "
    "<think>\nyour reasoning\n</think>\n\n<answer>\nyour answer\n</answer>."
)
"""The Cosmos-Reason1 reasoning system prompt (model card and inference examples)."""

REASON2_REASONING_PROMPT = (
    "Answer the question using the following format:\n\n"
    "<think>\nYour reasoning.\n</think>\n\n"
    "Write your final answer immediately after the </think> tag."
)
"""The Cosmos-Reason2 reasoning add-on, appended to the user prompt (cosmos_reason2_utils)."""

_ANSWER_KEYS = (
    '"action": {action_rule}, '
    '"target": what the action applies to ("" if nothing), '
    '"parameters": an object of further arguments with string values ({{}} if none), '
    '"confidence": a number from 0 to 1, '
    '"reason": one short sentence'
)


def option_label(index: int) -> str:
    """The multiple-choice label of option ``index``: A…Z, then AA, AB, …."""
    if index < 0:
        raise ValueError(f"option index must be >= 0, got {index}")
    label = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        label = chr(ord("A") + rest) + label
    return label


class PromptProfile:
    """How to ask one model generation and where its answer lies.

    Stateless and thread-safe. Subclasses set the class attributes and ``_messages``.

    Attributes:
        name: ``reason1`` or ``reason2``.
        patch_multiple: Frames are resized to multiples of this many pixels (one visual token
            covers ``patch_multiple``² pixels).
        think_end: The marker that ends the thinking.
        answer_open: The tag that opens the final answer ("" when there is none).
        answer_close: The tag that closes the final answer ("" when there is none).
        answer_prefix: Text forced between the thinking and the JSON answer.
        answer_suffix: Text after the JSON answer.
    """

    name = ""
    patch_multiple = 28
    think_start = "<think>"
    think_end = "</think>"
    answer_open = ""
    answer_close = ""
    answer_prefix = "</think>\n\n"
    answer_suffix = ""

    def build_messages(
        self,
        question: str,
        clips: Sequence[Clip],
        action_space: ActionSpace,
        choices: Sequence[str] = (),
    ) -> tuple[ChatMessage, ...]:
        """The chat for one decision.

        Args:
            question: The question (already validated).
            clips: One clip per camera; each becomes one ``VideoPart`` (by index).
            action_space: The actions the answer may name (restricted to ``choices`` if any).
            choices: Multiple-choice options, in order; empty for an open question.

        Returns:
            The system and user messages.
        """
        media: list[Part] = []
        for index, clip in enumerate(clips):
            if len(clips) > 1:
                media.append(TextPart(f"Camera {index + 1}: {clip.camera}"))
            media.append(VideoPart(index))
        return self._messages(tuple(media), question_text(question, action_space, choices))

    def answer_format(
        self, schema: dict[str, Any], max_thinking_tokens: int, max_thinking_s: float = 0.0
    ) -> AnswerFormat:
        """The layout a backend may constrain: free thinking, then the JSON answer."""
        return AnswerFormat(
            think_end=self.think_end,
            answer_prefix=self.answer_prefix,
            answer_suffix=self.answer_suffix,
            json_schema=schema,
            max_thinking_tokens=max_thinking_tokens,
            max_thinking_s=max_thinking_s,
        )

    def _messages(self, media: tuple[Part, ...], question: str) -> tuple[ChatMessage, ...]:
        raise NotImplementedError


class Reason1Profile(PromptProfile):
    """Cosmos-Reason1 (Qwen2.5-VL): reasoning system prompt, ``<answer>`` tags, 28 px patches."""

    name = "reason1"
    patch_multiple = 28
    answer_open = "<answer>"
    answer_close = "</answer>"
    answer_prefix = "</think>\n\n<answer>\n"
    answer_suffix = "\n</answer>"

    def _messages(self, media: tuple[Part, ...], question: str) -> tuple[ChatMessage, ...]:
        return (
            ChatMessage("system", (TextPart(REASON1_SYSTEM_PROMPT),)),
            ChatMessage(
                "user",
                (*media, TextPart(question + "\nPut the JSON object inside <answer>.")),
            ),
        )


class Reason2Profile(PromptProfile):
    """Cosmos-Reason2 (Qwen3-VL): reasoning add-on in the user turn, no tag, 32 px patches."""

    name = "reason2"
    patch_multiple = 32

    def _messages(self, media: tuple[Part, ...], question: str) -> tuple[ChatMessage, ...]:
        return (
            ChatMessage("system", (TextPart(DEFAULT_SYSTEM_PROMPT),)),
            ChatMessage("user", (*media, TextPart(question + "\n\n" + REASON2_REASONING_PROMPT))),
        )


REASON1 = Reason1Profile()
REASON2 = Reason2Profile()
PROFILE_OBJECTS: tuple[PromptProfile, ...] = (REASON1, REASON2)

_BY_ARCHITECTURE = {"qwen2_5_vl": REASON1, "qwen2_vl": REASON1, "qwen3_vl": REASON2}


def profile_for(name: str, architecture: str) -> PromptProfile:
    """The prompt profile ``name`` selects for a model of ``architecture``.

    Args:
        name: ``auto``, ``reason1`` or ``reason2``.
        architecture: The model's architecture, e.g. ``qwen2_5_vl`` (a config ``model_type``)
            or ``Qwen3VLForConditionalGeneration``; only used when ``name`` is ``auto``.

    Returns:
        The profile. ``auto`` with an unknown architecture gives ``reason1`` and logs a warning.

    Raises:
        ConfigError: ``name`` is not a known profile.
    """
    if name == "reason1":
        return REASON1
    if name == "reason2":
        return REASON2
    if name != "auto":
        raise ConfigError(f"prompt profile must be one of {', '.join(PROFILES)}; got {name!r}")
    key = architecture.lower().replace(".", "_").replace("-", "_")
    for arch, profile in _BY_ARCHITECTURE.items():
        if key.startswith(arch) or key.startswith(arch.replace("_", "")):
            return profile
    _LOG.warning(
        "unknown model architecture %r; using the reason1 prompt profile "
        "(set the prompt profile explicitly to silence this)",
        architecture,
    )
    return REASON1


def question_text(question: str, action_space: ActionSpace, choices: Sequence[str] = ()) -> str:
    """The question part of the user turn: the question, the actions, the answer object.

    Args:
        question: The question.
        action_space: The allowed actions (restricted to ``choices`` if any).
        choices: Multiple-choice options, in order; empty for an open question.

    Returns:
        The text, without the profile's reasoning instructions.
    """
    lines = [question.strip()]
    if choices:
        for index, choice in enumerate(choices):
            description = action_space.description_of(choice)
            suffix = f": {description}" if description else ""
            lines.append(f"({option_label(index)}) {choice}{suffix}")
        action_rule = "the action name of the option you choose"
    else:
        lines.append("")
        lines.append("Allowed actions:")
        for spec in action_space.actions:
            lines.append(f"- {spec.name}" + (f": {spec.description}" if spec.description else ""))
        if action_space.fallback not in {a.name for a in action_space.actions}:
            lines.append(f"- {action_space.fallback}: the safe default when unsure")
        action_rule = "one of " + ", ".join(json.dumps(n) for n in action_space.answer_names)
    lines.append("")
    lines.append("Give the final answer as one JSON object with exactly these keys:")
    lines.append("{" + _ANSWER_KEYS.format(action_rule=action_rule) + "}")
    return "\n".join(lines)


def render_text(messages: Sequence[ChatMessage]) -> str:
    """A plain-text rendering of ``messages`` for logs and golden tests.

    Each message starts with ``[role]``; a video appears as ``<video clip=N>``.
    """
    out: list[str] = []
    for message in messages:
        out.append(f"[{message.role}]")
        for part in message.parts:
            if isinstance(part, VideoPart):
                out.append(f"<video clip={part.clip_index}>")
            else:
                out.append(part.text)
    return "\n".join(out) + "\n"
