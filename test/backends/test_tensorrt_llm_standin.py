"""The TensorRT-LLM stand-in behaves like TensorRT-LLM where the backend depends on it.

TensorRT-LLM cannot run here (no NVIDIA GPU, no wheels), so ``testing.tensorrt_llm_standin``
stands in for its LLM API. These tests pin the upstream behaviours it copies (cited in its
docstrings), including the ones that break a naive client: a multi-token stop string leaks
into ``text_diff``, main's client does not stop the runtime on a stop string, and a response to
a stopped event loop is lost.
"""

from __future__ import annotations

import asyncio
import pickle
from typing import Any

import pytest
from pydantic import ValidationError

from cosmos_reason_ros.testing.tensorrt_llm_standin import Reply, Runtime, installed

MODEL = "nvidia/Cosmos-Reason1-7B"


async def _collect(llm: Any, params: Any, prompt: str = "hi") -> tuple[Any, list[str]]:
    output = llm.generate_async({"prompt": prompt}, sampling_params=params, streaming=True)
    diffs = []
    async for step in output:
        diffs.append(step.outputs[0].text_diff)
    return output, diffs


def test_standin_llm_checks_keywords_and_strict_kv_cache_config_like_tensorrt_llm() -> None:
    with installed("main"):
        import tensorrt_llm
        from tensorrt_llm.llmapi import KvCacheConfig

        with pytest.raises(ValueError, match=r"^LLM got invalid argument: build_config$"):
            tensorrt_llm.LLM(model=MODEL, build_config=object())
        with pytest.raises(ValidationError, match=r"extra"):
            KvCacheConfig(enable_block_reuse=False, host_cache_size_gb=1)
        with pytest.raises(ValidationError, match=r"less than or equal to 1"):
            KvCacheConfig(free_gpu_memory_fraction=1.5)
        with pytest.raises(ValidationError, match=r"guided_decoding_backend"):
            tensorrt_llm.LLM(model=MODEL, guided_decoding_backend="outlines")
        defaults = KvCacheConfig()
        assert (defaults.enable_block_reuse, defaults.free_gpu_memory_fraction) == (True, 0.9)
        llm = tensorrt_llm.LLM(model=MODEL, max_num_tokens=None)
        assert llm.args.max_num_tokens == 8192 and not llm.args.enable_chunked_prefill
        llm.shutdown()
        llm.shutdown()  # idempotent
        with pytest.raises(RuntimeError, match=r"^LLM is shutting down$"):
            llm.generate_async("hi")
        with pytest.raises(RuntimeError, match=r"can not be pickled"):
            pickle.dumps(llm)


def test_standin_sampling_params_are_keyword_only_slotted_and_validated() -> None:
    with installed("1.2"):
        import tensorrt_llm
        from tensorrt_llm.llmapi import GuidedDecodingParams

        params_cls = tensorrt_llm.SamplingParams
        with pytest.raises(TypeError):
            params_cls(32)
        with pytest.raises(TypeError, match=r"thinking_token_budget"):
            params_cls(thinking_token_budget=8)  # not before 1.3
        with pytest.raises(ValueError, match=r"^require 0 <= top_p <= 1, got top_p=1.5$"):
            params_cls(top_p=1.5)
        with pytest.raises(ValueError, match=r"require temperature >= 0"):
            params_cls(temperature=-0.1)
        two = GuidedDecodingParams(json={"type": "object"}, regex="a+")
        with pytest.raises(ValueError, match=r"Only one guide can be used .* but got 2"):
            params_cls(guided_decoding=two)
        with pytest.raises(AttributeError):
            params_cls().stop_after = 3  # type: ignore[attr-defined]
        assert params_cls(temperature=0.0).max_tokens == 32
    with installed("main"):
        import tensorrt_llm

        assert tensorrt_llm.SamplingParams(thinking_token_budget=8).thinking_token_budget == 8
        with pytest.raises(ValueError, match=r"non-negative integer or -1"):
            tensorrt_llm.SamplingParams(thinking_token_budget=-2)


