"""Prompt profiles: how each Cosmos-Reason generation wants to be asked, and how it answers.

``Reason1Profile`` follows the Cosmos-Reason1 recipe (Qwen2.5-VL): a system prompt that asks for
``<think>…</think>`` then ``<answer>…</answer>``, videos before the question. ``Reason2Profile``
follows Cosmos-Reason2 (Qwen3-VL): the plain system prompt, media then the question with the
reasoning instruction appended (left out when the model is to answer at once), and the final
answer right after ``</think>`` with no tag. ``Cosmos3Profile`` follows the Cosmos 3 reasoner
prompt guide (NVIDIA/cosmos ``cookbooks/cosmos3/reasoner/reasoner_prompt_guide.md``, commit
3d56c91), the same layout as Reason2 for both Cosmos 3 architectures (Nano / Super and Edge),
and also accepts the ``<answer>…</answer>`` wrapper NIM's documentation shows after
``</think>``.

Both ask for the same JSON answer object (see ``ActionSpace.answer_schema``). A multiple-choice
question uses the Cosmos benchmark layout: the question, then one ``(A) option`` line per option.
With a goal, the question is framed as upstream's embodied questions are: 'The overall goal is
to "…". The agent in the video is currently performing one subtask out of many to complete this
goal.' followed by the question (the default question becomes upstream's "what is the most
plausible next immediate subtask"). Several cameras are labelled with names people use
(``camera_label``: ``/front/image_raw/compressed`` is ``front``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from cosmos_reason_ros.core.action_space import ActionSpace
from cosmos_reason_ros.core.errors import ConfigError
from cosmos_reason_ros.core.generation import AnswerFormat, ChatMessage, Part, TextPart, VideoPart
from cosmos_reason_ros.core.types import Clip

_LOG = logging.getLogger(__name__)

PROFILES = ("auto", "reason1", "reason2", "cosmos3")

DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant."

DEFAULT_QUESTION = "What should the robot do next?"

GOAL_CONTEXT = (
    'The overall goal is to "{goal}". The agent in the video is currently performing one '
    "subtask out of many to complete this goal."
)
"""Upstream's goal framing (Cosmos-Reason1 benchmark rows of nvidia/Cosmos-Reason1-Benchmark)."""

GOAL_QUESTION = "For the agent in the video, what is the most plausible next immediate subtask?"
GOAL_QUESTION_CHOICES = (
    "For the agent in the video, what is the most plausible next immediate subtask from the "
    "choices below?"
)

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

COSMOS3_SYSTEM_PROMPT = "You are a helpful assistant."
"""The system prompt of the Cosmos 3 reasoner prompt guide ("System Prompt")."""

