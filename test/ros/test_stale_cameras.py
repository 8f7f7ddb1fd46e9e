"""A camera that keeps publishing, but nothing usable, is stale: never a decision on an old scene.

The node runs as users run it (``python -m cosmos_reason_ros.node``, the tiny model) in a child
process; this process is the cameras and the planner, over real DDS. Three cameras send good
frames, then only frames that cannot be used, as real drivers do: one switches to an encoding
nobody decodes, one sends corrupt JPEGs, one loses time sync and stamps zero. Arrivals go on at
10 Hz on every topic. Once ``max_frame_age_s`` has passed since the last good frame, asks,
actions and periodic decisions are all refused or ``valid=false``, naming each camera and why,
and ``/diagnostics`` says the same.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("rclpy", reason="rclpy is not importable: run `make setup`")

from child import node_process
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from harness import frame, image_msg
from rclpy.action import ActionClient
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image
from spin import spinning, wait_for

from cosmos_reason_ros.action import Reason
from cosmos_reason_ros.core.window import WindowStats
from cosmos_reason_ros.msg import NextAction
from cosmos_reason_ros.ros.cameras import CameraStats, stale_reason
from cosmos_reason_ros.ros.conversions import time_from_ns
from cosmos_reason_ros.srv import AskNextAction

ENCODING, JPEG, STAMP = "/enc/image_raw", "/jpeg/image_raw/compressed", "/stamp/image_raw"
MAX_AGE_S = 2.0
NODE_PARAMS = {
    "image_topics": [ENCODING, JPEG, STAMP],
    "max_frame_age_s": MAX_AGE_S,
    "decision_period_s": 1.0,
    "diagnostics_period_s": 0.5,
    "device": "cpu",
    "max_new_tokens": 200,
    "max_thinking_tokens": 4,
    "image_qos": "reliable",
}


def corrupt_jpeg() -> bytes:
    """A JPEG whose headers are intact and whose scan data is zeros: libjpeg decodes it only
    with a warning ("premature end of data segment"), which is a corrupt frame."""
    good = bytes(image_msg(frame(), 0, "jpeg").data)
    scan = good.index(b"\xff\xda") + 20
    return good[:scan] + bytes(len(good) - scan - 2) + b"\xff\xd9"


class CamerasAndPlanner(Node):
    """Three cameras publishing at 10 Hz (good or unusable frames), and a planner."""

    def __init__(self, context: Any) -> None:
        super().__init__("stale_test", context=context)
        qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
        self.pubs = {
            ENCODING: self.create_publisher(Image, ENCODING, qos),
            JPEG: self.create_publisher(CompressedImage, JPEG, qos),
            STAMP: self.create_publisher(Image, STAMP, qos),
        }
        self.ask = self.create_client(AskNextAction, "/cosmos_reason/ask")
        self.reason = ActionClient(self, Reason, "/cosmos_reason/reason")
        self.actions: list[tuple[float, NextAction]] = []
        self.diagnostics: list[tuple[float, DiagnosticArray]] = []
        self.create_subscription(NextAction, "/cosmos_reason/next_action", self._on_action, 20)
        self.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 20)
        self.good = True
        self.bad_jpeg = corrupt_jpeg()

    def _on_action(self, msg: NextAction) -> None:
        self.actions.append((time.monotonic(), msg))

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        self.diagnostics.append((time.monotonic(), msg))

    def publish_once(self, seed: int) -> None:
        now = time.time_ns()
        pixels = frame(seed=seed % 7)
        raw = image_msg(pixels, now, "rgb8")
        jpeg = image_msg(pixels, now, "jpeg")
        zero = image_msg(pixels, now, "rgb8")
        if not self.good:
            raw.encoding = "yuv420_10bit"  # a driver switched to an encoding nobody decodes
            jpeg.data = self.bad_jpeg
            zero.header.stamp = time_from_ns(0)  # lost time sync
        self.pubs[ENCODING].publish(raw)
        self.pubs[JPEG].publish(jpeg)
        self.pubs[STAMP].publish(zero)

    def call_ask(self) -> Any:
        future = self.ask.call_async(AskNextAction.Request())
        wait_for(future.done, 120, what="an answer to ~/ask")
        return future.result()

    def call_action(self) -> Any:
        assert self.reason.wait_for_server(timeout_sec=30)
        sent = self.reason.send_goal_async(Reason.Goal())
        wait_for(sent.done, 30, what="the goal to be accepted or rejected")
        handle = sent.result()
        assert handle.accepted
        result = handle.get_result_async()
        wait_for(result.done, 120, what="the action result")
        return result.result().result

    def camera_statuses(self, since: float) -> dict[str, DiagnosticStatus]:
        found: dict[str, DiagnosticStatus] = {}
        for at, arr in self.diagnostics:
            for status in arr.status if at >= since else ():
                for topic in self.pubs:
                    if status.name.endswith(f"camera {topic}"):
                        found[topic] = status
        return found


@pytest.fixture
def rig(ros_context: Any) -> Iterator[CamerasAndPlanner]:
    node = CamerasAndPlanner(ros_context)
    stop = threading.Event()

    def stream() -> None:
        seed = 0
        while not stop.wait(0.1):
            node.publish_once(seed)
            seed += 1

    with spinning(ros_context, node, threads=4):
        thread = threading.Thread(target=stream, daemon=True)
        thread.start()
        try:
            yield node
        finally:
            stop.set()
            thread.join()
    node.destroy_node()


def test_cameras_sending_only_unusable_frames_go_stale_and_every_decision_says_why(
    tmp_path: Path, tiny_model_dir: Path, rig: CamerasAndPlanner
) -> None:
    with node_process(tmp_path / "node", model=str(tiny_model_dir), **NODE_PARAMS):
        assert rig.ask.wait_for_service(timeout_sec=120)
        wait_for(lambda: rig.call_ask().success, 120, what="a decision on good frames")
        wait_for(
            lambda: (
                all(
                    s.level == DiagnosticStatus.OK and s.message == "receiving"
                    for s in rig.camera_statuses(time.monotonic() - 0.6).values()
                )
                and len(rig.camera_statuses(time.monotonic() - 0.6)) == 3
            ),
            30,
            what="every camera to report usable frames",
        )
        before = rig.call_ask()
        rig.good = False
        switched = time.monotonic()
        time.sleep(MAX_AGE_S + 1.0)  # the last good frames are now older than max_frame_age_s
        stale_from = time.monotonic()
        # A decision in flight now took its frames while they were fresh: skip it.
        seen = [m.decision_id for at, m in rig.actions if at <= stale_from]
        in_flight = max(seen, default=0) + 1
        asked = rig.call_ask()
        acted = rig.call_action()
        wait_for(
            lambda: any(m.decision_id > in_flight for _, m in rig.actions),
            30,
            what="a periodic decision begun after the frames went stale",
        )
        wait_for(
            lambda: len(rig.camera_statuses(stale_from)) == 3, 10, what="diagnostics when stale"
        )
        statuses = rig.camera_statuses(stale_from)
        periodic = [msg for _, msg in rig.actions if msg.decision_id > in_flight]
    assert before.success and before.action.valid, before.message
    assert stale_from - switched >= MAX_AGE_S
    assert not asked.success
    message = asked.message
    assert message.startswith(f"no recent frames (max_frame_age_s={MAX_AGE_S:g}): "), message
    for topic, cause in (
        (ENCODING, "unusable encoding (unsupported image encoding 'yuv420_10bit'"),
        (JPEG, "corrupt data (could not decode jpeg image"),
        (STAMP, "bad stamps (header.stamp is 0"),
    ):
        clause = next(c for c in message.split("; camera ") if topic in c)
        assert "no usable frame for" in clause and "frames arrived" in clause, clause
        assert cause in clause, (cause, clause)
        status = statuses[topic]
        assert status.level == DiagnosticStatus.WARN, status
        assert status.message.startswith("stale: no usable frame for"), status.message
        assert cause in status.message, (cause, status.message)
    assert not acted.success and not acted.action.valid
    assert acted.message.startswith("no recent frames") and "corrupt data" in acted.message
    assert periodic and all(not m.valid and m.action == "stop" for m in periodic), periodic
    assert all("no recent frames" in m.reason for m in periodic), [m.reason for m in periodic]


def _stats(**changes: Any) -> CameraStats:
    fields: dict[str, Any] = {
        "topic": "/cam",
        "received": 40,
        "invalid": 0,
        "last_error": "",
        "silent_s": 0.1,
    }
    return CameraStats(**(fields | changes))


def _window(duplicate: int = 0, out_of_order: int = 0) -> WindowStats:
    return WindowStats("/cam", 40, 5, 10, out_of_order, duplicate, 0, 5, 17, 1)


@pytest.mark.parametrize(
    ("cam", "window", "usable_age_s", "reason"),
    [
        (_stats(), _window(), 1.9, ""),
        (_stats(silent_s=None, received=0), None, None, "has sent no frames since activation"),
        (_stats(silent_s=7.25), _window(), 7.3, "silent for 7.2 s"),
        (
            _stats(last_cause="corrupt", last_error="bad scan", invalid_age_s=0.1),
            _window(),
            3.0,
            "no usable frame for 3.0 s though 40 frames arrived; corrupt data (bad scan)",
        ),
        (
            _stats(last_cause="encoding", last_error="yuv", invalid_age_s=0.1),
            _window(),
            None,
            "no usable frame yet though 40 frames arrived; unusable encoding (yuv)",
        ),
        (
            _stats(last_cause="corrupt", last_error="old", invalid_age_s=9.0),  # before usable
            _window(duplicate=35),
            3.0,
            "no usable frame for 3.0 s though 40 frames arrived; bad stamps (repeated: 35, "
            "going back: 0 since activation)",
        ),
    ],
)
def test_stale_reason_names_silence_or_the_kind_of_unusable_frames(
    cam: CameraStats, window: WindowStats | None, usable_age_s: float | None, reason: str
) -> None:
    assert stale_reason(cam, window, MAX_AGE_S, usable_age_s) == reason
