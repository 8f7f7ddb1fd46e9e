"""Replay: a bag written here through rosbags' own typestore, played over real DDS to rclpy.

The bag holds content the scenario tool never writes (16-bit mono, Bayer, JPEG, and a
non-image topic), so replay is checked against any standard bag, not just our own.
"""

from __future__ import annotations

import itertools
import threading
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy", reason="rclpy is not importable: run `make setup`")

from dds_helpers import publisher_node, spinning  # noqa: E402
from rclpy.context import Context  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402
from rosbags.rosbag2 import StoragePlugin, Writer  # noqa: E402
from rosbags.typesys import Stores, get_typestore  # noqa: E402
from rosgraph_msgs.msg import Clock  # noqa: E402
from sensor_msgs.msg import CompressedImage, Image  # noqa: E402

from cosmos_reason_ros.exits import ExitCode  # noqa: E402
from cosmos_reason_ros.tools.bags import BagError, find_bag  # noqa: E402
from cosmos_reason_ros.tools.replay import ReplayError, replay  # noqa: E402
from cosmos_reason_ros.tools.replay_cli import main  # noqa: E402

T0 = 1_650_000_000_123_000_000
PERIOD = 100_000_000  # 10 Hz
N = 6  # frames per topic: 0.5 s of bag time
MONO, BAYER, JPEG = "/depth/mono16", "/cam/bayer", "/cam/jpeg/compressed"
W, H = 40, 30


