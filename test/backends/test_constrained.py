"""Constrained answers: free thinking, forced prefix, schema-valid JSON, forced suffix.

The tiny checkpoints have random weights, so without the constraint their output is noise; every
structural property asserted here comes from the real xgrammar + transformers code paths.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from transformers import AutoModelForImageTextToText, AutoTokenizer, LogitsProcessor

from cosmos_reason_ros.backends import BackendConfig
from cosmos_reason_ros.backends.transformers.backend import TransformersBackend
from cosmos_reason_ros.backends.transformers.constrained import (
    AnswerConstraint,
    compile_answer_grammar,
)
from cosmos_reason_ros.core.errors import BackendError
from cosmos_reason_ros.core.generation import (
    AnswerFormat,
    ChatMessage,
    GenerationRequest,
    SamplingSettings,
    TextPart,
    VideoPart,
)
from cosmos_reason_ros.core.types import Clip
from cosmos_reason_ros.testing.tiny_model import build_tiny_model

ACTIONS = ["stop", "move_forward", "turn_left"]
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "action": {"type": "string", "enum": ACTIONS},
        "target": {"type": "string", "maxLength": 6},
        "parameters": {
            "type": "object",
            "propertyNames": {"maxLength": 4},
            "additionalProperties": {"type": "string", "maxLength": 4},
            "maxProperties": 1,
        },
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "reason": {"type": "string", "maxLength": 8},
    },
    "required": ["action", "target", "parameters", "confidence", "reason"],
    "additionalProperties": False,
}
BUDGET = 6
REASON1 = AnswerFormat("</think>", "</think>\n\n<answer>\n", "\n</answer>", SCHEMA, BUDGET)
REASON2 = AnswerFormat("</think>", "</think>\n\n", "", SCHEMA, BUDGET)
LAYOUTS = {"qwen2_5_vl": (REASON1, 56), "qwen3_vl": (REASON2, 64)}


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return {a: build_tiny_model(tmp_path_factory.mktemp(a), arch=a) for a in LAYOUTS}


@pytest.fixture(scope="module")
def backends(model_dirs: dict[str, Path]) -> Iterator[dict[str, TransformersBackend]]:
    loaded = {
        a: TransformersBackend(BackendConfig(model=str(d), device="cpu"))
        for a, d in model_dirs.items()
    }
    for backend in loaded.values():
        backend.load()
    yield loaded
    for backend in loaded.values():
        backend.close()


@pytest.fixture(scope="module")
def reason1(model_dirs: dict[str, Path]) -> tuple[Any, Any]:
    model = AutoModelForImageTextToText.from_pretrained(model_dirs["qwen2_5_vl"]).eval()
    return model, AutoTokenizer.from_pretrained(model_dirs["qwen2_5_vl"])


def check_answer(text: str, layout: AnswerFormat) -> str:
    """Assert ``text`` = thinking + prefix + schema-valid JSON + suffix; return the thinking."""
    assert layout.answer_prefix in text, text
    thinking, _, answer = text.partition(layout.answer_prefix)
    assert layout.think_end not in thinking
    assert answer.endswith(layout.answer_suffix)
    obj = json.loads(answer[: len(answer) - len(layout.answer_suffix)])
    assert list(obj) == ["action", "target", "parameters", "confidence", "reason"]
    assert obj["action"] in ACTIONS
    assert isinstance(obj["target"], str) and len(obj["target"]) <= 6
    assert isinstance(obj["reason"], str) and len(obj["reason"]) <= 8
    assert isinstance(obj["parameters"], dict) and len(obj["parameters"]) <= 1
    assert all(len(k) <= 4 and len(v) <= 4 for k, v in obj["parameters"].items())
    assert isinstance(obj["confidence"], (int, float)) and 0 <= obj["confidence"] <= 1
    return thinking


def backend_request(
    layout: AnswerFormat, side: int, seed: int, **kwargs: Any
) -> GenerationRequest:
    frames = tuple(np.full((side, side, 3), 60 * i, dtype=np.uint8) for i in range(2))
    return GenerationRequest(
        messages=(ChatMessage("user", (VideoPart(0), TextPart("What next?"))),),
        clips=(Clip("cam", "camera", frames, (0, 500_000_000), 2.0),),
        sampling=SamplingSettings(temperature=1.0, max_new_tokens=160, seed=seed),
        answer_format=layout,
        **kwargs,
    )


@pytest.mark.parametrize("arch", list(LAYOUTS))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_answer_always_has_prefix_schema_valid_json_and_suffix(
    backends: dict[str, TransformersBackend], arch: str, seed: int
) -> None:
    layout, side = LAYOUTS[arch]
    progress: list[tuple[str, int]] = []
    result = backends[arch].generate(
        backend_request(layout, side, seed, on_text=lambda d, n: progress.append((d, n)))
    )
    check_answer(result.text, layout)
    # The stream shows the thinking ending within the budget (plus the marker's own tokens).
    text = ""
    for delta, tokens in progress:
        text += delta
        if layout.think_end in text:
            assert tokens <= BUDGET + len(layout.think_end)
            break
    else:
        pytest.fail(f"the stream never showed {layout.think_end!r}: {text!r}")


def generate_with(
    reason1: tuple[Any, Any],
    constraint: AnswerConstraint,
    *before: LogitsProcessor,
    seed: int = 0,
    max_new_tokens: int = 160,
) -> list[int]:
    model, tokenizer = reason1
    prompt = "<|im_start|>user\nWhat next?<|im_end|>\n<|im_start|>assistant\n"
    input_ids = tokenizer(prompt, return_tensors="pt").input_ids
    torch.manual_seed(seed)
    output = model.generate(
        input_ids=input_ids,
        attention_mask=torch.ones_like(input_ids),
        logits_processor=[*before, constraint],
        do_sample=True,
        top_k=0,
        max_new_tokens=max_new_tokens,
        eos_token_id=[constraint.end_of_turn],
    )
    ids: list[int] = output[0, input_ids.shape[1] :].tolist()
    return ids


def constraint_for(
    reason1: tuple[Any, Any], layout: AnswerFormat, max_new_tokens: int = 160, **kwargs: Any
) -> AnswerConstraint:
    model, tokenizer = reason1
    vocab = model.config.get_text_config().vocab_size
    return AnswerConstraint(tokenizer, layout, vocab, max_new_tokens=max_new_tokens, **kwargs)


@pytest.mark.parametrize("seed", [3, 4])
def test_thinking_is_cut_at_the_token_budget(reason1: tuple[Any, Any], seed: int) -> None:
    _, tokenizer = reason1
    constraint = constraint_for(reason1, REASON1)
    ids = generate_with(reason1, constraint, seed=seed)
    spans = constraint.spans()
    assert spans.thinking_tokens <= BUDGET
    assert spans.thinking_ended_by in ("tokens", "model")
    assert tokenizer.decode(ids[-1:]) == "<|im_end|>"
    text = tokenizer.decode(ids, skip_special_tokens=True)
    check_answer(text, REASON1)
    assert spans.answer_json is not None and json.loads(spans.answer_json)
    assert text.endswith(spans.answer_json + REASON1.answer_suffix)


def test_zero_budget_forces_the_answer_at_once(reason1: tuple[Any, Any]) -> None:
    _, tokenizer = reason1
    layout = AnswerFormat("</think>", "</think>\n\n<answer>\n", "\n</answer>", SCHEMA, 0)
    constraint = constraint_for(reason1, layout)
    text = tokenizer.decode(generate_with(reason1, constraint), skip_special_tokens=True)
    assert text.startswith("</think>\n\n<answer>\n{")
    check_answer(text, layout)
    assert constraint.spans().thinking == ""
    assert constraint.spans().thinking_ended_by == "tokens"


class ScriptedText(LogitsProcessor):
    """Makes the real model emit ``pieces`` first, each piece tokenized on its own."""

    def __init__(self, tokenizer: Any, pieces: list[str]) -> None:
        self.ids = [i for p in pieces for i in tokenizer.encode(p, add_special_tokens=False)]
        self.prompt_len: int | None = None

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> Any:
        self.prompt_len = self.prompt_len or input_ids.shape[1]
        step = input_ids.shape[1] - self.prompt_len
        if step < len(self.ids):
            scores = torch.full_like(scores, float("-inf"))
            scores[0, self.ids[step]] = 0.0
        return scores


def test_marker_split_across_tokens_is_detected_and_the_prefix_completed_once(
    reason1: tuple[Any, Any],
) -> None:
    _, tokenizer = reason1
    script = ScriptedText(tokenizer, ["ok</th", "ink>\n"])  # 2+ tokens; ends inside the prefix
    layout = AnswerFormat("</think>", "</think>\n\n<answer>\n", "\n</answer>", SCHEMA, 20)
    assert len(script.ids) < layout.max_thinking_tokens
    constraint = constraint_for(reason1, layout)
    text = tokenizer.decode(generate_with(reason1, constraint, script), skip_special_tokens=True)
    assert text.startswith("ok</think>\n\n<answer>\n{")
    marker_done = next(
        k for k in range(len(script.ids) + 1) if "</think>" in tokenizer.decode(script.ids[:k])
    )
    assert "</think>" not in tokenizer.decode(script.ids[marker_done - 1 : marker_done])
    spans = constraint.spans()
    assert (spans.thinking_tokens, spans.thinking_ended_by) == (marker_done, "model")
    assert spans.thinking == "ok"
    check_answer(text, layout)


def test_the_deadline_ends_the_thinking_and_says_so(reason1: tuple[Any, Any]) -> None:
    """A clock that jumps past the deadline after three steps ends a 1000-token budget."""
    _, tokenizer = reason1
    ticks = iter([0.0] + [0.0] * 3 + [10.0] * 1000)
    layout = AnswerFormat("</think>", "</think>\n\n<answer>\n", "\n</answer>", SCHEMA, 1000, 5.0)
    constraint = constraint_for(
        reason1, layout, max_new_tokens=1400, started_at=0.0, clock=lambda: next(ticks)
    )
    text = tokenizer.decode(
        generate_with(reason1, constraint, max_new_tokens=1400), skip_special_tokens=True
    )
    spans = constraint.spans()
    assert spans.thinking_ended_by == "deadline"
    assert spans.thinking_tokens <= 4 and spans.thinking_s >= 5.0
    check_answer(text, layout)


class PushStops(LogitsProcessor):
    """Pushes every stop and special token, ``}`` and quotes: what leaked answers before."""

    def __init__(self, tokenizer: Any, vocab: int) -> None:
        from cosmos_reason_ros.testing.adversary import Adversary

        self.inner = Adversary(tokenizer, vocab)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> Any:
        return self.inner(input_ids, scores)


@pytest.mark.parametrize("seed", range(4))
def test_the_adversary_cannot_end_the_turn_inside_the_answer(
    reason1: tuple[Any, Any], seed: int
) -> None:
    model, tokenizer = reason1
    vocab = model.config.get_text_config().vocab_size
    constraint = constraint_for(reason1, REASON1)
    ids = generate_with(reason1, constraint, PushStops(tokenizer, vocab), seed=seed)
    text = tokenizer.decode(ids, skip_special_tokens=True)
    check_answer(text, REASON1)
    assert ids[-1] == constraint.end_of_turn
    assert ids.count(constraint.end_of_turn) == 1


@pytest.mark.parametrize("max_new_tokens", [60, 64, 80, 120])
def test_an_answer_is_closed_in_time_when_tokens_run_short(
    reason1: tuple[Any, Any], max_new_tokens: int
) -> None:
    """Long strings (reason up to 300 characters) and a budget too small to write them out:
    the constraint steers to the shortest valid completion and the turn still ends."""
    model, tokenizer = reason1
    vocab = model.config.get_text_config().vocab_size
    schema = json.loads(json.dumps(SCHEMA))
    schema["properties"]["reason"]["maxLength"] = 300
    schema["properties"]["target"]["maxLength"] = 300
    layout = AnswerFormat("</think>", "</think>\n\n<answer>\n", "\n</answer>", schema, 200)
    constraint = constraint_for(reason1, layout, max_new_tokens=max_new_tokens)
    ids = generate_with(
        reason1, constraint, PushStops(tokenizer, vocab), max_new_tokens=max_new_tokens
    )
    assert len(ids) <= max_new_tokens
    assert ids[-1] == constraint.end_of_turn
    spans = constraint.spans()
    assert spans.answer_json is not None
    obj = json.loads(spans.answer_json)
    assert obj["action"] in ACTIONS and 0 <= obj["confidence"] <= 1


def test_bounded_json_strings_exclude_raw_control_characters(reason1: tuple[Any, Any]) -> None:
    import xgrammar as xgr

    model, tokenizer = reason1
    schema = {"type": "object", "properties": {"t": {"type": "string", "maxLength": 3}}}
    grammar = compile_answer_grammar(tokenizer, schema, model.config.get_text_config().vocab_size)
    assert xgr.GrammarMatcher(grammar).accept_string('{"t": "a')
    assert not xgr.GrammarMatcher(grammar).accept_string('{"t": "\x01')


def test_compiled_grammar_is_cached_per_tokenizer_and_schema(reason1: tuple[Any, Any]) -> None:
    model, tokenizer = reason1
    vocab = model.config.get_text_config().vocab_size
    first = compile_answer_grammar(tokenizer, SCHEMA, vocab)
    assert compile_answer_grammar(tokenizer, dict(SCHEMA), vocab) is first
    assert (
        compile_answer_grammar(tokenizer, {**SCHEMA, "required": ["action"]}, vocab) is not first
    )


def test_prefix_that_does_not_start_with_the_marker_is_refused(reason1: tuple[Any, Any]) -> None:
    layout = AnswerFormat("</think>", "<answer>\n", "", SCHEMA, 4)
    with pytest.raises(BackendError, match="answer_prefix '<answer>\\\\n' must start with"):
        constraint_for(reason1, layout)


def test_batches_larger_than_one_are_refused(reason1: tuple[Any, Any]) -> None:
    model, tokenizer = reason1
    vocab = model.config.get_text_config().vocab_size
    constraint = AnswerConstraint(tokenizer, REASON1, vocab, max_new_tokens=160)
    with pytest.raises(BackendError, match="supports batch size 1, got 2"):
        constraint(torch.zeros((2, 3), dtype=torch.long), torch.zeros((2, vocab)))


def test_unconstrained_request_leaves_the_output_free(
    backends: dict[str, TransformersBackend],
) -> None:
    request = backend_request(REASON1, 56, 0, constrained=False)
    assert REASON1.answer_prefix not in backends["qwen2_5_vl"].generate(request).text
