"""The ``tensorrt_llm`` backend end to end on CPU, through the TensorRT-LLM stand-in.

TensorRT-LLM cannot run here (no NVIDIA GPU, no wheels). ``testing.tensorrt_llm_standin``
stands in for its LLM API: upstream's classes, signatures, checks and streaming behaviour, with
scripted token pieces and delays instead of a model. The backend is the real one (real
Hugging Face processor and chat template of the tiny checkpoint); these tests show what it asks
of TensorRT-LLM and what it makes of the answers. Every test name says "standin".
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from trtllm_cases import REASON1_PREFIX, REASON1_SUFFIX, SCHEMA, config, make_clip, make_request

from cosmos_reason_ros.backends.guides import answer_only_tag
from cosmos_reason_ros.backends.tensorrt_llm.backend import TensorRTLLMBackend
from cosmos_reason_ros.backends.tensorrt_llm.imports import (
    import_tensorrt_llm,
    substitute_tensorrt_llm,
)
from cosmos_reason_ros.core.errors import (
    BackendError,
    BackendUnavailableError,
    GenerationCancelled,
)
from cosmos_reason_ros.core.generation import GenerationRequest
from cosmos_reason_ros.testing.tensorrt_llm_standin import (
    Reply,
    Runtime,
    decision_replies,
    installed,
    pieces_of,
)

ANSWER = '{"action": "slow_down"}'
REASON1_STOP = {"</think>": ("</", "think", ">")}  # Qwen2.5's tokenizer splits the marker


@pytest.fixture
def runtime() -> Runtime:
    return Runtime(stop_tokens=REASON1_STOP)


@contextmanager
def loaded(
    model_dir: Path, runtime: Runtime, release: str = "main", **settings: Any
) -> Iterator[TensorRTLLMBackend]:
    with installed(release, runtime):
        settings.setdefault("max_num_tokens", 16384)
        backend = TensorRTLLMBackend(config(model=str(model_dir), **settings))
        backend.load()
        try:
            yield backend
        finally:
            backend.close()


def streamed(request: GenerationRequest, deltas: list[str]) -> GenerationRequest:
    def on_text(delta: str, tokens: int) -> None:
        deltas.append(delta)

    return GenerationRequest(
        messages=request.messages,
        clips=request.clips,
        sampling=request.sampling,
        answer_format=request.answer_format,
        constrained=request.constrained,
        on_text=on_text,
        cancel=request.cancel,
    )


THINKING = ("<think>", "\nball", " ahead", "\n")
PHASE_ONE = Reply((*THINKING, "</", "think", ">\n\n", "<answer>", *["x"] * 100), step_s=0.01)
PHASE_TWO = Reply(pieces_of(ANSWER))
ONE_CALL = Reply(("<think>", "\nok\n", "</think>", "\n\n<answer>\n", ANSWER, "\n</answer>"))
ONE_CALL_FAILS = Reply((), error="structural tag format not supported")


@pytest.mark.parametrize("release", ["1.2", "main"])
def test_standin_two_calls_continue_phase_one_prompt_with_thinking_and_answer_prefix(
    tiny_model_dir: Path, runtime: Runtime, release: str
) -> None:
    """1.2 has no thinking budget; main falls back to two calls when its one call fails. The
    stop string goes only to phase 1, the JSON guide only to phase 2, whose budget is what
    phase 1 left; Reason1's three-token ``</think>`` never reaches the stream and the runtime
    is aborted, though main's client trims the text without stopping it."""
    runtime.push(*([ONE_CALL_FAILS] if release == "main" else []), PHASE_ONE, PHASE_TWO)
    deltas: list[str] = []
    request = streamed(make_request(budget=64, deadline_s=2.0), deltas)
    with loaded(tiny_model_dir, runtime, release) as backend:
        result = backend.generate(request)
    first, second = runtime.calls[-2:]
    thinking = "".join(THINKING)
    assert second.prompt == first.prompt + thinking + REASON1_PREFIX
    assert first.sampling_params.stop == ["</think>"] and first.guide is None
    assert second.sampling_params.stop is None
    # main's LLM has a reasoning parser, which would wrap a json guide in <think>…</think>.
    only_schema = ("structural_tag", json.dumps(answer_only_tag(SCHEMA)))
    assert second.guide == (only_schema if release == "main" else ("json", json.dumps(SCHEMA)))
    phase_one_tokens = result.generated_tokens - len(PHASE_TWO.pieces)
    assert phase_one_tokens >= len(THINKING) + 3
    assert second.sampling_params.max_tokens == 512 - phase_one_tokens
    assert "".join(deltas) == result.text
    assert result.text == thinking + REASON1_PREFIX + ANSWER + REASON1_SUFFIX
    assert result.text.count("</") == 2  # the answer prefix's and suffix's, nothing leaked
    assert (result.thinking, result.answer_json) == ("\nball ahead\n", ANSWER)
    assert result.thinking_ended_by == "model" and result.thinking_s > 0
    assert first.aborted and first.generated < len(PHASE_ONE.pieces)
    assert not runtime.events(f"request {first.request_id}: EventLoopShutdownError")


