"""The node under a burst of requests, driven from outside over DDS: it answers every request
(a decision or a refusal with the reason), rejects goals beyond capacity at goal time, keeps
taking camera frames and publishing diagnostics meanwhile, and cannot be brought down by
periodic decisions racing asks for its single place.

The node runs as users run it (``python -m cosmos_reason_ros.node``, default parameters apart
from the model and the device) in a child process; this process is the planner and camera.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("rclpy", reason="rclpy is not importable: run `make setup`")

from child import node_process
from diagnostic_msgs.msg import DiagnosticArray
from harness import streaming_frames
from rclpy.action import ActionClient
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from spin import spinning, wait_for

from cosmos_reason_ros.action import Reason
from cosmos_reason_ros.config import SPEC_BY_NAME
from cosmos_reason_ros.srv import AskNextAction

TOPIC = "/camera/image_raw"  # the default image topic
CAMERA_HZ = 30.0
MAX_PENDING = int(SPEC_BY_NAME["max_pending"].default)
ANSWER_BOUND_S = 240.0  # every ask answered within this (a few default decisions on CPU)


class Planner(Node):
    """A planner and a 30 Hz camera in one node: asks, goals, diagnostics."""

    def __init__(self, context: Any) -> None:
        super().__init__("test_planner", context=context)
        qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
        self.camera = self.create_publisher(Image, TOPIC, qos)
        self.ask = self.create_client(AskNextAction, "/cosmos_reason/ask")
        self.reason = ActionClient(self, Reason, "/cosmos_reason/reason")
        self.lock = threading.Lock()
        self.diagnostics: list[tuple[float, int]] = []  # (arrival, camera received)
        self.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 20)

    def _on_diagnostics(self, msg: Any) -> None:
        for status in msg.status:
            if status.name.endswith(f"camera {TOPIC}"):
                received = int(next(kv.value for kv in status.values if kv.key == "received"))
                with self.lock:
                    self.diagnostics.append((time.monotonic(), received))

    @contextmanager
    def streaming(self) -> Iterator[None]:
        """Publish 320x240 frames at 30 Hz, stamped with the wall clock, until the block ends."""
        with streaming_frames(self.camera, CAMERA_HZ):
            yield


@pytest.fixture
def planner(ros_context: Any) -> Iterator[Planner]:
    node = Planner(ros_context)
    with spinning(ros_context, node, threads=4):
        yield node
    node.destroy_node()


def _ready(planner: Planner) -> None:
    assert planner.ask.wait_for_service(timeout_sec=120.0), "the node's ~/ask never appeared"
    wait_for(lambda: planner.count_subscribers(TOPIC) > 0, 120, what="the camera subscription")


def test_a_burst_beyond_capacity_is_answered_in_full_while_frames_and_diagnostics_flow(
    planner: Planner, tiny_model_dir: Path, tmp_path: Path
) -> None:
    asks = 2 * MAX_PENDING + 8
    with node_process(tmp_path, model=str(tiny_model_dir), device="cpu"), planner.streaming():
        _ready(planner)
        _first_answer(planner)
        with planner.lock:
            planner.diagnostics.clear()
        t0 = time.monotonic()
        futures = [
            planner.ask.call_async(AskNextAction.Request(question=f"burst {i}"))
            for i in range(asks)
        ]
        wait_for(lambda: all(f.done() for f in futures), ANSWER_BOUND_S, what="every ask's answer")
        burst_s = time.monotonic() - t0
        goals = _goals_beyond_capacity(planner)
        with planner.lock:
            diagnostics = list(planner.diagnostics)
    answers = [f.result() for f in futures]
    decided = [a for a in answers if a.success]
    refused = [a for a in answers if not a.success]
    assert len(decided) + len(refused) == asks
    assert decided, "no ask was decided"
    assert all(a.action.action and a.reasoning.decision_id for a in decided)
    assert refused and all("queue full" in a.message for a in refused), [
        a.message for a in refused
    ]
    assert len(decided) <= asks - len(refused)
    # Diagnostics kept their 1 s period during the burst, and the camera kept being heard.
    stamps = [t for t, _ in diagnostics if t <= t0 + burst_s]
    assert len(stamps) >= max(2, int(burst_s) - 2), (len(stamps), burst_s)
    assert max(b - a for a, b in itertools.pairwise(stamps)) < 3.0
    received = [r for t, r in diagnostics if t <= t0 + burst_s]
    assert received[-1] > received[0], "the camera's received count stopped rising"
    accepted, rejected = goals
    assert rejected >= 3 and accepted <= MAX_PENDING + 1, goals


def _first_answer(planner: Planner) -> None:
    """Wait until the node decides (the window has frames and the model is loaded)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        future = planner.ask.call_async(AskNextAction.Request())
        wait_for(future.done, 120, what="an answer")
        if future.result().success:
            return
        time.sleep(0.5)
    raise AssertionError("the node never decided")


def _goals_beyond_capacity(planner: Planner) -> tuple[int, int]:
    """Send goals while the worker is busy; returns (accepted, rejected) at goal time. The
    accepted ones are left to finish (the node answers them when their job completes)."""
    assert planner.reason.wait_for_server(timeout_sec=10)
    n = MAX_PENDING + 4
    sent = [planner.reason.send_goal_async(Reason.Goal(question=f"goal {i}")) for i in range(n)]
    wait_for(lambda: all(f.done() for f in sent), 30, what="every goal response")
    handles = [f.result() for f in sent]
    accepted = [h for h in handles if h.accepted]
    results = [h.get_result_async() for h in accepted]
    wait_for(lambda: all(r.done() for r in results), ANSWER_BOUND_S, what="the goals' results")
    return len(accepted), n - len(accepted)


def test_max_pending_zero_with_periodic_decisions_racing_asks_leaves_the_node_alive(
    planner: Planner, tiny_model_dir: Path, tmp_path: Path
) -> None:
    params = {
        "model": str(tiny_model_dir),
        "device": "cpu",
        "max_pending": 0,
        "decision_period_s": 0.1,
    }
    with node_process(tmp_path, **params) as child, planner.streaming():
        _ready(planner)
        deadline = time.monotonic() + 30.0
        answered = 0
        while time.monotonic() < deadline:
            futures = [planner.ask.call_async(AskNextAction.Request()) for _ in range(3)]
            wait_for(lambda fs=futures: all(f.done() for f in fs), 120, what="the answers")
            answered += len(futures)
            assert child.poll() is None, "the node's process ended"
            time.sleep(0.05)
        assert child.poll() is None, "the node's process ended"
        future = planner.ask.call_async(AskNextAction.Request())
        wait_for(future.done, 120, what="an answer after the race")
    assert answered >= 3
    assert future.result().success or "queue full" in future.result().message
