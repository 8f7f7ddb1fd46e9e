"""The ``tensorrt_llm`` backend: request building everywhere, the real runtime only on a GPU.

TensorRT-LLM and CUDA are not present here, so the pure request-building functions are tested
directly, ``load()`` is tested for its clear unavailability error, and the end-to-end test runs
only where ``tensorrt_llm`` imports and CUDA is present (it skips here, saying why).
"""

from __future__ import annotations

import importlib.util
import os
import threading

import numpy as np
import pytest

from cosmos_reason_ros.backends import create_backend
from cosmos_reason_ros.backends.config import BackendConfig
from cosmos_reason_ros.backends.messages import (
    hf_messages,
    processor_kwargs,
    video_clips,
    video_metadata,
)
from cosmos_reason_ros.backends.tensorrt_llm_backend import (
    Phase,
    TensorRTLLMBackend,
    llm_kwargs,
    plan_phases,
    sampling_kwargs,
)
from cosmos_reason_ros.core.errors import BackendError, BackendUnavailableError, ConfigError
from cosmos_reason_ros.core.generation import (
    AnswerFormat,
    ChatMessage,
    GenerationRequest,
    SamplingSettings,
    TextPart,
    VideoPart,
)
from cosmos_reason_ros.core.types import Clip

SCHEMA = {"type": "object", "properties": {"action": {"type": "string"}}}


def make_clip(n: int = 4, fps: float = 4.0, camera: str = "front") -> Clip:
    frames = tuple(np.full((28, 28, 3), 30 * i, np.uint8) for i in range(n))
    stamps = tuple(int(i * 1e9 / fps) for i in range(n))
    return Clip(camera=camera, frame_id="cam", frames=frames, stamps_ns=stamps, fps=fps)


def make_request(
    clips: tuple[Clip, ...] = (make_clip(),),
    budget: int | None = None,
    constrained: bool = True,
    max_new_tokens: int = 512,
) -> GenerationRequest:
    fmt = None
    if budget is not None:
        fmt = AnswerFormat(
            think_end="</think>",
            answer_prefix="</think>\n\n<answer>\n",
            answer_suffix="\n</answer>",
            json_schema=SCHEMA,
            max_thinking_tokens=budget,
        )
    parts = (*(VideoPart(i) for i in range(len(clips))), TextPart("What next?"))
    return GenerationRequest(
        messages=(ChatMessage("system", (TextPart("sys"),)), ChatMessage("user", parts)),
        clips=clips,
        sampling=SamplingSettings(max_new_tokens=max_new_tokens),
        answer_format=fmt,
        constrained=constrained,
    )


def config(**overrides: object) -> BackendConfig:
    return BackendConfig(backend="tensorrt_llm", **overrides)  # type: ignore[arg-type]


def test_llm_kwargs_carry_kv_cache_settings_fp8_and_xgrammar() -> None:
    kwargs = llm_kwargs(
        config(
            model="/ckpt/Cosmos-Reason1-7B-FP8",
            dtype="bf16",
            kv_cache_free_gpu_memory_fraction=0.4,
            kv_cache_dtype="fp8",
        )
    )
    assert kwargs["model"] == "/ckpt/Cosmos-Reason1-7B-FP8"
    assert kwargs["dtype"] == "bfloat16"
    assert kwargs["guided_decoding_backend"] == "xgrammar"
    assert kwargs["kv_cache_config"] == {
        "free_gpu_memory_fraction": 0.4,
        "dtype": "fp8",
        "enable_block_reuse": False,
    }
    assert llm_kwargs(config())["kv_cache_config"]["dtype"] == "auto"


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
        "seed": 7,
        "stop": ["</think>"],
    }
    assert "seed" not in sampling_kwargs(SamplingSettings(), 5)


def test_unconstrained_request_is_one_free_call() -> None:
    assert plan_phases(make_request(budget=None)) == (Phase(max_tokens=512),)
    assert plan_phases(make_request(budget=64, constrained=False)) == (Phase(max_tokens=512),)


def test_constrained_request_thinks_freely_then_answers_under_the_schema() -> None:
    think, answer = plan_phases(make_request(budget=64))
    assert think == Phase(max_tokens=64, stop=("</think>",))
    assert answer.guided_json == SCHEMA
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
    backend = TensorRTLLMBackend(config(model=model, kv_cache_free_gpu_memory_fraction=0.5))
    backend.load()
    try:
        deltas: list[str] = []
        request = make_request(budget=128, max_new_tokens=256)
        request = GenerationRequest(
            messages=request.messages,
            clips=request.clips,
            sampling=request.sampling,
            answer_format=request.answer_format,
            on_text=lambda d, n: deltas.append(d),
            cancel=threading.Event(),
        )
        result = backend.generate(request)
        assert "".join(deltas) == result.text
        assert "</think>\n\n<answer>\n{" in result.text and result.text.endswith("\n</answer>")
        assert result.prompt_tokens > 0 and result.generated_tokens > 0
    finally:
        backend.close()