def test_standin_token_budget_ends_thinking_and_a_partial_marker_is_completed_not_repeated(
    tiny_model_dir: Path, runtime: Runtime
) -> None:
    runtime.push(Reply.of("<think>", "a", "b", "</", "thi", "nk>", "more"), PHASE_TWO)
    deltas: list[str] = []
    request = streamed(make_request(budget=5), deltas)
    with loaded(tiny_model_dir, runtime, "1.2") as backend:
        result = backend.generate(request)
    assert runtime.calls[0].sampling_params.max_tokens == 5
    assert result.thinking_ended_by == "tokens" and result.thinking == "ab"
    assert "".join(deltas) == result.text == "<think>ab" + REASON1_PREFIX + ANSWER + REASON1_SUFFIX
    assert runtime.calls[1].prompt.endswith("<think>ab" + REASON1_PREFIX)


@pytest.mark.parametrize("release", ["1.2", "main"])
def test_standin_thinking_deadline_stops_the_thinking_then_a_guided_call_answers(
    tiny_model_dir: Path, runtime: Runtime, release: str
) -> None:
    """Two calls (1.2): phase 1 is aborted at the deadline. One call (main): the call is
    aborted at the deadline before ``</think>``, and the answer comes from a guided call."""
    runtime.push(Reply(("<think>", *[" x"] * 200), step_s=0.02), PHASE_TWO)
    request = make_request(budget=400, deadline_s=0.3)
    with loaded(tiny_model_dir, runtime, release) as backend:
        result = backend.generate(request)
    first, second = runtime.calls
    assert [c.guide[0] if c.guide else None for c in runtime.calls] == [
        "structural_tag" if release == "main" else None,
        "structural_tag" if release == "main" else "json",  # the schema alone (item 4)
    ]
    assert result.thinking_ended_by == "deadline"
    assert 0.3 <= result.thinking_s < 1.5, result.thinking_s  # the thinking would take 4 s
    assert first.aborted and first.ended == "cancelled" and first.generated < 100
    assert second.prompt == first.prompt + "<think>" + result.thinking + REASON1_PREFIX
    assert result.answer_json == ANSWER


@pytest.mark.parametrize("when", ["prefill", "streaming"])
def test_standin_cancel_ends_the_request_within_one_step(
    tiny_model_dir: Path, runtime: Runtime, when: str
) -> None:
    """Cancel is raced against the next response: seen during a 5 s prefill as while tokens
    arrive every second, the request is aborted and drained, and the backend serves again."""
    step_s = 1.0
    prefill_s = 5.0 if when == "prefill" else 0.0
    runtime.push(Reply(("<think>", *[" x"] * 50), prefill_s=prefill_s, step_s=step_s))
    cancel = threading.Event()
    set_at: list[float] = []

    def cancel_soon() -> None:
        time.sleep(0.2 if when == "prefill" else 1.5)
        set_at.append(time.monotonic())
        cancel.set()

    request = make_request(budget=64, deadline_s=30.0, cancel=cancel)
    with loaded(tiny_model_dir, runtime, "main") as backend:
        threading.Thread(target=cancel_soon).start()
        with pytest.raises(GenerationCancelled):
            backend.generate(request)
        took_s = time.monotonic() - set_at[0]
        runtime.push(ONE_CALL)
        again = backend.generate(make_request(budget=64, deadline_s=30.0))
    assert took_s < step_s, took_s
    first = runtime.calls[0]
    assert first.aborted and first.ended == "cancelled"
    assert (first.generated == 0) is (when == "prefill")
    assert not runtime.events(f"request {first.request_id}: EventLoopShutdownError")
    assert again.answer_json == ANSWER


def test_standin_one_call_path_on_main_uses_the_thinking_budget_and_a_structural_tag(
    tiny_model_dir: Path, runtime: Runtime
) -> None:
    runtime.push(
        Reply(("<think>", *[" x"] * 40, "</think>", "\n\n<answer>\n", ANSWER, "\n</answer>"))
    )
    deltas: list[str] = []
    request = streamed(make_request(budget=6), deltas)
    with loaded(tiny_model_dir, runtime, "main") as backend:
        result = backend.generate(request)
    (call,) = runtime.calls
    assert call.sampling_params.thinking_token_budget == 6
    assert call.guide is not None and call.guide[0] == "structural_tag"
    assert any("reasoning_parser='qwen3'" in line for line in runtime.log)
    assert result.thinking_ended_by == "tokens" and result.thinking == " x" * 6
    assert result.answer_json == ANSWER
    assert "".join(deltas) == result.text and result.text.count("</think>") == 1


