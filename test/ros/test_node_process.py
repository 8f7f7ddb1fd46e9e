"""The node and the ROS tools as users run them, each a process of its own, over real DDS:
``reason_node --help`` loads nothing; a node that failed to configure says so through
``cosmos-reason-ask`` and ``cosmos-reason-watch --diagnostics``; an unknown parameter is
named with the closest one (one letter from it refuses configure: test_typo_params.py); the
watch tools show a running node's decisions; the node, the tools and replay stop on
SIGINT/SIGTERM with exit 0 (130 for a cut-short run), no traceback."""

from __future__ import annotations

import json
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("rclpy", reason="rclpy is not importable: run `make setup`")

from child import log_tail, node_process
from harness import frame, image_msg
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from spin import spinning, wait_for

from cosmos_reason_ros.config.alert_rules import RULE_KEYS
from cosmos_reason_ros.tools.scenario import write_scenario

TOPIC = "/camera/image_raw"


def tool(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", f"cosmos_reason_ros.tools.{module}", *args]


def run_tool(module: str, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        tool(module, *args), check=False, capture_output=True, text=True, timeout=timeout
    )


def interrupt(child: subprocess.Popen[str], sig: int = signal.SIGINT) -> tuple[int, str, str]:
    """Send ``sig`` and collect the exit status and output."""
    child.send_signal(sig)
    out, err = child.communicate(timeout=30)
    return child.returncode, out, err


def test_reason_node_help_prints_usage_and_parameters_without_loading_anything() -> None:
    code = (
        "import sys, time; t = time.monotonic()\n"
        "from cosmos_reason_ros.ros.node import main\n"
        "sys.argv = ['reason_node', '--help']\n"
        "status = main()\n"
        "print('STATUS', status, 'torch' in sys.modules, rclpy_ok())\n"
    )
    prelude = "import rclpy\ndef rclpy_ok(): return rclpy.ok()\n"
    t0 = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", prelude + code],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    elapsed = time.monotonic() - t0
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("STATUS 0 False False"), "no torch, no rclpy context"
    assert "--ros-args -p model:=/models/Cosmos-Reason1-7B" in done.stdout
    assert "fallback_action (default: stop)" in done.stdout
    assert "The fallback is always a legal answer" in done.stdout
    for key in RULE_KEYS:  # every key of an alert rule, from the rule's own declaration
        assert f"alerts.<name>.{key} (default: " in done.stdout
    assert elapsed < 20.0, f"--help took {elapsed:.1f} s"


def test_an_unconfigured_node_says_its_state_and_error_to_ask_watch_and_its_log(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "no_such_model"
    params = {"model": str(missing), "camera_topic": "/typo", "decision_period_s": 0.0}
    with node_process(tmp_path / "node", **params) as child:
        deadline = time.monotonic() + 120  # first "node is up but configuring", then this
        while "unconfigured" not in (asked := run_tool("ask", "what now?", "--wait", "60")).stderr:
            assert time.monotonic() < deadline, asked.stderr
            time.sleep(0.5)
        streamed = run_tool("ask", "--stream", "what now?", "--wait", "60")
        diagnostics = run_tool("watch", "--diagnostics", "--json", "--count", "1")
        status, _, _ = interrupt(child, signal.SIGTERM)  # type: ignore[arg-type]
    log = log_tail(tmp_path / "node" / "node.log", 200)
    expected = f"node is up but unconfigured: configure failed: model folder {missing}"
    assert asked.returncode == 1, asked.stderr
    assert expected in asked.stderr
    answer = json.loads(asked.stdout)
    assert answer["success"] is False and answer["message"].startswith(expected)
    assert streamed.returncode == 1 and expected in streamed.stderr, streamed.stderr
    assert diagnostics.returncode == 0, diagnostics.stderr
    reasoner = json.loads(diagnostics.stdout)
    assert reasoner["name"] == "cosmos_reason: reasoner"
    assert reasoner["level"] == "ERROR" and "does not exist" in reasoner["message"]
    assert "unknown parameter 'camera_topic' ignored" in log
    assert "did you mean 'image_topics'?" in log
    assert status == 0 and "Traceback" not in log, log


class Camera(Node):
    """A 10 Hz camera on TOPIC, stamped with the wall clock."""

    def __init__(self, context: Any) -> None:
        super().__init__("test_camera", context=context)
        qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
        self.pub = self.create_publisher(Image, TOPIC, qos)
        self.pixels = frame(160, 120)
        self.create_timer(0.1, self._tick)

    def _tick(self) -> None:
        self.pub.publish(image_msg(self.pixels, time.time_ns(), "rgb8"))


@pytest.fixture
def camera(ros_context: Any) -> Iterator[Camera]:
    node = Camera(ros_context)
    with spinning(ros_context, node, threads=2):
        yield node
    node.destroy_node()


def test_watch_and_stream_show_a_running_nodes_decisions_and_everything_stops_on_sigint(
    tmp_path: Path, tiny_model_dir: Path, camera: Camera
) -> None:
    params = {"model": str(tiny_model_dir), "device": "cpu", "max_new_tokens": 200}
    params |= {"max_thinking_tokens": 8, "decision_period_s": 1.0}
    with node_process(tmp_path / "node", **params) as node:
        wait_for(lambda: camera.count_subscribers(TOPIC) > 0, 120, what="the node's camera")
        decisions = run_tool("watch", "--json", "--thinking", "--count", "2", timeout=180)
        diagnostics = run_tool("watch", "--diagnostics", "--count", "2", timeout=60)
        streamed = run_tool(
            "ask", "--stream", "-v", "Is the path clear?", "--wait", "60", timeout=180
        )
        watcher = subprocess.Popen(
            tool("watch"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        assert watcher.stdout is not None  # a decision, or 30 s, before the SIGINT
        ready, _, _ = select.select([watcher.stdout], [], [], 30.0)
        first_line = watcher.stdout.readline() if ready else ""
        watch_status, watch_out, watch_err = interrupt(watcher)  # type: ignore[arg-type]
        watch_out = first_line + watch_out
        node_status, _, _ = interrupt(node)  # type: ignore[arg-type]
    log = log_tail(tmp_path / "node" / "node.log", 400)
    assert decisions.returncode == 0, decisions.stderr
    first, second = (json.loads(line) for line in decisions.stdout.splitlines())
    assert second["decision_id"] > first["decision_id"] >= 1
    assert first["action"] and "latency_s" in first and "thinking" in first
    assert diagnostics.returncode == 0, diagnostics.stderr
    assert any(f"camera {TOPIC}: receiving" in ln for ln in diagnostics.stdout.splitlines())
    assert streamed.returncode == 0, streamed.stderr
    answer = json.loads(streamed.stdout)
    assert answer["success"] and answer["question"] == "Is the path clear?"
    assert streamed.stderr.strip(), "the generated text is streamed on stderr"
    assert watch_status == 0 and "Traceback" not in watch_err, watch_err
    assert "decision " in watch_out and "action " in watch_out and "valid" in watch_out.lower()
    assert node_status == 0, log
    assert "SIGINT: stopping" in log and "Traceback" not in log, log


def test_replay_with_loop_stops_on_sigint_with_exit_0_and_its_summary(tmp_path: Path) -> None:
    info = write_scenario(tmp_path / "s.mcap", duration_s=1.0, rate_hz=10.0, width=64, height=48)
    child = subprocess.Popen(
        tool("replay_cli", str(info.bag_path), "--loop", "--rate", "4", "--start-delay", "0"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(4.0)
    assert child.poll() is None, "--loop runs until stopped"
    status, out, err = interrupt(child)
    assert status == 0, err
    assert "Traceback" not in err and "RCLError" not in err
    assert "stopped by SIGINT" in out and "passes=" in out


def test_a_long_eval_run_stops_on_sigint_with_130_and_writes_what_it_has(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    """Started as a shell script's ``cosmos-reason-eval ... &`` starts it: with SIGINT ignored,
    which Python keeps unless the tool sets its own handler (it ran to the end before it did)."""
    info = write_scenario(tmp_path / "s.mcap", duration_s=20.0, rate_hz=5.0, width=96, height=72)
    out = tmp_path / "eval"
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # the child inherits SIG_IGN
    try:
        child = subprocess.Popen(
            [
                *tool("eval_cli", str(info.bag_path), "--model", str(tiny_model_dir)),
                *("--device", "cpu", "--every", "0.5", "--out", str(out)),
                *("--labels", str(info.labels_path)),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    finally:
        signal.signal(signal.SIGINT, previous)
    err_lines: list[str] = []
    reader = threading.Thread(target=lambda: err_lines.extend(iter(child.stderr.readline, "")))
    reader.start()
    wait_for(lambda: any("msg" in ln for ln in err_lines), 120, what="the eval's progress bar")
    time.sleep(2.0)
    child.send_signal(signal.SIGINT)
    status = child.wait(timeout=120)
    reader.join(timeout=10)
    err = "".join(err_lines)
    assert status == 130, err
    assert "Traceback" not in err and "interrupted" in err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["interrupted"] is True
    assert (out / "report.html").exists()
    lines = (out / "decisions.jsonl").read_text().splitlines()
    assert summary["decisions"] == len(lines) < 40