def _write_bag(path: Path, *, n: int = N, period: int = PERIOD) -> dict[str, list[dict[str, Any]]]:
    """Write the test bag (sqlite3) and return, per topic, what each message holds."""
    ts = get_typestore(Stores.ROS2_HUMBLE)
    time_cls, header_cls = ts.types["builtin_interfaces/msg/Time"], ts.types["std_msgs/msg/Header"]
    image_cls = ts.types["sensor_msgs/msg/Image"]
    compressed_cls = ts.types["sensor_msgs/msg/CompressedImage"]
    string_cls = ts.types["std_msgs/msg/String"]
    rng = np.random.default_rng(3)
    expected: dict[str, list[dict[str, Any]]] = {MONO: [], BAYER: [], JPEG: []}
    with Writer(path, version=9, storage_plugin=StoragePlugin.SQLITE3) as writer:
        conns = {
            MONO: writer.add_connection(MONO, "sensor_msgs/msg/Image", typestore=ts),
            BAYER: writer.add_connection(BAYER, "sensor_msgs/msg/Image", typestore=ts),
            JPEG: writer.add_connection(JPEG, "sensor_msgs/msg/CompressedImage", typestore=ts),
        }
        log = writer.add_connection("/log", "std_msgs/msg/String", typestore=ts)
        for i in range(n):
            receive = T0 + i * period
            stamp = receive - 7_000_001  # header stamp differs from log time on purpose
            header = header_cls(
                stamp=time_cls(sec=stamp // 10**9, nanosec=stamp % 10**9), frame_id=f"frame_{i}"
            )
            depth = rng.integers(0, 65535, size=(H, W), dtype=np.uint16)
            bayer = rng.integers(0, 255, size=(H, W), dtype=np.uint8)
            ok, jpeg = cv2.imencode(".jpg", rng.integers(0, 255, (H, W, 3), dtype=np.uint8))
            assert ok
            msgs = {
                MONO: image_cls(
                    header=header,
                    height=H,
                    width=W,
                    encoding="mono16",
                    is_bigendian=0,
                    step=W * 2,
                    data=np.frombuffer(depth.astype("<u2").tobytes(), np.uint8),
                ),
                BAYER: image_cls(
                    header=header,
                    height=H,
                    width=W,
                    encoding="bayer_rggb8",
                    is_bigendian=0,
                    step=W,
                    data=bayer.reshape(-1),
                ),
                JPEG: compressed_cls(header=header, format="jpeg", data=jpeg.reshape(-1)),
            }
            for topic, msg in msgs.items():
                writer.write(conns[topic], receive, ts.serialize_cdr(msg, msg.__msgtype__))
                expected[topic].append(
                    {"stamp": stamp, "frame_id": f"frame_{i}", "data": bytes(msg.data)}
                )
            writer.write(
                log, receive, ts.serialize_cdr(string_cls(data="x"), "std_msgs/msg/String")
            )
    return expected


@pytest.fixture
def bag(tmp_path: Path) -> tuple[Path, dict[str, list[dict[str, Any]]]]:
    expected = _write_bag(tmp_path / "mixed")
    return tmp_path / "mixed", expected


class _Recorder:
    """A subscriber node that keeps everything it receives."""

    def __init__(self, context: Context, topics: tuple[str, ...]) -> None:
        self.node = Node("replay_test_recorder", context=context)
        self.got: dict[str, list[Any]] = {t: [] for t in topics}
        self.clock: list[int] = []
        self.lock = threading.Lock()
        qos = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
        for topic in topics:
            cls = CompressedImage if topic.endswith("/compressed") else Image
            self.node.create_subscription(cls, topic, self._keep(topic), qos)
        self.node.create_subscription(Clock, "/clock", self._on_clock, qos)

    def _keep(self, topic: str) -> Any:
        def callback(msg: Any) -> None:
            with self.lock:
                self.got[topic].append(msg)

        return callback

    def _on_clock(self, msg: Clock) -> None:
        with self.lock:
            self.clock.append(msg.clock.sec * 10**9 + msg.clock.nanosec)

    def counts(self) -> dict[str, int]:
        with self.lock:
            return {t: len(v) for t, v in self.got.items()}


def _wait_for(predicate: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def _stamp_ns(msg: Any) -> int:
    return int(msg.header.stamp.sec) * 10**9 + int(msg.header.stamp.nanosec)


def test_replay_delivers_every_image_message_with_the_recorded_header_over_dds(
    ros_context: Context, bag: tuple[Path, dict[str, list[dict[str, Any]]]]
) -> None:
    path, expected = bag
    recorder = _Recorder(ros_context, (MONO, BAYER, JPEG))
    with spinning(ros_context, recorder.node), publisher_node("replay_test_publisher") as node:
        stats = replay(
            path, node=node, clock=True, rate=4.0, start_delay_s=10.0, min_subscribers=1
        )
        _wait_for(
            lambda: recorder.counts() == dict.fromkeys((MONO, BAYER, JPEG), N),
            10.0,
            f"{N} messages per topic, got {recorder.counts()}",
        )
    assert dict(stats.published) == dict.fromkeys((MONO, BAYER, JPEG), N)
    assert stats.skipped_topics == ("/log",)
    assert stats.passes == 1 and not stats.stopped
    assert stats.bag_duration_s == pytest.approx((N - 1) * PERIOD / 1e9)
    for topic in (MONO, BAYER, JPEG):
        got = recorder.got[topic]
        assert [_stamp_ns(m) for m in got] == [e["stamp"] for e in expected[topic]]
        assert [m.header.frame_id for m in got] == [e["frame_id"] for e in expected[topic]]
        assert [bytes(m.data) for m in got] == [e["data"] for e in expected[topic]]
    assert {m.encoding for m in recorder.got[MONO]} == {"mono16"}
    assert {(m.step, m.height, m.width) for m in recorder.got[MONO]} == {(W * 2, H, W)}
    assert {m.encoding for m in recorder.got[BAYER]} == {"bayer_rggb8"}
    assert {m.format for m in recorder.got[JPEG]} == {"jpeg"}
    # /clock carries bag (log) time: within the recorded span, never going backwards.
    _wait_for(lambda: len(recorder.clock) >= N, 5.0, "/clock messages")
    assert recorder.clock == sorted(recorder.clock)
    assert recorder.clock[0] >= T0 and recorder.clock[-1] == T0 + (N - 1) * PERIOD


def test_rate_two_plays_the_bag_in_about_half_the_time(
    tmp_path: Path, ros_context: Context
) -> None:
    path = tmp_path / "long"
    _write_bag(path, n=11)  # 1.0 s of bag time
    node = Node("replay_rate_test", context=ros_context)
    try:
        normal = replay(path, node=node, topics=[MONO], rate=1.0)
        double = replay(path, node=node, topics=[MONO], rate=2.0)
    finally:
        node.destroy_node()
    assert dict(normal.published) == dict(double.published) == {MONO: 11}
    assert normal.wall_s == pytest.approx(1.0, abs=0.35)
    assert double.wall_s == pytest.approx(0.5, abs=0.3)
    assert double.wall_s < 0.8 * normal.wall_s


def test_loop_keeps_time_increasing_until_the_stop_event_is_set(
    ros_context: Context, bag: tuple[Path, dict[str, list[dict[str, Any]]]]
) -> None:
    path, expected = bag
    recorder = _Recorder(ros_context, (BAYER,))
    stop = threading.Event()
    result: list[Any] = []
    with spinning(ros_context, recorder.node), publisher_node("replay_test_publisher") as node:
        thread = threading.Thread(
            target=lambda: result.append(
                replay(
                    path,
                    node=node,
                    topics=[BAYER],
                    rate=5.0,
                    loop=True,
                    start_delay_s=10.0,
                    min_subscribers=1,
                    stop_event=stop,
                )
            )
        )
        thread.start()
        _wait_for(lambda: recorder.counts()[BAYER] >= 2 * N + 1, 15.0, "a third pass")
        stop.set()
        thread.join(timeout=5.0)
    assert not thread.is_alive(), "replay must end soon after the stop event"
    stats = result[0]
    assert stats.stopped and stats.passes >= 3
    stamps = [_stamp_ns(m) for m in recorder.got[BAYER]]
    assert stamps[:N] == [e["stamp"] for e in expected[BAYER]]  # first pass exactly as recorded
    assert all(b > a for a, b in itertools.pairwise(stamps))
    assert stamps[N] - stamps[0] == N * PERIOD  # next pass: one bag length + one period later


def test_console_script_publishes_only_the_chosen_topics_and_clock(
    ros_context: Context,
    bag: tuple[Path, dict[str, list[dict[str, Any]]]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    path, expected = bag
    recorder = _Recorder(ros_context, (MONO, JPEG))
    with spinning(ros_context, recorder.node):
        # main() initialises and shuts down rclpy's default context itself (its own participant).
        status = main(
            [
                str(path / "mixed.db3"),
                "--topics",
                JPEG,
                "--clock",
                "--rate",
                "5",
                "--start-delay",
                "10",
                "--wait-subscribers",
                "1",
                "--qos",
                "reliable",
            ]
        )
        _wait_for(lambda: recorder.counts()[JPEG] == N, 10.0, f"{N} JPEG messages")
        _wait_for(lambda: len(recorder.clock) >= N, 5.0, "/clock messages")
    assert status == 0
    assert f"{JPEG}={N}" in capsys.readouterr().out
    assert recorder.counts()[MONO] == 0
    assert [_stamp_ns(m) for m in recorder.got[JPEG]] == [e["stamp"] for e in expected[JPEG]]
    assert min(recorder.clock) >= T0 and max(recorder.clock) == T0 + (N - 1) * PERIOD


def test_bags_without_the_requested_images_are_refused_with_a_reason(
    tmp_path: Path,
    bag: tuple[Path, dict[str, list[dict[str, Any]]]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    path, _ = bag
    with pytest.raises(BagError, match=r"not image topics of this bag: /log"):
        replay(path, topics=["/log"])
    with pytest.raises(BagError, match="no rosbag2 directory"):
        find_bag(tmp_path / "nothing.mcap")
    with pytest.raises(ReplayError, match="rate must be > 0"):
        replay(path, rate=0.0)
    assert main([str(tmp_path / "nothing"), "--start-delay", "0"]) == ExitCode.INPUT
    assert "no rosbag2 directory" in capsys.readouterr().err


def test_find_bag_accepts_the_directory_a_file_in_it_or_the_scenario_out_name(
    bag: tuple[Path, dict[str, list[dict[str, Any]]]],
) -> None:
    path, _ = bag
    assert find_bag(path) == path
    assert find_bag(path / "mixed.db3") == path
    assert find_bag(path.with_suffix(".db3")) == path