COSMOS3_REASONING_PROMPT = (
    "Answer the question using the following format:\n\n"
    "<think>\nYour reasoning.\n</think>\n\n"
    "Write your final answer immediately after the </think> tag."
)
"""The Cosmos 3 reasoner prompt guide's instruction, appended after the task text when reasoning
is required ("Turn Reasoning On Or Off"); left out otherwise."""

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
        name: ``reason1``, ``reason2`` or ``cosmos3``.
        patch_multiple: Frames are resized to multiples of this many pixels (one visual token
            covers ``patch_multiple``² pixels).
        think_end: The marker that ends the thinking.
        answer_open: The tag that opens the final answer ("" when there is none).
        answer_close: The tag that closes the final answer ("" when there is none).
        answer_prefix: Text forced between the thinking and the JSON answer.
        answer_suffix: Text after the JSON answer.
        optional_answer_tags: (open, close) of a wrapper the answer may come in although the
            prompt does not ask for one (empty: none accepted).
    """

    name = ""
    patch_multiple = 28
    think_start = "<think>"
    think_end = "</think>"
    answer_open = ""
    answer_close = ""
    answer_prefix = "</think>\n\n"
    answer_suffix = ""
    optional_answer_tags: tuple[str, ...] = ()

    def build_messages(
        self,
        question: str,
        clips: Sequence[Clip],
        action_space: ActionSpace,
        choices: Sequence[str] = (),
        *,
        goal: str = "",
        labels: Mapping[str, str] | None = None,
        reasoning: bool = True,
    ) -> tuple[ChatMessage, ...]:
        """The chat for one decision: media first, then the question (as upstream trains).

        Args:
            question: The question (already validated).
            clips: One clip per camera; each becomes one ``VideoPart`` (by index).
            action_space: The actions the answer may name (restricted to ``choices`` if any).
            choices: Multiple-choice options, in order; empty for an open question.
            goal: The task's overall goal; "" for none.
            labels: Camera label by ``Clip.camera``; missing ones come from ``camera_label``.
            reasoning: Whether the model thinks first (False: it answers at once, and Reason2
                leaves out its reasoning instruction, as upstream does without reasoning).

        Returns:
            The system and user messages.
        """
        text = question_text(question, action_space, choices, goal)
        return self.build_text_messages(text, clips, labels=labels, reasoning=reasoning)

    def build_text_messages(
        self,
        text: str,
        clips: Sequence[Clip],
        *,
        labels: Mapping[str, str] | None = None,
        reasoning: bool = True,
    ) -> tuple[ChatMessage, ...]:
        """The chat for any task ``text`` about ``clips`` (a decision's question, an alert
        judgment), in this profile's layout; see ``build_messages`` for the arguments."""
        media: list[Part] = []
        for index, clip in enumerate(clips):
            if len(clips) > 1:
                label = (labels or {}).get(clip.camera) or camera_label(clip.camera)
                media.append(TextPart(f"Camera {index + 1}: {label}"))
            media.append(VideoPart(index))
        return self._messages(tuple(media), text, reasoning)

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

    def _messages(
        self, media: tuple[Part, ...], question: str, reasoning: bool
    ) -> tuple[ChatMessage, ...]:
        raise NotImplementedError


class Reason1Profile(PromptProfile):
    """Cosmos-Reason1 (Qwen2.5-VL): reasoning system prompt, ``<answer>`` tags, 28 px patches.

    Without thinking the same prompt is used and the backend forces the answer straight away
    (cosmos-reason1's ``scripts/inference.py`` adds its reasoning instructions only with
    ``--reasoning``; we keep one prompt for both modes: docs/fidelity.md).
    """

    name = "reason1"
    patch_multiple = 28
    answer_open = "<answer>"
    answer_close = "</answer>"
    answer_prefix = "</think>\n\n<answer>\n"
    answer_suffix = "\n</answer>"

    def _messages(
        self, media: tuple[Part, ...], question: str, reasoning: bool
    ) -> tuple[ChatMessage, ...]:
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

    def _messages(
        self, media: tuple[Part, ...], question: str, reasoning: bool
    ) -> tuple[ChatMessage, ...]:
        text = question + "\n\n" + REASON2_REASONING_PROMPT if reasoning else question
        return (
            ChatMessage("system", (TextPart(DEFAULT_SYSTEM_PROMPT),)),
            ChatMessage("user", (*media, TextPart(text))),
        )


class Cosmos3Profile(PromptProfile):
    """Cosmos 3 reasoners (Nano / Super and Edge), as the reasoner prompt guide asks them.

    System prompt ``You are a helpful assistant.``, media before the text, the guide's
    reasoning instruction after the task text (left out when the model answers at once), the
    final answer right after ``</think>``; a NIM-style ``<answer>`` wrapper is also accepted.
    Both architectures use 32 px per visual token: Nano / Super's Qwen3-VL encoder (16 px
    patches merged 2x2) and Edge's SigLIP2 encoder (16 px patches merged 2x2, transformers 5.25
    ``Cosmos3EdgeVideoProcessor``), whose processor also puts a timestamp before each frame.
    """

    name = "cosmos3"
    patch_multiple = 32
    optional_answer_tags = ("<answer>", "</answer>")

    def _messages(
        self, media: tuple[Part, ...], question: str, reasoning: bool
    ) -> tuple[ChatMessage, ...]:
        text = question + "\n\n" + COSMOS3_REASONING_PROMPT if reasoning else question
        return (
            ChatMessage("system", (TextPart(COSMOS3_SYSTEM_PROMPT),)),
            ChatMessage("user", (*media, TextPart(text))),
        )


REASON1 = Reason1Profile()
REASON2 = Reason2Profile()
COSMOS3 = Cosmos3Profile()
PROFILE_OBJECTS: tuple[PromptProfile, ...] = (REASON1, REASON2, COSMOS3)

