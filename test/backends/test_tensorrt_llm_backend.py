"""The ``tensorrt_llm`` backend's request building, tested directly (no TensorRT-LLM needed).

TensorRT-LLM and CUDA are not present here. The pure functions that build what the backend
hands TensorRT-LLM are tested here; the one-call structural tag is compiled and matched by the
real xgrammar (the library TensorRT-LLM hands it to). The backend as a whole runs through the
stand-in in ``test_tensorrt_llm_through_standin.py``; the end-to-end test at the bottom runs
only where ``tensorrt_llm`` imports and CUDA is present (it skips here, saying why).
"""

from __future__ import annotations

import importlib.util
import json
import os
import threading

import pytest
from trtllm_cases import REASON1_PREFIX, SCHEMA, config, make_clip, make_request

from cosmos_reason_ros.backends import create_backend
from cosmos_reason_ros.backends.guides import answer_structural_tag
from cosmos_reason_ros.backends.messages import (
    hf_messages,
    processor_kwargs,
    video_clips,
    video_metadata,
)
from cosmos_reason_ros.backends.tensorrt_llm.backend import TensorRTLLMBackend
from cosmos_reason_ros.backends.tensorrt_llm.request import (
    Phase,
    llm_kwargs,
    one_call_fits,
    plan_phases,
    sampling_kwargs,
    split_one_call,
    without_opening,
)
from cosmos_reason_ros.backends.tensorrt_llm.stream import held_back
from cosmos_reason_ros.core.errors import BackendError, BackendUnavailableError, ConfigError
from cosmos_reason_ros.core.generation import (
    AnswerFormat,
    ChatMessage,
    GenerationRequest,
    SamplingSettings,
    VideoPart,
)


def test_llm_kwargs_carry_kv_cache_settings_fp8_xgrammar_and_token_limits() -> None:
    kwargs = llm_kwargs(
        config(
            model="/ckpt/Cosmos-Reason1-7B-FP8",
            dtype="bf16",
            kv_cache_free_gpu_memory_fraction=0.4,
            kv_cache_dtype="fp8",
            max_num_tokens=12288,
            enable_chunked_prefill=True,
        ),
        block_reuse=True,
    )
    assert kwargs["model"] == "/ckpt/Cosmos-Reason1-7B-FP8"
    assert kwargs["dtype"] == "bfloat16"
    assert kwargs["guided_decoding_backend"] == "xgrammar"
    assert (kwargs["max_num_tokens"], kwargs["enable_chunked_prefill"]) == (12288, True)
    assert kwargs["kv_cache_config"] == {
        "free_gpu_memory_fraction": 0.4,
        "dtype": "fp8",
        "enable_block_reuse": True,
    }
    assert "reasoning_parser" not in kwargs


def test_llm_kwargs_defaults_leave_reuse_off_and_max_num_tokens_to_tensorrt_llm() -> None:
    kwargs = llm_kwargs(config())
    assert kwargs["kv_cache_config"]["dtype"] == "auto"
    assert kwargs["kv_cache_config"]["enable_block_reuse"] is False
    assert "max_num_tokens" not in kwargs  # 0: not sized by build_config
    assert llm_kwargs(config(), one_call=True)["reasoning_parser"] == "qwen3"


def test_bitsandbytes_quantization_is_refused_pointing_at_modelopt_checkpoints() -> None:
    with pytest.raises(ConfigError, match=r"pre-quantized ModelOpt checkpoint"):
        TensorRTLLMBackend(config(quantization="4bit"))


def test_cpu_device_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"CUDA only"):
        llm_kwargs(config(device="cpu"))


def test_messages_put_one_video_item_where_each_clip_goes() -> None:
    clips = (make_clip(camera="front"), make_clip(camera="rear", fps=2.0))
    request = make_request(clips=clips)
    assert hf_messages(request) == [
        {"role": "system", "content": [{"type": "text", "text": "sys"}]},
        {
            "role": "user",
            "content": [
                {"type": "video"},
                {"type": "video"},
                {"type": "text", "text": "What next?"},
            ],
        },
    ]
    assert [c.camera for c in video_clips(request)] == ["front", "rear"]


