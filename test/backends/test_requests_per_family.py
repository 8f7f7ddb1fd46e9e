"""The request each backend builds for a Reason1 and a Reason2 model, from the node's own
configuration path (``load_configured`` / ``build_config`` and the ``Reasoner``).

Upstream values are written out here, not imported from ``core.recipes``, so a drifting recipe
fails these tests: Reason1's model card (temperature 0.6, top_p 0.95, repetition_penalty 1.05,
max_tokens 4096, fps 4; nvidia-cosmos/cosmos-reason1 README @ 7630fc7); Reason2's
``SamplingOverrides.get_defaults`` with and without reasoning (nvidia-cosmos/cosmos-reason2
``cosmos_reason2_utils/script/inference.py`` @ a3b4a1d).

- transformers: the real backend on the tiny checkpoints; the processor is spied on (its
  ``__call__`` records the rendered prompt and the video arguments, then stops the call, so no
  tokens are generated).
- openai: the real backend against the loopback server (``testing/openai_server``, standing in
  for vLLM / trtllm-serve / NIM, which cannot run here).
- tensorrt_llm: TensorRT-LLM cannot run here (no GPU), and that backend is owned elsewhere: only
  its public, pure request builders are fed the request the Reasoner builds (recorded by
  ``RequestRecorder``, a stand-in backend that only records).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cosmos_reason_ros.backends.messages import hf_messages
from cosmos_reason_ros.config.build import build_config
from cosmos_reason_ros.config.loading import load_configured
from cosmos_reason_ros.core.errors import BackendError
from cosmos_reason_ros.core.generation import (
    BackendInfo,
    GenerationRequest,
    GenerationResult,
)
from cosmos_reason_ros.core.reasoner import Reasoner
from cosmos_reason_ros.core.types import Clip, WindowSnapshot
from cosmos_reason_ros.testing.openai_server import ChatCompletionsServer, Reply

VIDEO = "<|vision_start|><|video_pad|><|vision_end|>"
SUFFIX = (
    "Answer the question using the following format:\n\n<think>\nYour reasoning.\n</think>\n\n"
    "Write your final answer immediately after the </think> tag."
)
R1_SYSTEM = (
    "You are a helpful assistant. Answer the question in the following format: "
    "<think>\nyour reasoning\n</think>\n\n<answer>\nyour answer\n</answer>."
)
# (family, thinking budget): name, architecture, pixels per token side, system prompt, sampling.
CASES: dict[str, dict[str, Any]] = {
    "reason1": {
        "model": "nvidia/Cosmos-Reason1-7B",
        "arch": "qwen2_5_vl",
        "budget": 512,
        "patch": 28,
        "system": R1_SYSTEM,
        "suffix": False,
        "sampling": {
            "temperature": 0.6,
            "top_p": 0.95,
            "top_k": 0,
            "repetition_penalty": 1.05,
            "presence_penalty": 0.0,
            "max_tokens": 4096,
            "seed": None,
        },
    },
    "reason2": {
        "model": "nvidia/Cosmos-Reason2-8B",
        "arch": "qwen3_vl",
        "budget": 512,
        "patch": 32,
        "system": "You are a helpful assistant.",
        "suffix": True,
        "sampling": {
            "temperature": 0.6,
            "top_p": 0.95,
            "top_k": 20,
            "repetition_penalty": 1.0,
            "presence_penalty": 0.0,
            "max_tokens": 4096,
            "seed": 1234,
        },
    },
    "reason2-plain": {
        "model": "nvidia/Cosmos-Reason2-8B",
        "arch": "qwen3_vl",
        "budget": 0,
        "patch": 32,
        "system": "You are a helpful assistant.",
        "suffix": False,
        "sampling": {
            "temperature": 0.7,
            "top_p": 0.8,
            "top_k": 20,
            "repetition_penalty": 1.0,
            "presence_penalty": 1.5,
            "max_tokens": 4096,
            "seed": 3407,
        },
    },
}
QUESTION = "What should the robot do next?"
FRAMES = 4


def snapshot(patch: int) -> WindowSnapshot:
    """One camera, 4 frames at 4 fps, 2 x 3 visual tokens per frame."""
    frames = tuple(np.full((2 * patch, 3 * patch, 3), 30 * (i + 1), np.uint8) for i in range(4))
    stamps = tuple(1_000_000_000 + i * 250_000_000 for i in range(FRAMES))
    return WindowSnapshot((Clip("/front/image_raw", "cam", frames, stamps, 4.0),))


def sampling_of(request: GenerationRequest) -> dict[str, Any]:
    s = request.sampling
    return {
        "temperature": s.temperature,
        "top_p": s.top_p,
        "top_k": s.top_k,
        "repetition_penalty": s.repetition_penalty,
        "presence_penalty": s.presence_penalty,
        "max_tokens": s.max_new_tokens,
        "seed": s.seed,
    }


# -- openai, against the loopback server ------------------------------------------------------
@pytest.mark.parametrize("case", list(CASES))
def test_openai_request_per_family(case: str) -> None:
    c = CASES[case]
    reply = Reply.decision({"action": "stop"}, reasoning_key="reasoning_content")
    with ChatCompletionsServer(default=reply, models=(c["model"],)) as srv:
        values = {
            "backend": "openai",
            "model": c["model"],
            "base_url": srv.base_url,
            "api_key_env": "",
            "max_thinking_tokens": c["budget"],
            "image_topics": ["/front/image_raw"],
        }
        config, backend = load_configured(values)
        try:
            Reasoner(backend, config.reasoner).decide(snapshot(c["patch"]), decision_id=1)
        finally:
            backend.close()
        body = srv.chat_requests[0].body
    assert config.architecture.model_type == c["arch"]
    system, user = body["messages"]
    assert system == {"role": "system", "content": c["system"]}  # a string, as upstream sends
    kinds = [p["type"] for p in user["content"]]
    assert kinds == ["video_url", "text"]  # the video before the text
    assert user["content"][0]["video_url"]["url"].startswith("data:video/mp4;base64,")
    text = user["content"][1]["text"]
    assert text.startswith(QUESTION + "\n")
    assert text.endswith(SUFFIX) == c["suffix"]
    mm = body["mm_processor_kwargs"]
    assert (mm["fps"], mm["do_sample_frames"], mm["do_resize"]) == (4.0, False, False)
    frame_px = 2 * c["patch"] * 3 * c["patch"]
    if c["arch"] == "qwen2_5_vl":  # per-frame bounds, held at the frames' own size
        assert (mm["min_pixels"], mm["max_pixels"]) == (frame_px, frame_px)
    else:  # Qwen3-VL: the clip's total T x H x W, frames counted in pairs
        total = 2 * math.ceil(FRAMES / 2) * frame_px
        assert mm["size"] == {"shortest_edge": total, "longest_edge": total}
    sent = {k: body.get(k) for k in c["sampling"]}
    assert sent == c["sampling"]
    assert ("seed" in body) == (c["sampling"]["seed"] is not None)


# -- transformers, the real backend on the tiny checkpoints -----------------------------------
class _Stop(Exception):
    """Raised by the processor spy once it has recorded the call."""


@pytest.mark.parametrize("case", list(CASES))
def test_transformers_prompt_and_processor_arguments_per_family(
    case: str,
    tiny_model_dir: Path,
    tiny_reason2_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import transformers

    c = CASES[case]
    folder = tiny_model_dir if c["arch"] == "qwen2_5_vl" else tiny_reason2_dir
    cls = (
        transformers.Qwen2_5_VLProcessor
        if c["arch"] == "qwen2_5_vl"
        else (transformers.Qwen3VLProcessor)
    )
    calls: list[dict[str, Any]] = []

    def spy(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs)
        raise _Stop("recorded")

    values = {"model": str(folder), "device": "cpu", "max_thinking_tokens": c["budget"]}
    config, backend = load_configured(values)
    seen: list[GenerationRequest] = []
    real_generate = backend.generate

    def generate(request: GenerationRequest) -> GenerationResult:
        seen.append(request)
        return real_generate(request)

    monkeypatch.setattr(backend, "generate", generate)
    monkeypatch.setattr(cls, "__call__", spy)
    try:
        with pytest.raises(BackendError, match="recorded"):
            Reasoner(backend, config.reasoner).decide(snapshot(c["patch"]), decision_id=1)
    finally:
        backend.close()
    (call,) = calls
    (prompt,) = call["text"]
    user_text = seen[0].messages[1].parts[-1].text  # type: ignore[union-attr]
    system = f"<|im_start|>system\n{c['system']}<|im_end|>\n<|im_start|>user\n{VIDEO}{user_text}"
    assert prompt == system + "<|im_end|>\n<|im_start|>assistant\n"
    assert user_text.startswith(QUESTION + "\n")
    assert user_text.endswith(SUFFIX) == c["suffix"]
    monkeypatch.undo()
    processor = transformers.AutoProcessor.from_pretrained(folder)
    assert prompt == processor.apply_chat_template(
        hf_messages(seen[0]), tokenize=False, add_generation_prompt=True
    )
    (video,) = call["videos"]
    assert video.shape == (FRAMES, 2 * c["patch"], 3 * c["patch"], 3)
    (meta,) = call["video_metadata"]
    assert (meta["fps"], meta["total_num_frames"]) == (4.0, FRAMES)
    assert (call["do_sample_frames"], call["do_resize"]) == (False, False)
    assert sampling_of(seen[0]) == c["sampling"]


def test_transformers_backend_applies_top_k_and_presence_penalty(tiny_model_dir: Path) -> None:
    """Reason2's ``top_k`` and ``presence_penalty`` reach the tiny model's decoding: hot
    sampling with ``top_k`` 1 is greedy whatever the seed, without it the seeds differ; a
    presence penalty breaks greedy decoding's repetition loop."""
    from cosmos_reason_ros.backends.config import BackendConfig
    from cosmos_reason_ros.backends.transformers.backend import TransformersBackend
    from cosmos_reason_ros.core.generation import (
        ChatMessage,
        SamplingSettings,
        TextPart,
        VideoPart,
    )

    clip = snapshot(28).clips[0]
    messages = (ChatMessage("user", (VideoPart(0), TextPart("What next?"))),)
    backend = TransformersBackend(BackendConfig(model=str(tiny_model_dir), device="cpu"))
    backend.load()

    def text(**sampling: Any) -> str:
        settings = SamplingSettings(max_new_tokens=16, repetition_penalty=1.0, **sampling)
        request = GenerationRequest(messages=messages, clips=(clip,), sampling=settings)
        return backend.generate(request).text

    try:
        greedy = text(temperature=0.0)
        top1 = {text(temperature=1.5, top_k=1, seed=s) for s in (1, 2)}
        free = {text(temperature=1.5, top_k=0, seed=s) for s in (1, 2)}
        penalised = text(temperature=0.0, presence_penalty=2.0)
    finally:
        backend.close()
    assert top1 == {greedy}
    assert len(free) == 2
    assert len(set(penalised)) > 2 * len(set(greedy))  # greedy loops over a few characters


