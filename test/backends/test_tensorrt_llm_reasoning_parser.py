"""Issue 22, items 2 and 4: what a reasoning parser does in TensorRT-LLM main, through the
stand-in with the checkpoints' real tokenizers, and what the backend does about it.

Item 2: ``thinking_token_budget`` matches token ids of ``<think>``/``</think>`` encoded alone
(``llmapi/thinking_budget.py`` at 17c14473). Qwen2.5's BPE (Reason1) writes ``<think>\\n`` with a
``>\\n`` token, so the budget never fires; the tiny Reason1 tokenizer lacks that merge, so the
tests add ``>\\n`` to a copy of it. Item 4: a plain guide on an LLM with a reasoning parser is
wrapped in a ``<think>`` block (``adapt_guided_decoding_for_reasoning_parser``).
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from trtllm_cases import REASON1_PREFIX, REASON1_SUFFIX, config, make_request

from cosmos_reason_ros.backends.tensorrt_llm.backend import TensorRTLLMBackend
from cosmos_reason_ros.testing.tensorrt_llm_standin import Reply, Runtime, installed

ANSWER = '{"action": "slow_down"}'
WORDS = tuple(f" w{i}" for i in range(12))


@pytest.fixture(scope="module")
def qwen25_bpe_dir(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny Reason1 checkpoint with Qwen2.5's ``>\\n`` token, as the real vocabulary has."""
    from tokenizers import AddedToken
    from transformers import AutoTokenizer

    out = tmp_path_factory.mktemp("qwen25_bpe") / "model"
    shutil.copytree(tiny_model_dir, out)
    tokenizer = AutoTokenizer.from_pretrained(out)
    tokenizer.add_tokens([AddedToken(">\n", normalized=False, special=False)])
    tokenizer.save_pretrained(out)
    return out


def _tokenizer(path: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path)


def _generate(runtime: Runtime, params_kwargs: dict[str, Any], **llm_kwargs: Any) -> Any:
    with installed("main", runtime):
        import tensorrt_llm

        params = tensorrt_llm.SamplingParams(**params_kwargs)
        llm = tensorrt_llm.LLM(model="nvidia/Cosmos-Reason1-7B", **llm_kwargs)

        async def run() -> Any:
            output = llm.generate_async("hi", sampling_params=params, streaming=True)
            async for _ in output:
                pass
            return output

        return asyncio.run(run())


def test_item2_standin_budget_fires_on_the_token_ids_of_qwen3_markers(
    tiny_reason2_dir: Path,
) -> None:
    tokenizer = _tokenizer(tiny_reason2_dir)
    runtime = Runtime(tokenizer=tokenizer)
    runtime.push(Reply.of("<think>\n", *WORDS, "</think>", "\n\n", ANSWER))
    output = _generate(
        runtime, {"max_tokens": 64, "thinking_token_budget": 3}, reasoning_parser="qwen3"
    )
    text = output.outputs[0].text
    thinking, rest = text.removeprefix("<think>").split("</think>")
    # three tokens after <think>, then </think> forced and the reply goes on after its own
    assert len(tokenizer.encode(thinking, add_special_tokens=False)) == 3
    assert rest == "\n\n" + ANSWER


def test_item2_standin_budget_never_fires_where_think_newline_tokenizes_apart(
    qwen25_bpe_dir: Path,
) -> None:
    runtime = Runtime(tokenizer=_tokenizer(qwen25_bpe_dir))
    runtime.push(Reply.of("<think>\n", *WORDS, "</think>", "\n\n", ANSWER))
    output = _generate(
        runtime, {"max_tokens": 200, "thinking_token_budget": 3}, reasoning_parser="qwen3"
    )
    assert output.outputs[0].text == "<think>\n" + "".join(WORDS) + "</think>\n\n" + ANSWER


def test_item2_reason1_tokenizer_makes_the_backend_enforce_the_budget_with_two_calls(
    qwen25_bpe_dir: Path,
) -> None:
    runtime = Runtime(tokenizer=_tokenizer(qwen25_bpe_dir))
    runtime.push(Reply.of("<think>\n", *WORDS, "</think>", "\n\n<answer>\n"), Reply.of(ANSWER))
    with installed("main", runtime):
        backend = TensorRTLLMBackend(config(model=str(qwen25_bpe_dir), max_num_tokens=16384))
        backend.load()
        try:
            result = backend.generate(make_request(budget=4))
        finally:
            backend.close()
    thinking, answer = runtime.calls
    assert not any("reasoning_parser" in line for line in runtime.log)
    assert thinking.sampling_params.max_tokens == 4 and thinking.guide is None
    assert result.thinking_ended_by == "tokens" and result.answer_json == ANSWER
    assert answer.guide is not None and answer.guide[0] == "json"
    assert result.text.endswith(REASON1_PREFIX + ANSWER + REASON1_SUFFIX)


def test_item4_standin_wraps_a_json_guide_in_a_think_block_under_a_reasoning_parser() -> None:
    from cosmos_reason_ros.testing.tensorrt_llm_standin.sampling import GuidedDecodingParams

    schema = {"type": "object"}
    runtime = Runtime()
    runtime.push(Reply.of(ANSWER))
    output = _generate(
        runtime,
        {"max_tokens": 64, "guided_decoding": GuidedDecodingParams(json=schema)},
        reasoning_parser="qwen3",
        guided_decoding_backend="xgrammar",
    )
    (call,) = runtime.calls
    assert call.guide is not None and call.guide[0] == "structural_tag"
    tag = json.loads(call.guide[1])["format"]
    assert tag["elements"][0]["begin"] == "<think>" and tag["elements"][1]["json_schema"] == schema
    assert output.outputs[0].text == "<think>" + ANSWER  # the guide opened a reasoning block


def test_item4_standin_answer_call_after_a_deadline_is_not_forced_into_a_second_think(
    tiny_model_dir: Path,
) -> None:
    runtime = Runtime(stop_tokens={"</think>": ("</", "think", ">")})
    runtime.push(Reply(("<think>", *[" x"] * 200), step_s=0.02), Reply.of(ANSWER))
    with installed("main", runtime):
        backend = TensorRTLLMBackend(config(model=str(tiny_model_dir), max_num_tokens=16384))
        backend.load()
        try:
            result = backend.generate(make_request(budget=400, deadline_s=0.2))
        finally:
            backend.close()
    assert result.thinking_ended_by == "deadline" and result.answer_json == ANSWER
    assert result.text.count("<think>") == 1 and "<think>" not in runtime.calls[1].text
