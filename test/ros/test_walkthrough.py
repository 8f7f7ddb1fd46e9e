"""The README's walkthrough "From the demo to a live node", as a user pastes it: the commands
are read from that section (so the test fails when they drift), run as processes of their own
on what ``make demo`` leaves in ``demo_out/`` (built here the same way, without the demo's own
run), and each prints what the section says it prints."""

from __future__ import annotations

import os
import re
import select
import shlex
import signal
import subprocess
from pathlib import Path

import pytest

pytest.importorskip("rclpy", reason="rclpy is not importable: run `make setup`")

from child import log_tail
from spin import wait_for

from cosmos_reason_ros.tools import demo
from cosmos_reason_ros.tools.scenario import write_scenario

ROOT = Path(__file__).resolve().parents[2]
SECTION = "## From the demo to a live node"


def walkthrough() -> tuple[dict[str, list[str]], list[tuple[str, list[str]]]]:
    """The section's commands (program -> argv, ``scripts/with-env`` made absolute) and its
    bullets, in order: (program, the fragments it is said to print)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index(SECTION) :]
    section = section[: section.index("\n## ", len(SECTION))]
    commands: dict[str, list[str]] = {}
    for line in section.splitlines():
        if line.startswith("scripts/with-env "):
            argv = shlex.split(line, comments=True)
            commands[argv[1]] = [str(ROOT / argv[0]), *argv[1:]]
    bullets = []
    for item in re.findall(r"^- (.+?)(?=^- |^\n|\Z)", section, re.M | re.S):
        spans = re.findall(r"`([^`]+)`", item)
        bullets.append((spans[0], spans[1:]))
    return commands, bullets


def fragments(bullets: list[tuple[str, list[str]]], program: str, nth: int = 0) -> list[str]:
    said = [spans for name, spans in bullets if name == program]
    return said[nth]


def output_of(child: subprocess.Popen[str], log: Path) -> str:
    return log.read_text(errors="replace") if log.exists() else ""


def start(argv: list[str], cwd: Path, log: Path) -> subprocess.Popen[str]:
    with log.open("w") as out:
        return subprocess.Popen(
            argv, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, text=True, env=dict(os.environ)
        )


def stop(child: subprocess.Popen[str]) -> int:
    if child.poll() is None:
        child.send_signal(signal.SIGINT)
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    return child.returncode


def test_the_readme_walkthrough_runs_as_pasted_and_prints_what_it_says(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    commands, bullets = walkthrough()
    assert set(commands) == {
        "reason_node",
        "cosmos-reason-replay",
        "cosmos-reason-watch",
        "cosmos-reason-ask",
    }
    out = tmp_path / "demo_out"  # what make demo leaves, made the way the demo makes it
    out.mkdir()
    demo.fresh_scenario(out, write_scenario)
    demo.write_node_params(
        out / demo.NODE_PARAMS,
        {**demo.TINY_SETTINGS, "model": str(tiny_model_dir)},
        ["/camera/image_raw"],
    )
    node_log, replay_log = tmp_path / "node.log", tmp_path / "replay.log"
    node = start(commands["reason_node"], tmp_path, node_log)
    children = [node]
    try:
        logged = fragments(bullets, "reason_node")
        wait_for(
            lambda: logged[-1] in output_of(node, node_log) or node.poll() is not None,
            120,
            what="the node to be active",
        )
        for fragment in logged:
            assert fragment in output_of(node, node_log)

        early = subprocess.run(
            commands["cosmos-reason-ask"], cwd=tmp_path, capture_output=True, text=True,
            timeout=60, check=False,
        )  # fmt: skip
        assert early.returncode == 1, early.stderr
        for fragment in fragments(bullets, "cosmos-reason-ask", 0):
            assert fragment in early.stderr, early.stderr
        assert "debug_image" not in early.stderr, "the node's own topic offered as a camera"

        replay = start(commands["cosmos-reason-replay"], tmp_path, replay_log)
        children.append(replay)
        watch = subprocess.Popen(
            commands["cosmos-reason-watch"], cwd=tmp_path, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        children.append(watch)
        assert watch.stdout is not None
        ready, _, _ = select.select([watch.stdout], [], [], 120)  # a decision every 2 s
        assert ready, "cosmos-reason-watch printed nothing in 120 s"
        line = watch.stdout.readline()
        for fragment in fragments(bullets, "cosmos-reason-watch"):
            assert fragment in line, line

        asked = subprocess.run(
            commands["cosmos-reason-ask"], cwd=tmp_path, capture_output=True, text=True,
            timeout=120, check=False,
        )  # fmt: skip
        assert asked.returncode == 0, asked.stderr
        for fragment in fragments(bullets, "cosmos-reason-ask", 1):
            assert fragment in asked.stdout, asked.stdout

        replayed = fragments(bullets, "cosmos-reason-replay")
        wait_for(lambda: replayed[-1] in output_of(replay, replay_log), 30, what="a pass")
        for fragment in replayed:
            assert fragment in output_of(replay, replay_log)
        assert stop(watch) == 0
        assert stop(replay) == 0, output_of(replay, replay_log)
        assert stop(node) == 0
    except BaseException:
        print(f"--- node log ---\n{log_tail(node_log)}\n--- replay ---\n{log_tail(replay_log)}")
        raise
    finally:
        for child in children:
            stop(child)
