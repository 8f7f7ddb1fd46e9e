"""The command-line tools as a user meets them, each a process of its own: with no node,
``cosmos-reason-watch`` says so within seconds (the domain id, the nodes it sees) and keeps
waiting; a missing model folder is an input error (exit 2, one sentence, before any model work
and without an architecture warning first), as a missing video is."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("rclpy", reason="rclpy is not importable: run `make setup`")


def tool(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", f"cosmos_reason_ros.tools.{module}", *args]


def test_watch_with_no_node_says_so_within_seconds_and_keeps_waiting() -> None:
    domain = os.environ["ROS_DOMAIN_ID"]
    t0 = time.monotonic()
    watch = subprocess.Popen(
        tool("watch"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert watch.stderr is not None
        ready, _, _ = select.select([watch.stderr], [], [], 30)
        assert ready, "cosmos-reason-watch said nothing within 30 s"
        said = watch.stderr.readline()
        elapsed = time.monotonic() - t0
        assert watch.poll() is None, "it stopped waiting"
    finally:
        watch.send_signal(signal.SIGINT)
        out, _ = watch.communicate(timeout=30)
    assert said.startswith("cosmos-reason-watch: nothing publishes on /cosmos_reason/next_action")
    assert f"the same ROS_DOMAIN_ID (here {domain})? nodes seen: " in said, said
    assert said.rstrip().endswith("still waiting (Ctrl-C to stop)"), said
    assert elapsed < 15.0, f"said after {elapsed:.1f} s"
    assert watch.returncode == 0 and out == ""


def test_a_missing_model_folder_or_video_is_an_input_error_before_any_model_work(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    video = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 4.0, (64, 48))
    for i in range(8):
        writer.write(np.full((48, 64, 3), 20 * i, np.uint8))
    writer.release()
    missing, no_video = tmp_path / "nope", tmp_path / "none.mp4"
    runs = {
        f"--model folder {missing} does not exist": [
            "--model",
            str(missing),
            "--video",
            str(video),
        ],
        f"--video {no_video} does not exist": [
            "--model",
            str(tiny_model_dir),
            "--video",
            str(no_video),
        ],
    }
    for sentence, args in runs.items():
        done = subprocess.run(
            tool("cli", *args), capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode == 2, done.stderr
        assert done.stderr.splitlines() == [f"cosmos-reason: error: {sentence}"], done.stderr
        assert done.stdout == ""


def test_watch_alerts_prints_the_recent_alerts_labelled_as_a_late_joiner(
    ros_context: object,
) -> None:
    """Alerts published before ``cosmos-reason-watch --alerts`` starts still come (the topic is
    transient local), one labelled line each, in order; ``--json`` gives their fields."""
    pytest.importorskip("cosmos_reason_ros.msg._alert", reason="interfaces built before Alert")
    from rclpy.node import Node

    from cosmos_reason_ros.msg import Alert
    from cosmos_reason_ros.ros.alerts import ALERTS_QOS

    node = Node("fake_cosmos_reason", context=ros_context)  # type: ignore[arg-type]
    try:
        publisher = node.create_publisher(Alert, "/cosmos_reason/alerts", ALERTS_QOS)
        for alert_id, state in ((1, Alert.RAISED), (2, Alert.CLEARED)):
            msg = Alert(alert_id=alert_id, rule="fall", state=state, severity="error")
            msg.header.stamp.sec, msg.confidence = 1_700_000_000 + alert_id, 0.5
            msg.evidence, msg.cameras, msg.decision_id = "on the floor", ["front"], 7 + alert_id
            publisher.publish(msg)
        lines = subprocess.run(
            tool("watch", "--alerts", "--count", "2", "--timeout", "60"),
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )
        assert lines.returncode == 0, lines.stderr
        said = lines.stdout.splitlines()
        assert len(said) == 2, said
        assert said[0].startswith("alert 1  RAISED   fall  severity error  stamp 1700000001.")
        assert "confidence 0.50  evidence 'on the floor'  cameras front  decision 8" in said[0]
        assert said[1].startswith("alert 2  CLEARED  fall")
        as_json = subprocess.run(
            tool("watch", "--alerts", "--json", "--count", "1", "--timeout", "60"),
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )
        assert as_json.returncode == 0, as_json.stderr
        first = json.loads(as_json.stdout.splitlines()[0])
        assert first["state"] == "RAISED" and first["rule"] == "fall"
        assert first["cameras"] == ["front"] and first["decision_id"] == 8
    finally:
        node.destroy_node()
