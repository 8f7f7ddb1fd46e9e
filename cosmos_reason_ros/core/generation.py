"""The generation port: what the engine asks of a model backend, and what it gets back.

``core`` owns this port; every backend implements it and nothing here knows any backend.
A backend owns a model runtime (in-process transformers, TensorRT-LLM, or a remote
OpenAI-compatible server). It knows nothing about ROS, windows or action spaces: the
``Reasoner`` builds a ``GenerationRequest`` and parses the ``GenerationResult``.

Call order: ``load()`` once, then ``generate()`` any number of times from one thread at a time,
then ``close()``. ``describe()`` may be called at any time from any thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, Protocol

from cosmos_reason_ros.core.errors import ConfigError
from cosmos_reason_ros.core.params import check_fields, param
from cosmos_reason_ros.core.types import Clip


@dataclass(frozen=True)
class TextPart:
    """Plain text inside a chat message."""

    text: str


@dataclass(frozen=True)
class VideoPart:
    """A placeholder for ``GenerationRequest.clips[clip_index]`` inside a chat message."""

    clip_index: int


Part = TextPart | VideoPart


@dataclass(frozen=True)
class ChatMessage:
    """One chat turn. ``role`` is ``system``, ``user`` or ``assistant``."""

    role: str
    parts: tuple[Part, ...]


@dataclass(frozen=True)
class SamplingSettings:
    """Sampling settings. Each field declares its node parameter (``core.params``).

    The defaults are Cosmos-Reason1's sampling with a shorter ``max_new_tokens``; the node's -1
    values stand for each family's whole recipe (``core.recipes``). ``presence_penalty`` is
    subtracted once from the logit of every token already generated (OpenAI / vLLM semantics).
    """

    temperature: float = param(
        0.6, "Sampling temperature; 0 = greedy", live=True, low=0.0, high=2.0, family=True
    )
    top_p: float = param(0.95, "Nucleus sampling mass", live=True, low=0.01, high=1.0, family=True)
    repetition_penalty: float = param(
        1.05, "Repetition penalty", live=True, low=0.5, high=2.0, family=True
    )
    max_new_tokens: int = param(
        1024,
        "Generated tokens at most, thinking and answer (the answer's room after the thinking "
        "budget is checked at configure)",
        live=True,
        low=1,
        high=32768,
        family=True,
    )
    seed: int | None = param(
        None,
        "Sampling seed; -1 = the family's (reason2: fixed; reason1, cosmos3: none); -2 = none "
        "(random)",
        live=True,
        low=-2,
        high=2**31 - 1,
        family=True,
    )
    top_k: int = param(
        0,
        "Sample from the k most likely tokens; 0 = no cut",
        live=True,
        low=0,
        high=100_000,
        family=True,
    )
    presence_penalty: float = param(
        0.0,
        "Subtracted from the logit of every token already generated",
        live=True,
        low=0.0,
        high=2.0,
        family=True,
    )

    def __post_init__(self) -> None:
        check_fields(self)
        if self.seed is not None and self.seed < 0:
            raise ConfigError(f"seed must be >= 0 or None (no fixed seed), got {self.seed}")


@dataclass(frozen=True)
class AnswerFormat:
    """How the model's output is laid out, so a backend can constrain the answer part.

    Output = free thinking, then ``answer_prefix`` (which begins with the ``</think>`` marker),
    then a JSON object matching ``json_schema``, then ``answer_suffix``. Thinking is free for at
    most ``max_thinking_tokens`` tokens; then ``answer_prefix`` is forced.

    Attributes:
        think_end: The marker that ends the thinking, e.g. ``</think>``.
        answer_prefix: Text between the thinking and the JSON, starting with ``think_end``.
        answer_suffix: Text after the JSON (``\\n</answer>`` for reason1, empty for reason2).
        json_schema: JSON schema of the answer object.
        max_thinking_tokens: Thinking budget in tokens; 0 forces the answer at once.
        max_thinking_s: Thinking deadline in seconds after generation starts; 0 = none.
            Whichever of the token budget and the deadline comes first ends the thinking.
    """

    think_end: str
    answer_prefix: str
    answer_suffix: str
    json_schema: dict[str, Any]
    max_thinking_tokens: int
    max_thinking_s: float = 0.0


TextCallback = Callable[[str, int], None]
"""Streaming callback: (text generated since the last call, generated tokens so far)."""


@dataclass(frozen=True)
class GenerationRequest:
    """Everything a backend needs for one generation.

    Attributes:
        messages: The chat, with ``VideoPart`` placeholders pointing into ``clips``.
        clips: The frames, one clip per camera.
        sampling: Sampling settings.
        answer_format: When set and ``constrained`` is true, backends that can constrain
            decoding constrain the answer part to ``answer_format.json_schema``.
        constrained: Whether to constrain decoding (where the backend supports it).
        on_text: Optional streaming callback, called from the generating thread.
        cancel: Optional event; when set, generation stops within a token or two and
            ``generate`` raises ``GenerationCancelled``.
    """

    messages: tuple[ChatMessage, ...]
    clips: tuple[Clip, ...]
    sampling: SamplingSettings = field(default_factory=SamplingSettings)
    answer_format: AnswerFormat | None = None
    constrained: bool = True
    on_text: TextCallback | None = None
    cancel: threading.Event | None = None


THINKING_ENDS = ("model", "tokens", "deadline")
"""What can end the thinking: the model wrote the marker, the token budget, or the deadline."""


@dataclass(frozen=True)
class GenerationResult:
    """What the model generated, with token counts and timings (seconds).

    Attributes:
        text: Everything generated, thinking and answer.
        prompt_tokens: Prompt tokens, visual tokens included.
        generated_tokens: Generated tokens.
        time_to_first_token_s: From the start of ``generate`` to the first generated token.
        total_s: The whole ``generate`` call.
        preprocess_s: Of ``total_s``, the time spent building the model inputs.
        thinking: With ``answer_json``, set by a backend that constrained the answer: the
            thinking exactly as generated (without the markers). None: find it in ``text``.
        answer_json: The constrained JSON answer exactly as generated; None when the answer
            was not constrained (the Reasoner then searches ``text``).
        thinking_ended_by: One of ``THINKING_ENDS``, or "" when unknown or not constrained.
        thinking_s: Seconds from the start of generation to the end of the thinking.
    """

    text: str
    prompt_tokens: int
    generated_tokens: int
    time_to_first_token_s: float
    total_s: float
    preprocess_s: float = 0.0
    thinking: str | None = None
    answer_json: str | None = None
    thinking_ended_by: str = ""
    thinking_s: float = 0.0


@dataclass(frozen=True)
class Capabilities:
    """What a backend enforces itself; the Reasoner and the node log and rely on these.

    Attributes:
        thinking_budget: Ends the thinking at ``AnswerFormat.max_thinking_tokens``.
        thinking_deadline: Ends the thinking at ``AnswerFormat.max_thinking_s``.
        constrained_answer: Constrains the answer to ``AnswerFormat.json_schema``, so it
            always parses (``GenerationResult.answer_json`` is set).
        video_input: Gives the model each clip as one video with its timing (not stills).
        streaming: Calls ``GenerationRequest.on_text`` as text arrives.
        cancel: Stops within a token or two of ``GenerationRequest.cancel`` being set.
    """

    thinking_budget: bool = False
    thinking_deadline: bool = False
    constrained_answer: bool = False
    video_input: bool = False
    streaming: bool = False
    cancel: bool = False

    @classmethod
    def everything(cls) -> Capabilities:
        """What an in-process backend with a logits hook enforces: all of it."""
        return cls(**{f.name: True for f in fields(cls)})

    def summary(self) -> str:
        """One line for logs: what is enforced and what is not."""
        names = [f.name for f in fields(self)]
        on = [n for n in names if getattr(self, n)]
        off = [n for n in names if not getattr(self, n)]
        return f"enforced: {', '.join(on) or 'nothing'}; not enforced: {', '.join(off) or 'none'}"


@dataclass(frozen=True)
class BackendInfo:
    """What a backend runs, for logs and diagnostics. Never holds secrets.

    ``architecture`` is a config ``model_type`` (``qwen2_5_vl``, ``qwen3_vl``);
    ``architecture_source`` says what decided it (see ``core.architecture``).
    ``capabilities`` says what the backend enforces itself.
    """

    backend: str
    model: str
    architecture: str = ""
    device: str = ""
    dtype: str = ""
    quantization: str = "none"
    loaded: bool = False
    gpu_memory_bytes: int | None = None
    architecture_source: str = ""
    capabilities: Capabilities = field(default_factory=Capabilities)


class Backend(Protocol):
    """A model runtime. See the module docstring for call order and threading."""

    def load(self) -> None:
        """Load the model. Raises ``BackendError`` (or a subclass) with a clear message."""

    def generate(self, request: GenerationRequest) -> GenerationResult:
        """Generate for ``request``. Raises ``BackendError`` or ``GenerationCancelled``."""

    def close(self) -> None:
        """Release the model and any device memory. Idempotent."""

    def describe(self) -> BackendInfo:
        """Describe the backend and model."""
