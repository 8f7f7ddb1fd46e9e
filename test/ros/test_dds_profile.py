"""config/fastdds_large_images.xml carries raw 720p frames to a best-effort subscriber.

Two real processes over real Fast DDS on this host (the profile is read when a process starts
its DDS participant, so it cannot be tested inside this one).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("rclpy", reason="rclpy is not importable: run `make setup` / `make test`")

PROFILE = Path(__file__).resolve().parents[2] / "config" / "fastdds_large_images.xml"
FRAMES = 60

SCRIPT = """
import sys, time
import rclpy
from rclpy.node import Node
from rclpy.qos import QoSProfile, QoSReliabilityPolicy
from sensor_msgs.msg import Image
role = sys.argv[1]
rclpy.init()
node = Node("dds_" + role)
if role == "pub":
    pub = node.create_publisher(Image, "/big", QoSProfile(depth=10,
                                reliability=QoSReliabilityPolicy.RELIABLE))
    msg = Image(height=720, width=1280, encoding="rgb8", step=3840, data=bytes(1280 * 720 * 3))
    deadline = time.time() + 20
    while pub.get_subscription_count() == 0 and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    for _ in range(%(frames)d):
        pub.publish(msg)
        time.sleep(1 / 30)
    time.sleep(1.0)
else:
    got = []
    node.create_subscription(Image, "/big", lambda m: got.append(len(m.data)),
                             QoSProfile(depth=1, reliability=QoSReliabilityPolicy.BEST_EFFORT))
    deadline = time.time() + 25
    while time.time() < deadline and len(got) < %(frames)d:
        rclpy.spin_once(node, timeout_sec=0.1)
    print("received", len(got), flush=True)
"""


def _received(tmp_path: Path, env: dict[str, str]) -> int:
    script = tmp_path / "pubsub.py"
    script.write_text(SCRIPT % {"frames": FRAMES})
    sub = subprocess.Popen(
        [sys.executable, str(script), "sub"],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    pub = subprocess.run(
        [sys.executable, str(script), "pub"],
        env=env,
        timeout=60,
        capture_output=True,
        text=True,
        check=False,
    )
    out, _ = sub.communicate(timeout=60)
    assert pub.returncode == 0, pub.stdout + pub.stderr
    return int(out.strip().splitlines()[-1].split()[-1])


def test_shipped_profile_delivers_raw_720p_frames_to_best_effort_subscribers(
    tmp_path: Path,
) -> None:
    domain = str(150 + os.getpid() % 50)
    env = {
        **os.environ,
        "ROS_DOMAIN_ID": domain,
        "FASTDDS_DEFAULT_PROFILES_FILE": str(PROFILE),
        "FASTRTPS_DEFAULT_PROFILES_FILE": str(PROFILE),
    }
    received = _received(tmp_path, env)
    assert received >= FRAMES * 0.9, f"only {received} of {FRAMES} frames arrived"
