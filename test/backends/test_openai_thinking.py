"""The openai backend's thinking budget, thinking deadline and constrained answer, against the
real loopback HTTP server (``ChatCompletionsServer`` stands in for vLLM / trtllm-serve, which
cannot run here: no GPU, no weights).

Thinking ends at whichever comes first of the model ending it, ``max_thinking_tokens`` streamed
tokens and ``max_thinking_s`` seconds; the answer is then asked for as a continuation of the
prefilled thinking, constrained by ``response_format``. The server records every request, so
the prefilled assistant turns and the fields asking for the continuation are checked as sent.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest

from cosmos_reason_ros.backends.config import BackendConfig
from cosmos_reason_ros.backends.openai.backend import OpenAIBackend
from cosmos_reason_ros.core.errors import BackendError, GenerationCancelled
from cosmos_reason_ros.core.generation import (
    AnswerFormat,
    ChatMessage,
    GenerationRequest,
    GenerationResult,
    SamplingSettings,
    TextPart,
)
from cosmos_reason_ros.testing.openai_server import ChatCompletionsServer, Reply

SCHEMA = {
    "type": "object",
    "properties": {"action": {"type": "string", "enum": ["forward", "stop"]}},
    "required": ["action"],
}
JSON = '{"action": "forward"}'
REASON1 = ("</think>\n\n<answer>\n", "\n</answer>")
REASON2 = ("</think>\n\n", "")


def fmt(budget: int = 64, deadline_s: float = 0.0, layout: tuple[str, str] = REASON1) -> Any:
    return AnswerFormat(
        think_end="</think>",
        answer_prefix=layout[0],
        answer_suffix=layout[1],
        json_schema=SCHEMA,
        max_thinking_tokens=budget,
        max_thinking_s=deadline_s,
    )


def request(answer_format: AnswerFormat | None, deltas: list[str], **kw: Any) -> Any:
    return GenerationRequest(
        messages=(ChatMessage("user", (TextPart("What next?"),)),),
        clips=(),
        sampling=SamplingSettings(max_new_tokens=300),
        answer_format=answer_format,
        on_text=lambda d, n: deltas.append(d),
        **kw,
    )


def continuation_answers(answer: str = JSON, **kw: Any) -> Any:
    """A responder: a request continuing a prefilled assistant turn gets ``answer``."""

    def respond(body: dict[str, Any]) -> Reply | None:
        if body["messages"][-1]["role"] == "assistant":
            return Reply.answer(answer, **kw)
        return None

    return respond


def backend(srv: ChatCompletionsServer, **overrides: Any) -> OpenAIBackend:
    fields: dict[str, Any] = {
        "backend": "openai",
        "model": "test-model",
        "base_url": srv.base_url,
        "timeout_s": 5.0,
        "max_retries": 2,
    }
    fields.update(overrides)
    b = OpenAIBackend(BackendConfig(**fields), backoff_base_s=0.01, backoff_max_s=0.1)
    b.load()
    return b


def run(reply: Reply, answer_format: AnswerFormat | None, **overrides: Any) -> Any:
    deltas: list[str] = []
    with ChatCompletionsServer(default=reply, responder=continuation_answers()) as srv:
        result = backend(srv, **overrides).generate(request(answer_format, deltas))
    return result, srv.chat_requests, deltas


def check_layout(result: GenerationResult, deltas: list[str], layout: tuple[str, str]) -> None:
    """Joined deltas are the text; the text is thinking, the prefix, the JSON, the suffix."""
    assert "".join(deltas) == result.text
    assert result.answer_json == JSON
    assert result.text.endswith(layout[0] + JSON + layout[1])


def test_the_model_ending_its_thinking_stops_the_stream_and_a_constrained_answer_follows() -> None:
    thinking = "<think>\nthe path is clear\n</think>\n\n<answer>\nfree text the model goes on with"
    result, requests, deltas = run(Reply.answer(thinking, chunks=12), fmt(64))
    first, second = requests
    assert "response_format" not in first.body  # the thinking stays free
    assert second.prefill == "<think>\nthe path is clear\n</think>\n\n<answer>\n"
    assert second.body["continue_final_message"] is True
    assert second.body["add_generation_prompt"] is False
    assert second.body["response_format"]["json_schema"]["schema"] == SCHEMA
    assert second.messages[:-1] == first.messages
    assert result.text == second.prefill + JSON + "\n</answer>"
    assert result.thinking == "\nthe path is clear\n"
    assert (result.thinking_ended_by, result.answer_json) == ("model", JSON)
    check_layout(result, deltas, REASON1)
    assert "free text" not in result.text


def test_the_token_budget_cuts_the_thinking_and_the_answer_gets_the_tokens_left() -> None:
    endless = "<think>\n" + "".join(f"step {i}. " for i in range(60))
    result, requests, deltas = run(Reply.answer(endless, chunks=60), fmt(8))
    first, second = requests
    assert result.thinking_ended_by == "tokens"
    pieces = Reply.answer(endless, chunks=60).pieces()
    assert second.prefill == "".join(pieces[:8]) + "</think>\n\n<answer>\n"
    assert result.thinking == "".join(pieces[:8])[len("<think>") :]
    assert second.body["max_tokens"] == 300 - 8
    assert first.body["max_tokens"] == 300
    check_layout(result, deltas, REASON1)


def test_a_marker_split_across_chunks_is_found_and_never_shown_in_half() -> None:
    split = Reply.answer("<think>\nok </think>\n\nanswer t", chunks=2)
    assert split.pieces() == ["<think>\nok </th", "ink>\n\nanswer t"]
    result, requests, deltas = run(split, fmt(64))
    assert requests[1].prefill == "<think>\nok </think>\n\n<answer>\n"
    assert (result.thinking, result.thinking_ended_by) == ("\nok ", "model")
    assert deltas[:2] == ["<think>\nok ", "</think>"]  # "</th" waited for the rest
    # The budget ends while a marker is half written: it is completed, not repeated.
    half = Reply.answer("<think>\nok </thi" + "x" * 16, chunks=2)
    assert half.pieces()[0] == "<think>\nok </thi"
    result, requests, deltas = run(half, fmt(1))
    assert requests[1].prefill == "<think>\nok </think>\n\n<answer>\n"
    assert (result.thinking, result.thinking_ended_by) == ("\nok ", "tokens")
    check_layout(result, deltas, REASON1)


def test_the_deadline_cuts_a_slow_thinking_stream() -> None:
    slow = Reply.answer("<think>\n" + "word " * 200, chunks=200, chunk_delay_s=0.02)
    t0 = time.monotonic()
    result, requests, deltas = run(slow, fmt(10_000, deadline_s=0.3))
    elapsed = time.monotonic() - t0
    assert result.thinking_ended_by == "deadline"
    assert 0.3 <= result.thinking_s < 0.3 + 0.25
    assert elapsed < 2.0
    assert len(requests) == 2
    check_layout(result, deltas, REASON1)


def test_the_deadline_cuts_a_server_that_went_silent_long_before_the_read_timeout() -> None:
    silent = Reply(text="<think>\nlooking around", chunks=4, stall_s=30, stall_after_chunks=2)
    t0 = time.monotonic()
    result, requests, deltas = run(silent, fmt(10_000, deadline_s=0.4), timeout_s=20.0)
    assert time.monotonic() - t0 < 3.0
    assert result.thinking_ended_by == "deadline"
    assert requests[1].prefill == "".join(silent.pieces()[:2]) + "</think>\n\n<answer>\n"
    check_layout(result, deltas, REASON1)


@pytest.mark.parametrize("key", ["reasoning_content", "reasoning"])
def test_thinking_split_off_by_a_reasoning_parser_is_read_and_laid_out_between_markers(
    key: str,
) -> None:
    reasoning = "the arm is near the cup"
    reply = Reply.answer("\n\nfree", reasoning=reasoning, reasoning_chunks=5, reasoning_key=key)
    result, requests, deltas = run(reply, fmt(64, layout=REASON2))
    assert result.thinking == "the arm is near the cup"
    assert requests[1].prefill == "<think>\nthe arm is near the cup\n</think>\n\n"
    assert result.text == requests[1].prefill + JSON
    assert result.thinking_ended_by == "model"
    check_layout(result, deltas, REASON2)


def test_after_reasoning_mode_takes_the_constrained_answer_from_the_same_stream() -> None:
    reply = Reply.answer("\n\n" + JSON + "\n", reasoning="clear path", reasoning_chunks=3)
    result, requests, deltas = run(reply, fmt(64), structured_output="after_reasoning")
    assert len(requests) == 1
    assert requests[0].body["response_format"]["json_schema"]["schema"] == SCHEMA
    assert result.text == "<think>\nclear path\n</think>\n\n<answer>\n" + JSON + "\n</answer>"
    assert (result.thinking, result.thinking_ended_by) == ("clear path", "model")
    check_layout(result, deltas, REASON1)


def test_after_reasoning_mode_still_cuts_a_thinking_over_budget() -> None:
    reply = Reply.answer(JSON, reasoning="x " * 50, reasoning_chunks=50)
    result, requests, deltas = run(reply, fmt(5), structured_output="after_reasoning")
    assert len(requests) == 2 and result.thinking_ended_by == "tokens"
    assert result.thinking == "x " * 5
    assert requests[1].body["continue_final_message"] is True
    check_layout(result, deltas, REASON1)


def test_structured_output_off_cuts_the_thinking_but_leaves_the_answer_unconstrained() -> None:
    reply = Reply.answer("<think>\n" + "y " * 40, chunks=40)
    result, requests, deltas = run(reply, fmt(4), structured_output="off")
    assert "response_format" not in requests[1].body
    assert requests[1].body["continue_final_message"] is True
    assert (result.answer_json, result.thinking) == (None, None)
    assert result.thinking_ended_by == "tokens"
    assert result.text == requests[1].prefill + JSON
    assert "".join(deltas) == result.text


def test_a_model_that_stops_inside_its_thinking_is_still_asked_for_the_answer() -> None:
    result, requests, deltas = run(Reply.answer("<think>\nhmm", chunks=2), fmt(64))
    assert requests[1].prefill == "<think>\nhmm</think>\n\n<answer>\n"
    assert result.thinking_ended_by == "model"
    check_layout(result, deltas, REASON1)


def test_unconstrained_requests_lay_out_split_thinking_with_the_model_s_own_answer() -> None:
    reply = Reply.answer("\n\nmove forward", reasoning="clear", reasoning_chunks=2)
    result, requests, deltas = run(reply, None)
    assert len(requests) == 1
    assert result.text == "<think>\nclear\n</think>\n\nmove forward"
    assert result.answer_json is None and "".join(deltas) == result.text


def test_the_answer_request_is_retried_on_a_server_error_and_fails_clearly_on_a_refusal() -> None:
    thinking = Reply.answer("<think>\nok</think>", chunks=2)
    answers = iter([Reply.error(500), Reply.answer(JSON)])

    def flaky(body: dict[str, Any]) -> Reply | None:
        return next(answers) if body["messages"][-1]["role"] == "assistant" else None

    deltas: list[str] = []
    with ChatCompletionsServer(default=thinking, responder=flaky) as srv:
        result = backend(srv).generate(request(fmt(64), deltas))
        assert len(srv.chat_requests) == 3
    check_layout(result, deltas, REASON1)

    def refuses(body: dict[str, Any]) -> Reply | None:
        last = body["messages"][-1]["role"] == "assistant"
        return Reply.error(400, "continue_final_message is not supported") if last else None

    with (
        ChatCompletionsServer(default=thinking, responder=refuses) as srv,
        pytest.raises(BackendError, match="HTTP 400: continue_final_message is not"),
    ):
        backend(srv).generate(request(fmt(64), []))


def test_cancel_while_the_server_is_silent_stops_within_a_poll() -> None:
    cancel = threading.Event()
    silent = Reply(text="<think>\nx", chunks=2, stall_s=30, stall_after_chunks=1)
    with ChatCompletionsServer(default=silent) as srv:
        b = backend(srv, timeout_s=20.0)
        threading.Timer(0.3, cancel.set).start()
        t0 = time.monotonic()
        with pytest.raises(GenerationCancelled):
            b.generate(request(fmt(64), [], cancel=cancel))
    assert time.monotonic() - t0 < 1.5


def test_capabilities_say_what_each_mode_enforces() -> None:
    with ChatCompletionsServer() as srv:
        for mode, constrained in (("auto", True), ("after_reasoning", True), ("off", False)):
            caps = backend(srv, structured_output=mode).describe().capabilities
            assert (caps.thinking_budget, caps.thinking_deadline) == (True, True)
            assert caps.constrained_answer is constrained
            assert (caps.video_input, caps.streaming, caps.cancel) == (True, True, True)
        assert not backend(srv, video_transport="images").describe().capabilities.video_input


def test_answers_stay_json_exact_when_the_server_pads_them_with_whitespace() -> None:
    padded = json.dumps({"action": "stop"}, indent=None)
    result, _, deltas = run(Reply.answer("<think>\nk</think>", chunks=2), fmt(64))
    assert result.answer_json == JSON
    with ChatCompletionsServer(
        default=Reply.answer("<think>\nk</think>"),
        responder=continuation_answers("\n  " + padded + " \n", chunks=6),
    ) as srv:
        out = backend(srv).generate(request(fmt(64), deltas := []))
    assert out.answer_json == padded
    assert out.text.endswith("<answer>\n" + padded + "\n</answer>")
    assert "".join(deltas) == out.text