def test_messages_refuse_a_clip_index_the_request_does_not_carry() -> None:
    request = GenerationRequest(messages=(ChatMessage("user", (VideoPart(1),)),), clips=())
    with pytest.raises(BackendError, match=r"refers to clip 1 but the request has 0 clip"):
        hf_messages(request)


def test_video_metadata_uses_every_frame_at_the_real_sampling_rate() -> None:
    assert video_metadata(make_clip(n=6, fps=3.0)) == {
        "fps": 3.0,
        "total_num_frames": 6,
        "duration": 2.0,
        "frames_indices": [0, 1, 2, 3, 4, 5],
    }


def test_processor_kwargs_pass_our_fps_and_forbid_resampling() -> None:
    assert processor_kwargs([make_clip(fps=4.0)]) == {"fps": 4.0, "do_sample_frames": False}
    mixed = processor_kwargs([make_clip(fps=4.0), make_clip(fps=2.0)])
    assert mixed == {"fps": [4.0, 2.0], "do_sample_frames": False}
    assert processor_kwargs([]) == {}


def test_sampling_kwargs_map_the_settings() -> None:
    settings = SamplingSettings(temperature=0.1, top_p=0.5, repetition_penalty=1.2, seed=7)
    assert sampling_kwargs(settings, 99, stop=("</think>",)) == {
        "max_tokens": 99,
        "temperature": 0.1,
        "top_p": 0.5,
        "repetition_penalty": 1.2,
        "presence_penalty": 0.0,
        "seed": 7,
        "stop": ["</think>"],
    }
    assert "seed" not in sampling_kwargs(SamplingSettings(), 5)


def test_unconstrained_request_is_one_free_call() -> None:
    assert plan_phases(make_request(budget=None)) == (Phase(max_tokens=512),)
    assert plan_phases(make_request(budget=64, constrained=False)) == (Phase(max_tokens=512),)


def test_constrained_request_thinks_freely_then_answers_under_the_schema() -> None:
    think, answer = plan_phases(make_request(budget=64, deadline_s=1.5))
    assert think == Phase(max_tokens=64, stop=("</think>",), deadline_s=1.5)
    assert answer.guided_json == SCHEMA and not answer.stop
    assert (answer.lead, answer.tail) == ("</think>\n\n<answer>\n", "\n</answer>")
    assert answer.max_tokens == 512


def test_zero_thinking_budget_goes_straight_to_the_guided_answer() -> None:
    (answer,) = plan_phases(make_request(budget=0))
    assert answer.guided_json == SCHEMA and answer.lead.startswith("</think>")


def test_thinking_budget_leaves_at_least_one_token_for_the_answer() -> None:
    think, _ = plan_phases(make_request(budget=4096, max_new_tokens=100))
    assert think.max_tokens == 99


def test_registry_creates_the_backend_without_importing_tensorrt_llm() -> None:
    backend = create_backend(config(model="nvidia/Cosmos-Reason2-8B"))
    info = backend.describe()
    assert (info.backend, info.architecture, info.loaded) == ("tensorrt_llm", "qwen3_vl", False)
    caps = info.capabilities
    assert caps.thinking_budget and caps.thinking_deadline and caps.constrained_answer
    assert caps.video_input and caps.streaming and caps.cancel


def _fmt(prefix: str = REASON1_PREFIX, suffix: str = "\n</answer>") -> AnswerFormat:
    return AnswerFormat("</think>", prefix, suffix, SCHEMA, max_thinking_tokens=8)


@pytest.mark.parametrize(
    ("prefix", "suffix", "opened", "output"),
    [
        (
            REASON1_PREFIX,
            "\n</answer>",
            False,
            '<think>\nhm < >\n</think>\n\n<answer>\n{"action": "go"}\n</answer>',
        ),
        ("</think>\n\n", "", False, '<think>\nhm\n</think>\n\n{"action": "go"}'),
        ("</think>\n\n", "", True, '\nhm\n</think>\n\n{"action": "go"}'),
    ],
)
def test_one_call_structural_tag_accepts_the_layout_in_xgrammar(
    prefix: str, suffix: str, opened: bool, output: str
) -> None:
    """The guide as TensorRT-LLM main hands it to xgrammar: the real xgrammar compiles it and
    accepts thinking then the answer, and refuses an answer outside the schema."""
    xgr = pytest.importorskip("xgrammar", reason="xgrammar is not installed")
    from xgrammar.testing import _is_grammar_accept_string

    tag = json.dumps(answer_structural_tag(_fmt(prefix, suffix), thinking_opened=opened))
    grammar = xgr.Grammar.from_structural_tag(tag)
    assert _is_grammar_accept_string(grammar, output)
    assert not _is_grammar_accept_string(grammar, output.replace('"go"', "7"))
    assert not _is_grammar_accept_string(grammar, output.replace("</think>", "</thunk>"))


