"""Bags from other tools: replay and eval read whatever the rosbags library reads.

A bare ``.mcap`` file (no ``metadata.yaml``) written by Foxglove's ``mcap-ros2-support``, as
robot loggers outside ROS write them, is replayed over real DDS and evaluated with the tiny
model; rosbag2 folders of both metadata versions rosbags writes, in both storages, open too.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy", reason="rclpy is not importable: run `make setup`")
mcap_ros2_writer = pytest.importorskip(
    "mcap_ros2.writer", reason="mcap-ros2-support is a test dependency (requirements-dev.txt)"
)

from dds_helpers import publisher_node, spinning  # noqa: E402
from rclpy.context import Context  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402
from rosbags.rosbag2 import StoragePlugin, Writer  # noqa: E402
from rosbags.typesys import Stores, get_typestore  # noqa: E402
from sensor_msgs.msg import CompressedImage, Image  # noqa: E402

from cosmos_reason_ros.tools.bags import BagError, find_bag, open_bag  # noqa: E402
from cosmos_reason_ros.tools.eval_cli import main as eval_main  # noqa: E402
from cosmos_reason_ros.tools.replay import replay  # noqa: E402

RAW, JPEG = "/front/image_raw", "/front/image_raw/compressed"
T0 = 1_700_000_000_000_000_000
PERIOD = 200_000_000  # 5 Hz
N = 11  # 2 s of frames
W, H = 96, 72


def _frame(i: int) -> np.ndarray:
    img = np.full((H, W, 3), 80, np.uint8)
    cv2.circle(img, (10 + 6 * i, H // 2), 8, (220, 40, 40), -1)
    return img


def _write_bare_mcap(path: Path) -> list[int]:
    """A bare MCAP file as Foxglove's mcap-ros2-support writes it (no metadata.yaml): a raw
    and a JPEG topic. Returns the header stamps."""
    store = get_typestore(Stores.ROS2_HUMBLE)
    stamps = [T0 + i * PERIOD for i in range(N)]
    with path.open("wb") as stream:
        writer = mcap_ros2_writer.Writer(stream)
        schemas = {
            t: writer.register_msgdef(t, store.generate_msgdef(t, ros_version=2)[0])
            for t in ("sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage")
        }
        for i, stamp in enumerate(stamps):
            header = {
                "stamp": {"sec": stamp // 10**9, "nanosec": stamp % 10**9},
                "frame_id": f"front_{i}",
            }
            rgb = _frame(i)
            raw = {
                "header": header,
                "height": H,
                "width": W,
                "encoding": "rgb8",
                "is_bigendian": 0,
                "step": W * 3,
                "data": rgb.tobytes(),
            }
            ok, jpeg = cv2.imencode(".jpg", rgb[..., ::-1])
            assert ok
            compressed = {"header": header, "format": "jpeg", "data": jpeg.tobytes()}
            log_time = stamp + 1_000_000
            for topic, message, schema in (
                (RAW, raw, schemas["sensor_msgs/msg/Image"]),
                (JPEG, compressed, schemas["sensor_msgs/msg/CompressedImage"]),
            ):
                writer.write_message(
                    topic, schema, message, log_time=log_time, publish_time=log_time
                )
        writer.finish()
    return stamps


@pytest.fixture
def bare_mcap(tmp_path: Path) -> tuple[Path, list[int]]:
    path = tmp_path / "foxglove.mcap"
    stamps = _write_bare_mcap(path)
    assert not (tmp_path / "metadata.yaml").exists()
    return path, stamps


def test_a_bare_mcap_file_is_found_as_itself_and_opens_with_both_topics(
    bare_mcap: tuple[Path, list[int]],
) -> None:
    path, _ = bare_mcap
    assert find_bag(path) == path
    with open_bag(path) as reader:
        kinds = {c.topic: c.msgtype for c in reader.connections}
        count = sum(1 for _ in reader.messages())
    assert kinds == {RAW: "sensor_msgs/msg/Image", JPEG: "sensor_msgs/msg/CompressedImage"}
    assert count == 2 * N


@pytest.mark.parametrize("version", [8, 9])
@pytest.mark.parametrize("storage", [StoragePlugin.SQLITE3, StoragePlugin.MCAP])
def test_rosbag2_folders_of_each_written_version_and_storage_open(
    tmp_path: Path, version: int, storage: StoragePlugin
) -> None:
    store = get_typestore(Stores.ROS2_HUMBLE)
    image = store.types["sensor_msgs/msg/Image"]
    header = store.types["std_msgs/msg/Header"]
    time = store.types["builtin_interfaces/msg/Time"]
    folder = tmp_path / "bag"
    with Writer(folder, version=version, storage_plugin=storage) as writer:  # type: ignore[arg-type]
        conn = writer.add_connection(RAW, "sensor_msgs/msg/Image", typestore=store)
        msg = image(
            header=header(stamp=time(sec=1, nanosec=0), frame_id="f"),
            height=2,
            width=2,
            encoding="rgb8",
            is_bigendian=0,
            step=6,
            data=np.zeros(12, np.uint8),
        )
        writer.write(conn, T0, store.serialize_cdr(msg, msg.__msgtype__))
    inner = next(p for p in folder.iterdir() if p.name != "metadata.yaml")
    assert find_bag(folder) == find_bag(inner) == folder
    with open_bag(inner) as reader:
        assert [c.topic for c in reader.connections] == [RAW]


def test_a_path_that_holds_no_bag_is_refused_naming_what_would_be_read(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a bag")
    with pytest.raises(BagError, match=r"no rosbag2 directory, \.mcap file or ROS 1 \.bag file"):
        find_bag(tmp_path / "notes.txt")
    long_name = "x" * 100_000
    with pytest.raises(BagError) as err:
        find_bag(long_name)
    assert len(str(err.value)) < 400, "a long path is quoted in part only"


class _Recorder:
    def __init__(self, context: Context) -> None:
        self.node = Node("bag_format_recorder", context=context)
        self.lock = threading.Lock()
        self.got: dict[str, list[Any]] = {RAW: [], JPEG: []}
        qos = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
        self.node.create_subscription(Image, RAW, self._keep(RAW), qos)
        self.node.create_subscription(CompressedImage, JPEG, self._keep(JPEG), qos)

    def _keep(self, topic: str) -> Any:
        def keep(msg: Any) -> None:
            with self.lock:
                self.got[topic].append(msg)

        return keep

    def counts(self) -> dict[str, int]:
        with self.lock:
            return {t: len(v) for t, v in self.got.items()}


def test_replay_plays_a_bare_mcap_over_dds_with_the_recorded_headers(
    ros_context: Context, bare_mcap: tuple[Path, list[int]]
) -> None:
    path, stamps = bare_mcap
    recorder = _Recorder(ros_context)
    with spinning(ros_context, recorder.node), publisher_node("bag_format_replay") as node:
        stats = replay(path, node=node, rate=8.0, start_delay_s=10.0, min_subscribers=1)
        deadline = threading.Event()
        for _ in range(500):
            if recorder.counts() == {RAW: N, JPEG: N}:
                break
            deadline.wait(0.02)
    assert dict(stats.published) == {RAW: N, JPEG: N}
    for topic in (RAW, JPEG):
        got = recorder.got[topic]
        assert [m.header.stamp.sec * 10**9 + m.header.stamp.nanosec for m in got] == stamps
        assert [m.header.frame_id for m in got] == [f"front_{i}" for i in range(N)]
    assert bytes(recorder.got[RAW][3].data) == _frame(3).tobytes()


def test_eval_decides_on_a_bare_mcap(
    tmp_path: Path, tiny_model_dir: Path, bare_mcap: tuple[Path, list[int]]
) -> None:
    pytest.importorskip("transformers", reason="the transformers backend needs transformers")
    path, _ = bare_mcap
    out = tmp_path / "eval"
    status = eval_main(
        [
            str(path),
            *("--model", str(tiny_model_dir), "--device", "cpu", "--out", str(out)),
            *("--decision-period-s", "1.0", "--max-new-tokens", "160"),
            *("--set", "max_thinking_tokens=4", "--seed", "1", "--no-progress"),
        ]
    )
    assert status == 0
    summary = json.loads((out / "summary.json").read_text())
    decisions = [json.loads(ln) for ln in (out / "decisions.jsonl").read_text().splitlines()]
    assert summary["topics"] == [RAW], "the raw topic, its JPEG twin left out"
    assert summary["frames_read"] == N and summary["decode_errors"] == 0
    assert [d["stamp_ns"] for d in decisions] == [T0 + 10**9, T0 + 2 * 10**9]
    assert all(d["frame_count"] > 0 for d in decisions)
