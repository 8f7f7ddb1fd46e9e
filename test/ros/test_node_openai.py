"""The node with ``backend:=openai`` against a real HTTP server on loopback.

ChatCompletionsServer stands in for trtllm-serve / vLLM / NIM / TensorRT Edge-LLM, which cannot
run here: it speaks the chat-completions protocol (SSE streaming included) over real HTTP.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("rclpy", reason="rclpy is not importable: run `make setup` / `make test`")

from harness import PERIOD_NS, T0_NS, attach_camera, frame, image_msg, running

from cosmos_reason_ros.ros.conversions import ns_from_time
from cosmos_reason_ros.testing.openai_replies import VALID_ANSWER as ANSWER
from cosmos_reason_ros.testing.openai_server import ChatCompletionsServer, Reply


def test_ask_with_openai_backend_returns_the_servers_valid_decision(
    ros_context: Any, tmp_path: Path
) -> None:
    """Stand-in server for trtllm-serve/vLLM/NIM: a right answer gives a valid NextAction; a
    500 and a 400 give success=false with a clear message, and the node keeps serving."""
    with ChatCompletionsServer(default=Reply.decision(ANSWER)) as srv:
        overrides = {
            "backend": "openai",
            "base_url": srv.base_url,
            "max_retries": 0,
            "timeout_s": 5.0,
            "model": "test-model",
        }
        with running(ros_context, "unused", **overrides) as (node, listener):
            cam = attach_camera(node, "/cam/image_raw")
            cam.wait_matched()
            cam.send([image_msg(frame(seed=i), T0_NS + i * PERIOD_NS, "rgb8") for i in range(3)])
            first = _ask_until(listener, lambda r: r.success)
            srv.push(Reply.error(500, "engine overloaded"))
            failed = listener.call()
            srv.push(Reply.error(400, "bad request: too many images"))
            rejected = listener.call()
            again = listener.call()
            cam.destroy_node()
    assert first.action.valid, first.action.reason
    assert first.action.action == "slow_down"
    assert first.action.target == "ball"
    assert {kv.key: kv.value for kv in first.action.parameters} == {"speed_mps": "0.2"}
    assert ns_from_time(first.action.header.stamp) == T0_NS + 2 * PERIOD_NS
    assert not failed.success and "500" in failed.message and "backend failed" in failed.message
    assert not rejected.success and "400" in rejected.message
    assert again.success and again.action.valid
    # One video for the camera's three frames, at their rate (video_transport's default).
    parts = srv.chat_requests[0].content_parts("user")
    assert [p["type"] for p in parts].count("video_url") == 1
    assert srv.chat_requests[0].body["mm_processor_kwargs"]["do_sample_frames"] is False


def _ask_until(listener: Any, ok: Any, tries: int = 50) -> Any:
    import time

    for _ in range(tries):
        res = listener.call()
        if ok(res):
            return res
        time.sleep(0.1)
    raise AssertionError(f"never succeeded: {res.message}")