def test_standin_one_call_that_fails_before_any_text_falls_back_to_two_calls(
    tiny_model_dir: Path, runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    runtime.push(Reply((), error="structural tag format not supported"), PHASE_ONE, PHASE_TWO)
    with loaded(tiny_model_dir, runtime, "main") as backend:
        result = backend.generate(make_request(budget=64))
        runtime.push(PHASE_ONE, PHASE_TWO)
        backend.generate(make_request(budget=64))
    assert "using two calls from now on" in caplog.text
    # The LLM keeps its reasoning parser: the answers' guide is the schema as a structural tag.
    assert [c.guide[0] if c.guide else None for c in runtime.calls] == [
        "structural_tag",
        None,
        "structural_tag",
        None,
        "structural_tag",
    ]
    assert result.answer_json == ANSWER and result.thinking_ended_by == "model"


def test_standin_prompt_over_max_num_tokens_is_refused_with_the_parameter_named(
    tiny_model_dir: Path, runtime: Runtime
) -> None:
    with (
        loaded(tiny_model_dir, runtime, "main", max_num_tokens=64) as backend,
        pytest.raises(BackendError) as info,
    ):
        backend.generate(make_request(budget=64))
    message = str(info.value)
    assert "should not exceed max_num_tokens (64)" in message
    # the tiny checkpoint is Qwen2.5-VL, whose chunked prefill TensorRT-LLM does not support
    assert message.endswith("raise the max_num_tokens parameter (now 64)")


@pytest.mark.parametrize(
    ("release", "item", "reuse"),
    [("1.0", "list", False), ("1.2", "VideoData", True), ("main", "VideoData", True)],
)
def test_standin_video_goes_in_as_each_release_reads_it(
    tiny_model_dir: Path, runtime: Runtime, release: str, item: str, reuse: bool
) -> None:
    """Before PR 8528 a plain frame list; after it ``VideoData`` from ``inputs.utils`` (1.2) or
    ``inputs.multimodal_data`` (main). The stand-in's Qwen processor reads each the way
    upstream does, so the wrong shape would fail here. Block reuse follows the hashing."""
    runtime.respond = decision_replies({"action": "stop"})
    clips = (make_clip(n=4, fps=4.0), make_clip(n=3, fps=2.0, camera="rear"))
    with loaded(tiny_model_dir, runtime, release) as backend:
        result = backend.generate(make_request(clips=clips, budget=64))
    assert result.answer_json == '{"action": "stop"}'
    call = runtime.calls[0]
    assert [type(v).__name__ for v in call.inputs["multi_modal_data"]["video"]] == [item] * 2
    assert [(v.frames, v.fps) for v in call.videos] == [(4, 4.0), (3, 2.0)]
    assert f"enable_block_reuse={reuse}" in runtime.log[0]


@pytest.fixture(scope="module")
def reason2_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("torch", reason="the tiny model needs torch: run `make setup`")
    from cosmos_reason_ros.testing.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny_qwen3_vl"), arch="qwen3_vl")


@pytest.mark.parametrize("release", ["1.2", "main"])
def test_standin_reason2_timing_reaches_the_qwen3_processor_on_both_homes(
    reason2_model_dir: Path, runtime: Runtime, release: str
) -> None:
    """Qwen3-VL times a video from its metadata: main reads ``VideoData.metadata`` (and would
    refuse it twice); 1.2 drops that, so the backend passes ``video_metadata`` itself."""
    runtime.respond = decision_replies({"action": "stop"})
    clip = make_clip(n=4, fps=2.0, side=64)
    with loaded(reason2_model_dir, runtime, release) as backend:
        backend.generate(make_request(clips=(clip,), budget=64))
    call = runtime.calls[0]
    assert call.videos[0].fps == 2.0
    assert ("video_metadata" in call.inputs["mm_processor_kwargs"]) is (release == "1.2")


def test_standin_unconstrained_request_is_one_free_call(
    tiny_model_dir: Path, runtime: Runtime
) -> None:
    runtime.push(Reply.of("<think>", "hm", "</think>", "stop"))
    with loaded(tiny_model_dir, runtime, "main") as backend:
        backend.load()  # loaded already: nothing happens
        result = backend.generate(make_request(budget=64, constrained=False))
        assert backend.describe().loaded
    assert not backend.describe().loaded
    assert [line.split("(")[0] for line in runtime.log].count("LLM") == 1
    assert runtime.log[-1] == "LLM.shutdown()"
    (call,) = runtime.calls
    assert call.guide is None and call.sampling_params.stop is None
    assert result.text == "<think>hm</think>stop" and result.answer_json is None


def test_standin_in_sys_modules_without_the_injection_still_needs_cuda(
    tiny_model_dir: Path, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only ``substitute_tensorrt_llm`` skips the CUDA check: neither a module that merely sits
    in ``sys.modules`` as ``tensorrt_llm`` nor the environment switch of old does."""
    torch = pytest.importorskip("torch", reason="needs torch to see that CUDA is missing")
    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is present, so its absence cannot be observed")
    monkeypatch.setenv("COSMOS_REASON_TRTLLM_STANDIN", "1")
    with installed("main", runtime), substitute_tensorrt_llm(None):
        backend = TensorRTLLMBackend(config(model=str(tiny_model_dir)))
        with pytest.raises(BackendUnavailableError, match=r"torch sees no CUDA GPU here"):
            backend.load()
    assert not runtime.log  # no LLM was made


def test_standin_is_injected_only_while_installed(runtime: Runtime) -> None:
    with installed("1.2", runtime):
        standin = import_tensorrt_llm()
        assert standin is sys.modules["tensorrt_llm"]
        assert standin.STANDS_IN_FOR_TENSORRT_LLM == "1.2"
    try:
        after = import_tensorrt_llm()
    except BackendUnavailableError:  # no TensorRT-LLM here, or no CUDA
        after = None
    assert after is not standin
    assert sys.modules.get("tensorrt_llm") is not standin


def test_standin_answer_cut_short_by_max_new_tokens_reports_no_answer_json(
    tiny_model_dir: Path, runtime: Runtime
) -> None:
    """As the transformers backend: ``answer_json`` is None when the answer never ended."""
    runtime.push(PHASE_ONE, Reply(pieces_of(ANSWER * 40)))
    request = make_request(budget=64, max_new_tokens=40)
    with loaded(tiny_model_dir, runtime, "1.2") as backend:
        result = backend.generate(request)
    assert result.thinking_ended_by == "model" and result.answer_json is None
    assert result.generated_tokens == 40


def test_standin_one_call_deadline_mid_marker_completes_it_without_repeating_it(
    tiny_model_dir: Path, runtime: Runtime
) -> None:
    """The deadline (1.75 s) falls while ``</thi`` is written (tokens every 0.5 s): that tail
    is held back, the call aborted, and the answer prefix completes the marker."""
    runtime.push(Reply(("<think>", "a", "</thi", "nk>", "\n\n<answer>\n"), step_s=0.5), PHASE_TWO)
    deltas: list[str] = []
    request = streamed(make_request(budget=64, deadline_s=1.75), deltas)
    with loaded(tiny_model_dir, runtime, "main") as backend:
        result = backend.generate(request)
    first, second = runtime.calls
    assert "".join(deltas) == result.text
    assert result.text == "<think>a" + REASON1_PREFIX + ANSWER + REASON1_SUFFIX
    assert (result.thinking, result.thinking_ended_by) == ("a", "deadline")
    assert second.prompt == first.prompt + "<think>a" + REASON1_PREFIX
    assert first.aborted


@pytest.mark.parametrize("release", ["1.2", "main"])
def test_standin_knows_cosmos3_nano_from_the_release_that_added_it(
    tiny_cosmos3_dirs: dict[str, Path], runtime: Runtime, release: str
) -> None:
    """``Cosmos3ForConditionalGeneration`` (the Nano / Super reasoner) entered TensorRT-LLM's
    registry after 1.2 (first released in the 1.3.0 release candidates): main loads it and
    times its video as Qwen3-VL's; 1.2 refuses it with upstream's message."""
    folder = tiny_cosmos3_dirs["cosmos3_omni"]
    if release == "1.2":
        with (
            pytest.raises(
                BackendError,
                match="Unknown architecture for AutoModelForCausalLM: "
                "Cosmos3ForConditionalGeneration",
            ),
            loaded(folder, runtime, release),
        ):
            pass
        return
    runtime.respond = decision_replies({"action": "stop"})
    with loaded(folder, runtime, release) as backend:
        backend.generate(make_request(clips=(make_clip(n=4, fps=2.0, side=64),), budget=64))
        assert backend.describe().architecture == "cosmos3_omni"
    assert runtime.calls[0].videos[0].fps == 2.0


def test_cosmos3_edge_is_refused_by_the_tensorrt_llm_backend_in_one_sentence(
    tiny_cosmos3_dirs: dict[str, Path], runtime: Runtime
) -> None:
    with (
        pytest.raises(
            BackendError,
            match=r"is Cosmos3-Edge, which TensorRT-LLM does not run: "
            r"use backend transformers, or serve it with TensorRT Edge-LLM",
        ),
        loaded(tiny_cosmos3_dirs["cosmos3_edge"], runtime, "main"),
    ):
        pass
    assert not runtime.log  # refused before TensorRT-LLM was asked
