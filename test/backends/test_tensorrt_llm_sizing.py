"""``max_num_tokens`` for TensorRT-LLM: computed from the cameras and window, checked at configure.

Without chunked prefill TensorRT-LLM refuses a prompt longer than ``max_num_tokens`` (8192 by
default). ``build_config`` (what configure runs) computes the parameter when it is 0 and refuses
an explicit value below the worst-case prompt, naming the parameter.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cosmos_reason_ros.backends.config import BackendConfig
from cosmos_reason_ros.backends.tensorrt_llm.backend import TensorRTLLMBackend
from cosmos_reason_ros.config import build_config
from cosmos_reason_ros.core.errors import ConfigError
from cosmos_reason_ros.core.prompt_bound import prompt_bound
from cosmos_reason_ros.core.reasoner import Reasoner
from cosmos_reason_ros.core.window import WindowSet
from cosmos_reason_ros.testing.tensorrt_llm_standin import (
    Runtime,
    decision_replies,
    installed,
)

CAMERAS = ["/front/image_raw", "/rear/image_raw", "/left/image_raw", "/right/image_raw"]


def _trt(**values: object) -> dict[str, object]:
    return {"backend": "tensorrt_llm", **values}


@pytest.mark.parametrize("model", ["nvidia/Cosmos-Reason1-7B", "nvidia/Cosmos-Reason2-8B"])
def test_max_num_tokens_0_is_computed_to_fit_the_cameras_and_window(model: str) -> None:
    computed = []
    for n in range(1, 5):
        config = build_config(_trt(model=model, image_topics=CAMERAS[:n]))
        bound = prompt_bound(
            config.window, config.reasoner, config.architecture.model_type, config.image_topics
        )
        tokens = config.backend.max_num_tokens
        assert tokens >= bound.total and tokens % 1024 == 0 and tokens >= 8192
        computed.append(tokens)
    assert computed == sorted(computed) and computed[-1] > computed[0]
    assert computed[1] > 8192  # two cameras at the default budget outgrow TensorRT-LLM's default


def test_worst_case_counts_full_windows_at_the_frame_budget() -> None:
    config = build_config(
        _trt(
            image_topics=CAMERAS[:2],
            window_s=4.0,
            sample_fps=4.0,
            model="nvidia/Cosmos-Reason1-7B",
        )
    )
    bound = prompt_bound(config.window, config.reasoner, "qwen2_5_vl", config.image_topics)
    budget = config.window.frame_pixel_budget  # qwen-vl-utils' 768 tokens of 28x28 px
    assert (bound.cameras, bound.frames, bound.frame_pixels) == (2, 16, budget)
    assert bound.visual_tokens == 2 * 9 * (budget // 28**2)  # 9 frame pairs of 768 tokens
    assert bound.generated_tokens == config.reasoner.sampling.max_new_tokens
    assert bound.text_tokens > config.reasoner.max_question_chars


def test_explicit_max_num_tokens_below_the_worst_case_is_refused_naming_it() -> None:
    values = _trt(image_topics=CAMERAS[:2], max_num_tokens=8192)
    with pytest.raises(ConfigError) as info:
        build_config(values)
    message = str(info.value)
    assert message.startswith("max_num_tokens 8192 is below the worst-case prompt")
    assert "2 camera(s) x 16 frames" in message
    assert "set it to 0 to have it computed, or set enable_chunked_prefill" in message
    assert message.count(". ") == 0
    chunked = build_config({**values, "enable_chunked_prefill": True})
    assert chunked.backend.max_num_tokens == 8192
    assert build_config({**values, "max_num_tokens": 65536}).backend.max_num_tokens == 65536


def test_other_backends_leave_max_num_tokens_alone() -> None:
    config = build_config({"backend": "transformers", "image_topics": CAMERAS})
    assert config.backend.max_num_tokens == 0


def test_standin_computed_max_num_tokens_holds_a_full_window_and_the_longest_question(
    tiny_model_dir: Path,
) -> None:
    """Stand-in for TensorRT-LLM (cannot run here): real windows full of 1280x720 frames from
    two cameras, the real Reasoner and chat template, the longest question allowed; the
    stand-in counts the prompt as TensorRT-LLM's Qwen processor would and accepts both calls
    under the computed ``max_num_tokens``."""
    values = _trt(model=str(tiny_model_dir), image_topics=CAMERAS[:2], max_thinking_tokens=64)
    config = build_config(values)
    windows = WindowSet(config.image_topics, config.window)
    rng = np.random.default_rng(0)
    for i in range(40):  # 10 s at 4 fps: every window full
        for camera in config.image_topics:
            image = rng.integers(0, 255, (720, 1280, 3), np.uint8)
            windows.window(camera).push(i * 250_000_000, "cam", image)
    snapshot = windows.snapshot()
    question = ("Is the way ahead clear? " * 400)[: config.reasoner.max_question_chars]
    runtime = Runtime(respond=decision_replies({"action": "stop"}))
    with installed("1.2", runtime):
        backend = TensorRTLLMBackend(config.backend)
        backend.load()
        try:
            reasoner = Reasoner(backend, config.reasoner)
            request = reasoner.validate_request(question)
            decision = reasoner.decide(snapshot, decision_id=1, request=request)
        finally:
            backend.close()
    bound = prompt_bound(config.window, config.reasoner, "qwen2_5_vl", config.image_topics)
    first, second = runtime.calls
    assert [v.frames for v in first.videos] == [bound.frames] * 2
    assert len(first.prompt_token_ids) <= bound.total - bound.generated_tokens
    assert len(second.prompt_token_ids) <= config.backend.max_num_tokens
    assert decision.action == "stop"


@pytest.mark.parametrize("model", ["nvidia/Cosmos-Reason1-7B", "/ckpt/Cosmos-Reason1-7B-FP8"])
def test_item6_chunked_prefill_for_qwen2_5_vl_is_refused_at_configure(model: str) -> None:
    """TensorRT-LLM's multimodal support matrix lists Qwen2.5-VL chunked prefill as
    unsupported (docs/source/reference/multimodal-feature-support-matrix.md @ 1b9d33620f6e)."""
    with pytest.raises(ConfigError) as info:
        build_config(_trt(model=model, enable_chunked_prefill=True))
    message = str(info.value)
    assert message.startswith("enable_chunked_prefill is not supported for Qwen2.5-VL")
    assert message.count(". ") == 0
    direct = BackendConfig(backend="tensorrt_llm", model=model, enable_chunked_prefill=True)
    with pytest.raises(ConfigError, match=r"^enable_chunked_prefill is not supported"):
        TensorRTLLMBackend(direct)  # a backend built without build_config refuses it too
    with pytest.raises(ConfigError) as short:
        build_config(_trt(model=model, image_topics=CAMERAS[:2], max_num_tokens=8192))
    assert str(short.value).endswith("or set it to 0 to have it computed")  # no chunked advice


def test_item6_chunked_prefill_stays_offered_for_qwen3_vl() -> None:
    config = build_config(
        _trt(model="nvidia/Cosmos-Reason2-8B", max_num_tokens=8192, enable_chunked_prefill=True)
    )
    assert config.backend.enable_chunked_prefill
