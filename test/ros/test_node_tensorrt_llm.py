"""The node with ``backend:=tensorrt_llm`` on the TensorRT-LLM stand-in, asked over real DDS.

TensorRT-LLM cannot run here (no NVIDIA GPU, no wheels): ``testing.tensorrt_llm_standin``
stands in for its LLM API (upstream's classes and streaming, scripted output). Everything else
is real: the node, its camera subscription and ask service over DDS, the window, the Reasoner,
the backend and the tiny checkpoint's processor and chat template.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("rclpy", reason="rclpy is not importable: run `make setup` / `make test`")

from harness import PERIOD_NS, T0_NS, attach_camera, frame, image_msg, make_node, running

from cosmos_reason_ros.ros.conversions import ns_from_time
from cosmos_reason_ros.ros.node import FAILURE
from cosmos_reason_ros.testing.openai_replies import VALID_ANSWER as ANSWER
from cosmos_reason_ros.testing.tensorrt_llm_standin import Runtime, decision_replies, installed

TRT = {  # the harness's tiny-model settings are for the transformers backend on CPU
    "backend": "tensorrt_llm",
    "device": "auto",
    "max_reason_chars": 300,
    "max_target_chars": 128,
    "max_parameters": 8,
    "max_thinking_tokens": 64,
}


@pytest.mark.parametrize("release", ["main", "1.2"])
def test_standin_ask_with_tensorrt_llm_backend_returns_a_valid_next_action(
    ros_context: Any, tiny_model_dir: Path, release: str
) -> None:
    """Stand-in for TensorRT-LLM: main answers in one call (thinking budget + structural tag),
    1.2 in two (free thinking, then the JSON-guided answer); both give a valid NextAction."""
    runtime = Runtime(
        respond=decision_replies(ANSWER), stop_tokens={"</think>": ("</", "think", ">")}
    )
    with installed(release, runtime), running(ros_context, tiny_model_dir, **TRT) as (node, ask):
        cam = attach_camera(node, "/cam/image_raw")
        cam.wait_matched()
        cam.send([image_msg(frame(seed=i), T0_NS + i * PERIOD_NS, "rgb8") for i in range(3)])
        res = ask.ask_on_newest(T0_NS + 2 * PERIOD_NS)
        cam.destroy_node()
    assert res.action.valid, res.action.reason
    assert (res.action.action, res.action.target) == ("slow_down", "ball")
    assert {kv.key: kv.value for kv in res.action.parameters} == {"speed_mps": "0.2"}
    assert ns_from_time(res.action.header.stamp) == T0_NS + 2 * PERIOD_NS
    assert "ball rolls toward the robot" in res.reasoning.thinking
    assert res.reasoning.thinking_ended_by == "model"
    guides = [c.guide[0] if c.guide else None for c in runtime.calls[-2:]]
    assert guides[-1] == ("structural_tag" if release == "main" else "json")
    assert runtime.calls[-1].videos[0].frames == 2  # 3 frames kept; an even count goes on


def test_standin_configure_refuses_max_num_tokens_below_the_worst_case_prompt(
    ros_context: Any, tiny_model_dir: Path
) -> None:
    """Stand-in for TensorRT-LLM: nothing is loaded; configure fails with one sentence naming
    the parameter, before TensorRT-LLM would refuse the first long prompt."""
    runtime = Runtime()
    topics = ["/front/image_raw", "/rear/image_raw"]
    with installed("main", runtime):
        node = make_node(
            ros_context,
            tiny_model_dir,
            image_topics=topics,
            max_num_tokens=8192,
            autostart=False,
            **TRT,
        )
        try:
            result = node.trigger_configure()
            error = node._last_error
        finally:
            node.close()
            node.destroy_node()
    assert result == FAILURE
    assert "max_num_tokens 8192 is below the worst-case prompt" in error, error
    assert not runtime.log  # TensorRT-LLM was never started
