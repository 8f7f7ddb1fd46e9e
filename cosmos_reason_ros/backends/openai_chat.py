"""The OpenAI chat-completions wire format, both ways: the request a ``GenerationRequest``
becomes (``build_chat_kwargs``), and the streamed chunks assembled back into generated text
(``Assembler``). Pure apart from frame encoding; no network."""

from __future__ import annotations

import time
from typing import Any

from cosmos_reason_ros.backends.config import BackendConfig
from cosmos_reason_ros.backends.media import jpeg_data_url, mp4_data_url
from cosmos_reason_ros.backends.messages import processor_kwargs, video_clips
from cosmos_reason_ros.core.errors import BackendError
from cosmos_reason_ros.core.generation import (
    AnswerFormat,
    ChatMessage,
    GenerationRequest,
    GenerationResult,
    TextCallback,
    TextPart,
)

__all__ = ["Assembler", "build_chat_kwargs"]


def _content(message: ChatMessage, request: GenerationRequest, config: BackendConfig) -> Any:
    if all(isinstance(p, TextPart) for p in message.parts):
        return "".join(p.text for p in message.parts if isinstance(p, TextPart))
    parts: list[dict[str, Any]] = []
    for part in message.parts:
        if isinstance(part, TextPart):
            parts.append({"type": "text", "text": part.text})
            continue
        if not 0 <= part.clip_index < len(request.clips):
            raise BackendError(
                f"message refers to clip {part.clip_index} but the request has "
                f"{len(request.clips)} clip(s)"
            )
        clip = request.clips[part.clip_index]
        if config.video_transport == "video":
            parts.append({"type": "video_url", "video_url": {"url": mp4_data_url(clip)}})
        else:
            parts.extend(
                {"type": "image_url", "image_url": {"url": jpeg_data_url(f, config.jpeg_quality)}}
                for f in clip.frames
            )
    return parts


def _uses_schema(request: GenerationRequest, mode: str) -> bool:
    fmt = request.answer_format
    if mode == "off" or fmt is None or not request.constrained:
        return False
    return mode == "after_reasoning" or fmt.max_thinking_tokens == 0


def build_chat_kwargs(
    request: GenerationRequest,
    config: BackendConfig,
    structured_output: str = "auto",
    extra_body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The keyword arguments of ``client.chat.completions.create`` for ``request``.

    Pure apart from frame encoding; no network. See the module docstring for the layout.
    """
    s = request.sampling
    kwargs: dict[str, Any] = {
        "model": config.model,
        "messages": [
            {"role": m.role, "content": _content(m, request, config)} for m in request.messages
        ],
        "max_tokens": s.max_new_tokens,
        "temperature": s.temperature,
        "top_p": s.top_p,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    if s.seed is not None:
        kwargs["seed"] = s.seed
    body: dict[str, Any] = {}
    if s.repetition_penalty != 1.0:
        body["repetition_penalty"] = s.repetition_penalty  # vLLM, trtllm-serve extension
    clips = video_clips(request)
    if config.video_transport == "video" and clips:
        body["mm_processor_kwargs"] = processor_kwargs(clips)
    fmt = request.answer_format
    if fmt is not None and _uses_schema(request, structured_output):
        kwargs["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "answer", "schema": fmt.json_schema, "strict": True},
        }
    body.update(extra_body or {})
    if body:
        kwargs["extra_body"] = body
    return kwargs


class Assembler:
    """Collects streamed deltas into the answer text, feeding ``on_text`` as they come.

    With ``wrap`` (a schema-constrained request) the server's content is only the JSON: the
    assembler lays it out as ``answer_format`` says, putting any thinking the server split off
    (``reasoning_content``, or ``reasoning`` in newer vLLM) inside ``<think>`` first.
    Text reaching ``on_text`` is never taken back, so no retry happens once ``emitted``.
    """

    def __init__(
        self, on_text: TextCallback | None, wrap: AnswerFormat | None, start: float, pre_s: float
    ) -> None:
        self._on_text = on_text
        self._wrap = wrap
        self._start = start
        self._preprocess_s = pre_s
        self._texts: list[str] = []
        self._reasoning = ""
        self._prefix_sent = False
        self._ttft = 0.0
        self._usage: Any = None
        self.chunks = 0
        self.emitted = False
        self.finished = False

    def feed(self, chunk: Any) -> None:
        """Take one ``ChatCompletionChunk``."""
        if getattr(chunk, "usage", None) is not None:
            self._usage = chunk.usage
        for choice in chunk.choices or ():
            delta = choice.delta
            reasoning = getattr(delta, "reasoning_content", None) or getattr(
                delta, "reasoning", None
            )
            if reasoning and self._wrap is not None:
                self.chunks += 1
                if not self._reasoning:
                    self._emit(self._wrap.think_end.replace("</", "<", 1) + "\n")
                self._reasoning += reasoning
                self._emit(reasoning)
            if delta.content:
                self.chunks += 1
                if self._wrap is not None and not self._prefix_sent:
                    self._prefix_sent = True
                    newline = self._reasoning and not self._reasoning.endswith("\n")
                    self._emit(("\n" if newline else "") + self._wrap.answer_prefix)
                self._emit(delta.content)
            if choice.finish_reason is not None:
                self.finished = True

    def result(self) -> GenerationResult:
        """The result, once the stream finished."""
        if self._wrap is not None and self._wrap.answer_suffix:
            self._emit(self._wrap.answer_suffix)
        return GenerationResult(
            text="".join(self._texts),
            prompt_tokens=int(getattr(self._usage, "prompt_tokens", 0) or 0),
            generated_tokens=int(getattr(self._usage, "completion_tokens", 0) or self.chunks),
            time_to_first_token_s=self._ttft,
            total_s=time.monotonic() - self._start,
            preprocess_s=self._preprocess_s,
        )

    def _emit(self, delta: str) -> None:
        if not delta:
            return
        if not self.emitted:
            self._ttft = time.monotonic() - self._start
            self.emitted = True
        self._texts.append(delta)
        if self._on_text is not None:
            self._on_text(delta, self.chunks)
