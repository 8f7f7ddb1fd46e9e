"""The node as users run it, at its default parameters, asked 16 times over DDS on each tiny
checkpoint: every answer is a decision, and every decision is valid. (16, not the 30 of before:
frames now reach the model at upstream's size, which made each decision dearer, and `make test`
must stay under 15 minutes; the in-process validity properties cover the seeds.)

The node runs as ``python -m cosmos_reason_ros.node`` in a child process; this process is the
camera (the default topic, 30 Hz) and the planner.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("rclpy", reason="rclpy is not importable: run `make setup`")

from child import node_process
from harness import streaming_frames
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from spin import spinning, wait_for

from cosmos_reason_ros.config import DEFAULT_ACTIONS
from cosmos_reason_ros.srv import AskNextAction

ASKS = 16
ALLOWED = {a.split(":")[0] for a in DEFAULT_ACTIONS}


@contextmanager
def camera(node: Node, topic: str = "/camera/image_raw") -> Iterator[None]:
    """The default camera topic at 30 Hz, 320x240, stamped with the wall clock."""
    qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
    with streaming_frames(node.create_publisher(Image, topic, qos)):
        yield


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["qwen2_5_vl", "qwen3_vl"])
def test_every_ask_at_the_default_parameters_is_a_valid_decision(
    ros_context: Any, tiny_model_dirs: dict[str, Path], tmp_path: Path, arch: str
) -> None:
    planner = Node("test_planner", context=ros_context)
    client = planner.create_client(AskNextAction, "/cosmos_reason/ask")
    answers = []
    params = {"model": str(tiny_model_dirs[arch]), "device": "cpu"}
    with spinning(ros_context, planner), node_process(tmp_path, **params), camera(planner):
        assert client.wait_for_service(timeout_sec=120.0), "the node's ~/ask never appeared"
        deadline = time.monotonic() + 600
        while len(answers) < ASKS and time.monotonic() < deadline:
            future = client.call_async(AskNextAction.Request())
            wait_for(future.done, 120, what="an answer")
            answer = future.result()
            if not answer.success and not answers and _starting(answer.message):
                time.sleep(0.2)  # the model is loading or the camera is being discovered
                continue
            answers.append(answer)
    planner.destroy_node()
    assert len(answers) == ASKS
    failed = [a.message for a in answers if not a.success]
    assert not failed, failed
    invalid = [(a.action.action, a.action.reason) for a in answers if not a.action.valid]
    assert not invalid, invalid
    assert all(a.action.action in ALLOWED | {"stop"} for a in answers)
    assert all(a.reasoning.thinking_ended_by in ("model", "tokens", "deadline") for a in answers)


def _starting(message: str) -> bool:
    """A refusal that only says the node is not ready yet."""
    return "no recent frames" in message or message.startswith(
        ("node is up but configuring", "node is up but inactive", "node is up but activating")
    )
