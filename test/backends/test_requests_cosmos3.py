"""What a served Cosmos 3 reasoner receives through the ``openai`` backend, field by field
against NVIDIA's Cosmos 3 reasoner prompt guide (NVIDIA/cosmos
``cookbooks/cosmos3/reasoner/reasoner_prompt_guide.md`` @ 3d56c91; 4 fps and ``max_tokens``
4096 from ``run_with_vllm.ipynb``). The guide's values are written out here, not imported from
``core.recipes``, so a drifting recipe fails. The loopback server (``testing/openai_server``)
stands in for vLLM / NIM / TensorRT Edge-LLM's server, which cannot run here, and logs each
request.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from cosmos_reason_ros.config.loading import load_configured
from cosmos_reason_ros.core.reasoner import Reasoner
from cosmos_reason_ros.core.types import Clip, WindowSnapshot
from cosmos_reason_ros.testing.openai_server import ChatCompletionsServer, Reply

GUIDE_SYSTEM = "You are a helpful assistant."
GUIDE_REASONING = (
    "Answer the question using the following format:\n\n<think>\nYour reasoning.\n</think>\n\n"
    "Write your final answer immediately after the </think> tag."
)
GUIDE_REASONING_ON = {
    "temperature": 0.6,
    "top_p": 0.95,
    "top_k": 20,
    "repetition_penalty": 1.0,
    "presence_penalty": 0.0,
    "max_tokens": 4096,
}
GUIDE_REASONING_OFF = {
    "temperature": 0.7,
    "top_p": 0.8,
    "top_k": 20,
    "repetition_penalty": 1.0,
    "presence_penalty": 1.5,
    "max_tokens": 4096,
}
SERVED = {  # served name -> architecture it is read as
    "nvidia/Cosmos3-Nano": "cosmos3_omni",
    "nvidia/Cosmos3-Super": "cosmos3_omni",
    "nvidia/Cosmos3-Edge": "cosmos3_edge",
    "nvidia/cosmos3-nano-reasoner": "cosmos3_omni",  # NIM
    "cosmos3-edge-reasoner": "cosmos3_edge",  # NIM
}
FRAMES = 4
QUESTION = "What should the robot do next?"


def snapshot() -> WindowSnapshot:
    """One camera, 4 frames at 4 fps, 2 x 3 visual tokens of 32 px per frame."""
    frames = tuple(np.full((64, 96, 3), 30 * (i + 1), np.uint8) for i in range(FRAMES))
    stamps = tuple(1_000_000_000 + i * 250_000_000 for i in range(FRAMES))
    return WindowSnapshot((Clip("/front/image_raw", "cam", frames, stamps, 4.0),))


def served_request(model: str, budget: int) -> tuple[Any, dict[str, Any]]:
    reply = Reply.decision({"action": "stop"}, reasoning_key="reasoning_content")
    with ChatCompletionsServer(default=reply, models=(model,)) as srv:
        values = {
            "backend": "openai",
            "model": model,
            "base_url": srv.base_url,
            "api_key_env": "",
            "max_thinking_tokens": budget,
            "image_topics": ["/front/image_raw"],
        }
        config, backend = load_configured(values)
        try:
            decision = Reasoner(backend, config.reasoner).decide(snapshot(), decision_id=1)
        finally:
            backend.close()
        assert decision.valid, decision.reason
        return config, srv.chat_requests[0].body


@pytest.mark.parametrize("model", list(SERVED))
@pytest.mark.parametrize("reasoning", [True, False], ids=["reasoning", "plain"])
def test_a_served_cosmos3_gets_the_prompt_guide_recipe(model: str, reasoning: bool) -> None:
    config, body = served_request(model, 512 if reasoning else 0)
    assert config.architecture.model_type == SERVED[model]
    assert config.reasoner.profile == "cosmos3"
    system, user = body["messages"]
    assert system == {"role": "system", "content": GUIDE_SYSTEM}
    assert [p["type"] for p in user["content"]] == ["video_url", "text"]  # media first
    text = user["content"][1]["text"]
    assert text.startswith(QUESTION + "\n")
    assert text.endswith("\n\n" + GUIDE_REASONING) == reasoning
    assert (GUIDE_REASONING in text) == reasoning
    guide = GUIDE_REASONING_ON if reasoning else GUIDE_REASONING_OFF
    assert {k: body.get(k) for k in guide} == guide
    assert "seed" not in body  # the guide fixes none
    mm = body["mm_processor_kwargs"]
    assert mm["fps"] == 4.0  # the guide's 4 fps; frames arrive already sampled at it
    assert (mm["do_sample_frames"], mm["do_resize"]) == (False, False)
    frame_px = 64 * 96
    per_clip = FRAMES if SERVED[model] == "cosmos3_edge" else 2 * math.ceil(FRAMES / 2)
    total = per_clip * frame_px  # the processor's bound on frames x height x width
    assert mm["size"] == {"shortest_edge": total, "longest_edge": total}