def test_standin_request_output_is_made_by_generate_async_inside_a_running_loop() -> None:
    with installed("main") as runtime:
        import tensorrt_llm
        from tensorrt_llm.llmapi import RequestOutput

        with pytest.raises(RuntimeError, match=r"designed to be instantiated"):
            RequestOutput()
        runtime.push(Reply.of("a"))
        llm = tensorrt_llm.LLM(model=MODEL)
        output = llm.generate_async("hi", streaming=True)  # no loop running here
        with pytest.raises(AssertionError, match=r"event loop was not present"):
            asyncio.run(output.__anext__())


def test_standin_streams_cumulative_text_and_token_ids_with_text_diff() -> None:
    with installed("main") as runtime:
        import tensorrt_llm

        runtime.push(Reply.of("The", " ball", " rolls"))
        llm = tensorrt_llm.LLM(model=MODEL)
        output, diffs = asyncio.run(_collect(llm, tensorrt_llm.SamplingParams(max_tokens=8)))
    completion = output.outputs[0]
    assert diffs == ["The", " ball", " rolls", ""]  # the last response is the end id
    assert completion.text == "The ball rolls" and len(completion.token_ids) == 3
    assert (completion.finish_reason, output.finished) == ("stop", True)
    assert len(output.prompt_token_ids) > 0


def test_standin_max_tokens_ends_with_length() -> None:
    with installed("main") as runtime:
        import tensorrt_llm

        runtime.push(Reply.of(*"abcdef"))
        llm = tensorrt_llm.LLM(model=MODEL)
        output, _ = asyncio.run(_collect(llm, tensorrt_llm.SamplingParams(max_tokens=4)))
    assert (output.outputs[0].text, output.outputs[0].finish_reason) == ("abcd", "length")


@pytest.mark.parametrize(("release", "aborted"), [("main", False), ("1.2", True)])
def test_standin_multi_token_stop_string_leaks_into_text_diff_and_trims_only_the_text(
    release: str, aborted: bool
) -> None:
    """As upstream's client: ``</`` and ``think`` go out as diffs before ``</think>`` is
    complete; the final text is trimmed; main does not stop the runtime, 1.2 aborts it."""
    pieces = ("ok", "</", "think", ">\n\n", "<answer>", *(["x"] * 100))
    runtime = Runtime(stop_tokens={"</think>": ("</", "think", ">")})
    with installed(release, runtime):
        import tensorrt_llm

        runtime.push(Reply(pieces, step_s=0.01))
        llm = tensorrt_llm.LLM(model=MODEL)
        params = tensorrt_llm.SamplingParams(max_tokens=200, stop=["</think>"])
        output, diffs = asyncio.run(_collect(llm, params))
        runtime.join()
    completion = output.outputs[0]
    assert "".join(diffs).startswith("ok</think")  # the leak the backend must hold back
    assert (completion.text, completion.finish_reason) == ("ok", "stop")
    assert completion.stop_reason == "</think>"
    (call,) = runtime.calls
    assert call.aborted is aborted
    assert (call.ended == "cancelled") is aborted
    if not aborted:
        assert call.generated == len(pieces)  # the runtime generated on to the end


def test_standin_runtime_stops_on_a_single_token_stop_word_and_trims_its_ids() -> None:
    with installed("main") as runtime:
        import tensorrt_llm

        runtime.push(Reply.of("ok", "</think>", "more", "text"))
        llm = tensorrt_llm.LLM(model=MODEL)
        params = tensorrt_llm.SamplingParams(max_tokens=64, stop=["</think>"])
        output, _ = asyncio.run(_collect(llm, params))
        runtime.join()
    assert output.outputs[0].text == "ok" and len(output.outputs[0].token_ids) == 1
    assert (runtime.calls[0].ended, runtime.calls[0].generated) == ("stop", 2)


def test_standin_abort_during_prefill_ends_with_a_late_cancelled_response() -> None:
    async def abort_early(llm: Any, params: Any) -> Any:
        output = llm.generate_async("hi", sampling_params=params, streaming=True)
        output.abort()
        async for _ in output:
            pass
        return output

    with installed("main") as runtime:
        import tensorrt_llm

        runtime.push(Reply.of("a", "b", prefill_s=5.0))
        llm = tensorrt_llm.LLM(model=MODEL)
        output = asyncio.run(abort_early(llm, tensorrt_llm.SamplingParams()))
    assert (output.outputs[0].finish_reason, output.outputs[0].text) == ("cancelled", "")
    assert output.aborted() and runtime.calls[0].ended == "cancelled"