# -- tensorrt_llm: its pure request builders --------------------------------------------------
class RequestRecorder:
    """Stands in for the TensorRT-LLM backend (which cannot run here): records the request the
    Reasoner sends and answers nothing useful; only trtllm's pure builders are tested."""

    def __init__(self, architecture: str) -> None:
        self.architecture = architecture
        self.requests: list[GenerationRequest] = []

    def load(self) -> None:
        return None

    def generate(self, request: GenerationRequest) -> GenerationResult:
        self.requests.append(request)
        return GenerationResult(
            text="", prompt_tokens=1, generated_tokens=0, total_s=0.0, time_to_first_token_s=0.0
        )

    def close(self) -> None:
        return None

    def describe(self) -> BackendInfo:
        return BackendInfo("tensorrt_llm", "recorded", architecture=self.architecture)


def trtllm_request(case: str) -> GenerationRequest:
    c = CASES[case]
    values = {"backend": "tensorrt_llm", "model": c["model"], "max_thinking_tokens": c["budget"]}
    config = build_config(values)
    recorder = RequestRecorder(c["arch"])
    Reasoner(recorder, config.reasoner).decide(snapshot(c["patch"]), decision_id=1)
    return recorder.requests[0]


@pytest.mark.parametrize("case", list(CASES))
def test_tensorrt_llm_builders_put_the_video_first_at_its_rate(case: str) -> None:
    from cosmos_reason_ros.backends.tensorrt_llm.backend import (
        hf_messages as trt_messages,
    )
    from cosmos_reason_ros.backends.tensorrt_llm.backend import (
        processor_kwargs,
        video_metadata,
    )

    request = trtllm_request(case)
    system, user = trt_messages(request)
    assert system["content"] == [{"type": "text", "text": CASES[case]["system"]}]
    assert [p["type"] for p in user["content"]] == ["video", "text"]
    assert user["content"][1]["text"].endswith(SUFFIX) == CASES[case]["suffix"]
    assert processor_kwargs(list(request.clips)) == {"fps": 4.0, "do_sample_frames": False}
    meta = video_metadata(request.clips[0])
    assert (meta["fps"], meta["total_num_frames"]) == (4.0, FRAMES)


@pytest.mark.parametrize("case", list(CASES))
def test_tensorrt_llm_sampling_keeps_temperature_top_p_repetition_and_seed(case: str) -> None:
    from cosmos_reason_ros.backends.tensorrt_llm.backend import sampling_kwargs

    request = trtllm_request(case)
    expected = CASES[case]["sampling"]
    sent = sampling_kwargs(request.sampling, request.sampling.max_new_tokens)
    assert sent["max_tokens"] == expected["max_tokens"]
    for key in ("temperature", "top_p", "repetition_penalty"):
        assert sent[key] == expected[key], key
    assert sent.get("seed") == expected["seed"]


@pytest.mark.parametrize("case", ["reason2", "reason2-plain"])
def test_tensorrt_llm_sampling_sends_reason2_top_k_and_presence_penalty(case: str) -> None:
    from cosmos_reason_ros.backends.tensorrt_llm.backend import sampling_kwargs

    request = trtllm_request(case)
    sent = sampling_kwargs(request.sampling, request.sampling.max_new_tokens)
    expected = CASES[case]["sampling"]
    assert (sent.get("top_k"), sent.get("presence_penalty")) == (
        expected["top_k"],
        expected["presence_penalty"],
    )
