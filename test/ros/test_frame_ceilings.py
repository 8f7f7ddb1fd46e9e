"""Decompression bombs and a raised pixel cap, tried from outside as a peer on the ROS domain
would: the node's memory stays bounded whatever the frames claim and whatever is asked of its
parameters.

The node runs as users run it (``python -m cosmos_reason_ros.node``, the tiny model) in a child
process; this process publishes camera frames and calls the node's lifecycle and parameter
services over real DDS. The node's peak RSS is read from ``/proc/<pid>/status`` (``VmHWM``).
"""

from __future__ import annotations

import struct
import time
import zlib
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("rclpy", reason="rclpy is not importable: run `make setup`")

from child import node_process
from diagnostic_msgs.msg import DiagnosticArray
from harness import frame, image_msg
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState
from rcl_interfaces.srv import SetParameters
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage
from spin import spinning, wait_for

from cosmos_reason_ros.core.decoding import MAX_SOURCE_PIXELS
from cosmos_reason_ros.srv import AskNextAction

TOPIC = "/cam/image_raw/compressed"
NODE = "/cosmos_reason"
GROWTH_LIMIT_BYTES = 64 * 2**20


def png_bomb(side: int) -> bytes:
    """A valid 1-bit greyscale PNG of ``side`` x ``side`` black pixels: 30000 x 30000 is 109 KB
    on the wire and 2.7 GB as RGB."""
    row = bytes(1 + (side + 7) // 8)  # filter byte 0, then the packed row
    packer = zlib.compressobj(9)
    body = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
    )


def jpeg_claiming(width: int, height: int) -> bytes:
    """A small baseline JPEG whose frame header claims ``width`` x ``height``."""
    data = bytes(image_msg(frame(), 0, "jpeg").data)
    sof = data.index(b"\xff\xc0")
    return data[: sof + 5] + struct.pack(">HH", height, width) + data[sof + 9 :]


def peak_rss(pid: int) -> int:
    """``VmHWM`` of a process, in bytes: its peak resident set so far."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmHWM in /proc/{pid}/status")


class Peer(Node):
    """Any participant on the domain: a camera, the lifecycle and parameter services, asks."""

    def __init__(self, context: Any) -> None:
        super().__init__("peer", context=context)
        qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self.camera = self.create_publisher(CompressedImage, TOPIC, qos)
        self.change = self.create_client(ChangeState, f"{NODE}/change_state")
        self.set = self.create_client(SetParameters, f"{NODE}/set_parameters")
        self.ask = self.create_client(AskNextAction, f"{NODE}/ask")
        self.diagnostics: list[DiagnosticArray] = []
        self.create_subscription(DiagnosticArray, "/diagnostics", self.diagnostics.append, 20)

    def call(self, client: Any, request: Any, timeout_s: float = 120.0) -> Any:
        assert client.wait_for_service(timeout_sec=timeout_s), client.srv_name
        future = client.call_async(request)
        wait_for(future.done, timeout_s, what=f"{client.srv_name} to answer")
        return future.result()

    def transition(self, transition_id: int) -> bool:
        request = ChangeState.Request()
        request.transition.id = transition_id
        return bool(self.call(self.change, request).success)

    def send(self, data: bytes, fmt: str) -> None:
        msg = CompressedImage(format=fmt, data=data)
        msg.header.stamp.sec = time.time_ns() // 10**9
        msg.header.stamp.nanosec = time.time_ns() % 10**9
        msg.header.frame_id = "cam"
        self.camera.publish(msg)

    def decide(self) -> Any:
        """Send fresh good frames and ask until the node decides on them."""
        deadline = time.monotonic() + 120
        while True:
            for i in range(3):
                self.send(bytes(image_msg(frame(seed=i), 0, "jpeg").data), "jpeg")
                time.sleep(0.26)  # one frame per sampling slot
            answer = self.call(self.ask, AskNextAction.Request())
            if answer.success or time.monotonic() > deadline:
                return answer

    def camera_values(self) -> dict[str, str]:
        for arr in reversed(self.diagnostics):
            for status in arr.status:
                if status.name.endswith(f"camera {TOPIC}"):
                    return {kv.key: kv.value for kv in status.values}
        return {}


def test_decompression_bombs_and_a_raised_pixel_cap_leave_the_node_memory_bounded(
    tmp_path: Path, tiny_model_dir: Path, ros_context: Any
) -> None:
    bombs = [
        (png_bomb(30000), "png"),  # over any cap: 900 MP
        (png_bomb(7000), "png"),  # 49 MP: under the default max_input_pixels of 50 MP
        (jpeg_claiming(65000, 65000), "jpeg"),
        (jpeg_claiming(7000, 7000), "jpeg"),  # decoded at 1/8 scale; its data is too short
    ]
    params = {"model": str(tiny_model_dir), "device": "cpu", "max_new_tokens": 200}
    params |= {"max_thinking_tokens": 4, "image_topics": [TOPIC], "decision_period_s": 0.0}
    params |= {"diagnostics_period_s": 0.3, "image_qos": "reliable"}
    peer = Peer(ros_context)
    with spinning(ros_context, peer), node_process(tmp_path / "node", **params) as child:
        wait_for(lambda: peer.camera.get_subscription_count() > 0, 120, what="the subscription")
        assert peer.decide().success
        # Through the lifecycle, as a peer may: deactivate, cleanup, raise the cap, configure.
        assert peer.transition(Transition.TRANSITION_DEACTIVATE)
        assert peer.transition(Transition.TRANSITION_CLEANUP)
        raised = Parameter("max_input_pixels", value=2**31 - 1).to_parameter_msg()
        refused = peer.call(peer.set, SetParameters.Request(parameters=[raised])).results[0]
        assert peer.transition(Transition.TRANSITION_CONFIGURE)
        assert peer.transition(Transition.TRANSITION_ACTIVATE)
        assert peer.decide().success
        before = peak_rss(child.pid)
        for _ in range(3):
            for data, fmt in bombs:
                peer.send(data, fmt)
                time.sleep(0.3)  # each in a sampling slot of its own: every one is decoded
        wait_for(
            lambda: int(peer.camera_values().get("invalid_too_large", "0")) >= 9,
            30,
            what="the bombs to be counted too large",
        )
        after = peak_rss(child.pid)
        values = peer.camera_values()
        answer = peer.decide()
    assert not refused.successful
    assert "max_input_pixels" in refused.reason and str(MAX_SOURCE_PIXELS) in refused.reason
    assert answer.success, answer.message
    assert int(values["invalid_too_large"]) == 9, values
    assert int(values["invalid_corrupt"]) == 3, values  # the 7000^2 claim: decoded, too short
    assert "ceiling" in values["last_error"] or "truncated" in values["last_error"], values
    assert after - before < GROWTH_LIMIT_BYTES, f"peak RSS grew {(after - before) / 2**20:.0f} MB"