def test_standin_loses_a_response_that_reaches_a_stopped_loop_and_logs_it() -> None:
    async def start(llm: Any, params: Any) -> Any:
        return llm.generate_async("hi", sampling_params=params, streaming=True)

    with installed("main") as runtime:
        import tensorrt_llm

        runtime.push(Reply.of("a", prefill_s=0.05))
        llm = tensorrt_llm.LLM(model=MODEL)
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(start(llm, tensorrt_llm.SamplingParams()))
            runtime.join()
        finally:
            loop.close()
    assert runtime.events("request 1: EventLoopShutdownError")


@pytest.mark.parametrize(("release", "error"), [("main", "RequestError"), ("1.2", "ValueError")])
def test_standin_refuses_a_prompt_over_max_num_tokens_unless_chunked(
    release: str, error: str
) -> None:
    prompt = " ".join(["word"] * 40)
    with installed(release):
        import tensorrt_llm

        llm = tensorrt_llm.LLM(model=MODEL, max_num_tokens=50)
        with pytest.raises(Exception, match=r"should not exceed max_num_tokens \(50\)") as info:
            llm.generate_async(prompt)
        assert type(info.value).__name__ == error
        assert "prompt length (79.0)" in str(info.value)
        chunked = tensorrt_llm.LLM(model=MODEL, max_num_tokens=50, enable_chunked_prefill=True)
        assert chunked.generate_async(prompt).prompt_token_ids


def test_standin_guided_request_fails_without_a_guided_decoding_backend() -> None:
    with installed("main"):
        import tensorrt_llm
        from tensorrt_llm.llmapi import GuidedDecodingParams, RequestError

        llm = tensorrt_llm.LLM(model=MODEL)
        guided = GuidedDecodingParams(json={"type": "object"})
        params = tensorrt_llm.SamplingParams(guided_decoding=guided)
        with pytest.raises(RequestError, match=r"GuidedDecoder is not setup"):
            asyncio.run(_collect(llm, params))
        bad_tag = GuidedDecodingParams(structural_tag='{"type": "structural_tag"}')
        xgrammar_llm = tensorrt_llm.LLM(model=MODEL, guided_decoding_backend="xgrammar")
        with pytest.raises(RequestError, match=r"structural_tag guide cannot be compiled"):
            asyncio.run(
                _collect(xgrammar_llm, tensorrt_llm.SamplingParams(guided_decoding=bad_tag))
            )


def test_standin_video_data_lives_where_each_release_keeps_it() -> None:
    with installed("main"):
        from tensorrt_llm.inputs import VideoData
        from tensorrt_llm.inputs.multimodal_data import VideoData as HomeVideoData

        assert VideoData is HomeVideoData
        with pytest.raises(ValueError, match=r"frames list cannot be empty"):
            VideoData(frames=[], metadata={})
    with installed("1.2"):
        from tensorrt_llm.inputs.utils import VideoData

        with pytest.raises(ModuleNotFoundError):
            import tensorrt_llm.inputs.multimodal_data  # noqa: F401
    with installed("1.0"), pytest.raises(ImportError):
        from tensorrt_llm.inputs.utils import VideoData


def test_standin_thinking_budget_needs_a_reasoning_parser_then_forces_think_end() -> None:
    runtime = Runtime(stop_tokens={"</think>": ("</", "think", ">")})
    with installed("main", runtime):
        import tensorrt_llm

        params = tensorrt_llm.SamplingParams(max_tokens=64, thinking_token_budget=3)
        with pytest.raises(ValueError, match=r"requires a configured reasoning_parser"):
            tensorrt_llm.LLM(model=MODEL).generate_async("hi", sampling_params=params)
        runtime.push(Reply.of("<think>", *"abcdefgh", "</think>", "{}"))
        llm = tensorrt_llm.LLM(model=MODEL, reasoning_parser="qwen3")
        output, _ = asyncio.run(_collect(llm, params))
    assert output.outputs[0].text == "<think>abc</think>{}"
