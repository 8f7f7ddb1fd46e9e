"""What transformers' ``generate`` needs from a request: the logits processors in the order
constrained decoding requires, stopping on cancel, and a synchronous streamer of text deltas."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from transformers import (
    LogitsProcessor,
    LogitsProcessorList,
    StoppingCriteria,
    StoppingCriteriaList,
)
from transformers.generation.streamers import BaseStreamer

from cosmos_reason_ros.backends.transformers.constrained import AnswerConstraint
from cosmos_reason_ros.core.generation import GenerationRequest, TextCallback


@dataclass
class GenerationPlan:
    """``model.generate`` keyword arguments, and the answer constraint among their processors
    (None when the request is not constrained), whose ``spans()`` say where the answer is."""

    kwargs: dict[str, Any]
    constraint: AnswerConstraint | None


def plan_generation(
    model: Any,
    tokenizer: Any,
    request: GenerationRequest,
    streamer: BaseStreamer,
    *,
    started_at: float,
    pre_processors: Sequence[LogitsProcessor] = (),
) -> GenerationPlan:
    """How to call ``model.generate`` for ``request``.

    The logits processors are built here, in a fixed order (``pre_processors``, repetition and
    presence penalties, answer constraint, temperature, top-k, top-p), and generate's own are
    switched off: the constraint must mask before top-k/top-p, or they may leave no allowed
    token. The checkpoint's generation config (e.g. ``top_k``) is overridden so that only
    ``request.sampling`` decides.
    Generation ends at the constraint's end-of-turn token as well as the model's own stops.

    Args:
        model: The loaded model.
        tokenizer: Its tokenizer.
        request: What to generate.
        streamer: Receives the generated tokens.
        started_at: ``time.monotonic()`` at the start of generation (the thinking deadline
            counts from it).
        pre_processors: Processors that run first (tests put an adversary here).
    """
    from transformers import (
        RepetitionPenaltyLogitsProcessor,
        TemperatureLogitsWarper,
        TopKLogitsWarper,
        TopPLogitsWarper,
    )

    sampling = request.sampling
    processors = LogitsProcessorList(pre_processors)
    if sampling.repetition_penalty != 1.0:
        processors.append(RepetitionPenaltyLogitsProcessor(sampling.repetition_penalty))
    if sampling.presence_penalty != 0.0:
        processors.append(PresencePenalty(sampling.presence_penalty))
    stops = _stop_ids(model)
    constraint = None
    if request.constrained and request.answer_format is not None:
        constraint = AnswerConstraint(
            tokenizer,
            request.answer_format,
            int(model.config.get_text_config().vocab_size),
            max_new_tokens=sampling.max_new_tokens,
            stop_ids=stops,
            started_at=started_at,
        )
        processors.append(constraint)
        stops = sorted({*stops, constraint.end_of_turn})
    do_sample = sampling.temperature > 0
    if do_sample:
        if sampling.temperature != 1.0:
            processors.append(TemperatureLogitsWarper(sampling.temperature))
        if sampling.top_k > 0:
            processors.append(TopKLogitsWarper(sampling.top_k))
        if sampling.top_p < 1.0:
            processors.append(TopPLogitsWarper(sampling.top_p))
    stopping = StoppingCriteriaList()
    if request.cancel is not None:
        stopping.append(_CancelCriteria(request.cancel))
    kwargs: dict[str, Any] = {
        "max_new_tokens": sampling.max_new_tokens,
        "do_sample": do_sample,
        "temperature": 1.0,
        "top_p": 1.0,
        "top_k": 0 if do_sample else None,
        "repetition_penalty": 1.0,
        "logits_processor": processors,
        "stopping_criteria": stopping,
        "streamer": streamer,
    }
    if stops:
        kwargs["eos_token_id"] = stops
    return GenerationPlan(kwargs, constraint)


def _stop_ids(model: Any) -> list[int]:
    """The tokens the model's generation config ends generation with."""
    eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    if eos is None:
        return []
    return sorted({int(e) for e in (eos if isinstance(eos, (list, tuple)) else [eos])})


class PresencePenalty(LogitsProcessor):
    """Subtracts ``penalty`` once from the logit of every token generated so far (not the
    prompt's): vLLM's and OpenAI's ``presence_penalty``. One instance per ``generate`` call."""

    def __init__(self, penalty: float) -> None:
        self._penalty = penalty
        self._prompt_len: int | None = None

    def __call__(
        self, input_ids: torch.LongTensor, scores: torch.FloatTensor
    ) -> torch.FloatTensor:
        if self._prompt_len is None:
            self._prompt_len = int(input_ids.shape[1])
        generated = input_ids[:, self._prompt_len :]
        if generated.shape[1]:
            seen = torch.zeros_like(scores).scatter_(1, generated, 1.0)
            return scores - self._penalty * seen  # type: ignore[return-value]
        return scores


class _CancelCriteria(StoppingCriteria):
    """Stops generation at the next step once ``event`` is set."""

    def __init__(self, event: threading.Event) -> None:
        self._event = event

    def __call__(
        self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any
    ) -> Any:
        return torch.full(
            (input_ids.shape[0],), self._event.is_set(), dtype=torch.bool, device=input_ids.device
        )


class DeltaStreamer(BaseStreamer):
    """Synchronous streamer: decodes new tokens incrementally and calls ``on_text``.

    Runs inside ``generate`` on the generating thread (no extra thread). Text is emitted only
    once it decodes to whole characters, so deltas concatenate to the full decoded text.
    """

    def __init__(self, tokenizer: Any, on_text: TextCallback | None) -> None:
        self._tokenizer = tokenizer
        self._on_text = on_text
        self._prompt_seen = False
        self._ids: list[int] = []
        self._prefix_offset = 0
        self._read_offset = 0
        self.first_token_time: float | None = None

    def put(self, value: torch.Tensor) -> None:
        """Receive the prompt (first call, ignored) or the newly generated token(s)."""
        if not self._prompt_seen:
            self._prompt_seen = True
            return
        if self.first_token_time is None:
            self.first_token_time = time.monotonic()
        self._ids.extend(int(t) for t in value.reshape(-1).tolist())
        if self._on_text is not None:
            self._emit(final=False)

    def end(self) -> None:
        """Flush text held back at a partial character."""
        if self._on_text is not None:
            self._emit(final=True)

    def _emit(self, final: bool) -> None:
        decode = self._tokenizer.decode
        before = decode(
            self._ids[self._prefix_offset : self._read_offset], skip_special_tokens=True
        )
        now = decode(self._ids[self._prefix_offset :], skip_special_tokens=True)
        if len(now) <= len(before) or (now.endswith("\ufffd") and not final):
            return
        self._prefix_offset, self._read_offset = self._read_offset, len(self._ids)
        if self._on_text is not None:
            self._on_text(now[len(before) :], len(self._ids))
