"""Parameter names as a user misspells them, on the node as users run it (a child process): a
name one letter from a known one stops configure with an error naming both, before any model
work, so the default the user meant to override is never used; a name far from every known one
(a shared ``/**`` params file) stays a warning. And a node stopped right after its start
leaves none of its Fast DDS shared-memory files behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

pytest.importorskip("rclpy", reason="rclpy is not importable: run `make setup`")

from spin import wait_for

from cosmos_reason_ros.ros.shm_segments import owned_segments


def start_node(folder: Path, *ros_args: str) -> tuple[subprocess.Popen[bytes], Path]:
    log = folder / "node.log"
    cmd = [sys.executable, "-m", "cosmos_reason_ros.node", "--ros-args", *ros_args]
    with log.open("wb") as out:
        child = subprocess.Popen(cmd, env=dict(os.environ), stdout=out, stderr=subprocess.STDOUT)
    return child, log


def stopped(child: subprocess.Popen[bytes]) -> int:
    if child.poll() is None:
        child.send_signal(signal.SIGINT)
    try:
        return child.wait(timeout=30)
    except subprocess.TimeoutExpired:
        child.kill()
        return child.wait()


def test_a_name_one_letter_from_a_parameter_stops_configure_naming_both(tmp_path: Path) -> None:
    shared = tmp_path / "shared.yaml"  # also sets another node's parameter: a warning only
    shared.write_text(yaml.safe_dump({"/**": {"ros__parameters": {"wheel_radius_m": 0.1}}}))
    child, log = start_node(
        tmp_path,
        "--params-file",
        str(shared),
        "-p",
        f"modle:={tmp_path / 'my_ckpt'}",
        "-p",
        "image_topic:=/front/image_raw",
    )
    try:
        wait_for(
            lambda: "configure failed" in log.read_text() or child.poll() is not None,
            60,
            what="configure to fail",
        )
        time.sleep(0.5)  # the rest of the log line
        text = log.read_text()
    finally:
        status = stopped(child)
    assert "unknown parameter 'modle' (did you mean 'model'?) refused" in text, text
    assert "unknown parameter 'image_topic' (did you mean 'image_topics'?) refused" in text
    configure = next(line for line in text.splitlines() if "configure failed" in line)
    assert "'modle'" in configure and "'image_topic'" in configure, configure
    assert "loading" not in text, "model work began despite the typo"
    assert "unknown parameter 'wheel_radius_m' ignored" in text
    assert "[WARN]" in next(ln for ln in text.splitlines() if "'wheel_radius_m'" in ln)
    assert status == 0 and "Traceback" not in text, text


def test_a_node_stopped_right_after_start_leaves_no_shared_memory_behind(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    child, log = start_node(tmp_path, "-p", f"model:={tiny_model_dir}", "-p", "device:=cpu")
    try:
        wait_for(lambda: "loading" in log.read_text(), 60, what="the node to start loading")
        held = owned_segments(child.pid)
    finally:
        status = stopped(child)
    assert held, "the node held no Fast DDS shared-memory file: nothing to check"
    assert status == 0, log.read_text()
    assert [str(p) for p in held if p.exists()] == [], log.read_text()