def test_one_call_output_splits_into_thinking_without_markers_and_the_json() -> None:
    text = '<think>\nball ahead\n</think>\n\n<answer>\n{"action": "stop"}\n</answer>'
    assert split_one_call(text, _fmt()) == ("\nball ahead\n", '{"action": "stop"}')
    assert split_one_call("<think>\nnever closed", _fmt()) == ("\nnever closed", "")
    assert without_opening("plain", "</think>") == "plain"


def test_one_call_is_for_the_think_markers_of_the_reasoning_parser() -> None:
    assert one_call_fits(_fmt())
    assert one_call_fits(AnswerFormat("</think>", REASON1_PREFIX, "", SCHEMA, 8, 2.0))
    assert not one_call_fits(AnswerFormat("</reason>", "</reason>\n", "", SCHEMA, 8))
    assert not one_call_fits(AnswerFormat("</think>", "<answer>", "", SCHEMA, 8))


def test_held_back_is_the_longest_tail_that_could_begin_a_stop_string() -> None:
    stops = ("</think>",)
    assert [held_back(t, stops) for t in ("a", "a<", "a</", "a</thi", "a</x", "<>")] == [
        0,
        1,
        2,
        5,
        0,
        0,
    ]
    assert held_back("a</think", ("</think>", "k")) == 7


def test_generate_before_load_raises_backend_error() -> None:
    with pytest.raises(BackendError, match=r"not loaded"):
        TensorRTLLMBackend(config()).generate(make_request())


def test_load_without_tensorrt_llm_says_in_one_sentence_what_is_missing() -> None:
    if importlib.util.find_spec("tensorrt_llm") is not None:
        pytest.skip("tensorrt_llm is installed here, so its absence cannot be observed")
    backend = TensorRTLLMBackend(config())
    with pytest.raises(BackendUnavailableError) as info:
        backend.load()
    message = str(info.value)
    assert "tensorrt_llm package is not installed" in message
    assert message.count(". ") == 0 and message.endswith(".")
    backend.close()  # idempotent on a backend that never loaded


def _runtime_missing() -> str | None:
    if importlib.util.find_spec("tensorrt_llm") is None:
        return "tensorrt_llm is not installed here"
    import torch

    if not torch.cuda.is_available():
        return "no CUDA GPU here"
    return None


@pytest.mark.gpu
@pytest.mark.slow
def test_real_tensorrt_llm_streams_a_constrained_answer_on_a_gpu() -> None:
    """Runs Cosmos-Reason for real; set COSMOS_REASON_TRTLLM_MODEL to a local checkpoint."""
    missing = _runtime_missing()
    if missing:
        pytest.skip(f"needs tensorrt_llm and a CUDA GPU: {missing}")
    model = os.environ.get("COSMOS_REASON_TRTLLM_MODEL", "nvidia/Cosmos-Reason1-7B")
    backend = TensorRTLLMBackend(
        config(model=model, kv_cache_free_gpu_memory_fraction=0.5, max_num_tokens=16384)
    )
    backend.load()
    try:
        deltas: list[str] = []
        request = make_request(
            budget=128,
            max_new_tokens=256,
            on_text=lambda d, n: deltas.append(d),
            cancel=threading.Event(),
        )
        result = backend.generate(request)
        assert "".join(deltas) == result.text
        assert "</think>\n\n<answer>\n{" in result.text and result.text.endswith("\n</answer>")
        assert result.text.count("</think>") == 1
        assert result.answer_json is not None and json.loads(result.answer_json)
        assert result.thinking_ended_by in ("model", "tokens")
        assert result.prompt_tokens > 0 and result.generated_tokens > 0
    finally:
        backend.close()