_BY_ARCHITECTURE = {
    "qwen2_5_vl": REASON1,
    "qwen2_vl": REASON1,
    "qwen3_vl": REASON2,
    "cosmos3": COSMOS3,
}


def profile_for(name: str, architecture: str) -> PromptProfile:
    """The prompt profile ``name`` selects for a model of ``architecture``.

    Args:
        name: ``auto``, ``reason1``, ``reason2`` or ``cosmos3``.
        architecture: The model's architecture, e.g. ``qwen2_5_vl`` or ``cosmos3_edge`` (a
            config ``model_type``) or ``Qwen3VLForConditionalGeneration``; only used when
            ``name`` is ``auto``.

    Returns:
        The profile. ``auto`` with an unknown architecture gives ``reason1`` and logs a warning.

    Raises:
        ConfigError: ``name`` is not a known profile.
    """
    if name == "reason1":
        return REASON1
    if name == "reason2":
        return REASON2
    if name == "cosmos3":
        return COSMOS3
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


def goal_question(question: str, goal: str, multiple_choice: bool = False) -> str:
    """``question`` framed by ``goal`` as upstream's embodied questions are ("" goal: as is).

    The default question becomes upstream's own ("what is the most plausible next immediate
    subtask", "... from the choices below" with options); any other question follows the
    goal sentences.
    """
    question = question.strip()
    goal = goal.strip()
    if not goal:
        return question
    if question == DEFAULT_QUESTION:
        question = GOAL_QUESTION_CHOICES if multiple_choice else GOAL_QUESTION
    return GOAL_CONTEXT.format(goal=goal) + " " + question


def question_text(
    question: str, action_space: ActionSpace, choices: Sequence[str] = (), goal: str = ""
) -> str:
    """The question part of the user turn: the question, the actions, the answer object.

    Args:
        question: The question.
        action_space: The allowed actions (restricted to ``choices`` if any).
        choices: Multiple-choice options, in order; empty for an open question.
        goal: The task's overall goal ("" for none): see ``goal_question``.

    Returns:
        The text, without the profile's reasoning instructions.
    """
    lines = [goal_question(question, goal, bool(choices))]
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


_TRANSPORTS = {"compressed", "compresseddepth", "theora", "zstd", "ffmpeg", "h264", "raw"}
_COLOR_STREAMS = {"color", "rgb"}


def camera_label(topic: str) -> str:
    """The name people give the camera of ``topic``: its last namespace before the image.

    Transport suffixes (``compressed`` ...) and image names (``image_raw``, ``image_rect_color``
    ...) are dropped, then ``color``/``rgb`` stream names: ``/front/image_raw/compressed`` is
    ``front``, ``/robot/wrist_cam/color/image_raw`` is ``wrist_cam``. A name with nothing left
    is returned as given.
    """
    parts = [p for p in topic.strip().split("/") if p]
    while parts and (parts[-1].lower() in _TRANSPORTS or parts[-1].lower().startswith("image")):
        parts.pop()
    if len(parts) > 1 and parts[-1].lower() in _COLOR_STREAMS:
        parts.pop()
    return parts[-1] if parts else topic.strip()


def camera_labels(topics: Sequence[str], names: Sequence[str] = ()) -> tuple[str, ...]:
    """One prompt label per topic: ``names`` as given, else ``camera_label`` of each topic.

    Derived labels that would be equal fall back to the topics themselves (without the leading
    slash), so two cameras never share a label.

    Raises:
        ConfigError: ``names`` is given but does not hold one unique, non-empty name per topic.
    """
    if names:
        cleaned = tuple(n.strip() for n in names)
        if len(cleaned) != len(topics):
            raise ConfigError(
                f"camera_names must name each of the {len(topics)} image topics in order, "
                f"got {len(cleaned)} name(s): {list(names)!r}"
            )
        if any(not n for n in cleaned) or len(set(cleaned)) != len(cleaned):
            raise ConfigError(f"camera_names must be unique and non-empty, got {list(names)!r}")
        return cleaned
    derived = [camera_label(t) for t in topics]
    return tuple(
        label if derived.count(label) == 1 else topic.strip().lstrip("/")
        for label, topic in zip(derived, topics, strict=True)
    )


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
