"""Specification of the ``cosmos-reason`` CLI, run in-process against the real tiny model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from cosmos_reason_ros.exits import ExitCode
from cosmos_reason_ros.tools.cli import main

# Short answers keep it fast: the random model fills every string up to its bound.
FAST = [
    "--device",
    "cpu",
    "--max-new-tokens",
    "160",
    "--max-thinking-tokens",
    "4",
    "--seed",
    "0",
    "--max-target-chars",
    "4",
    "--max-reason-chars",
    "8",
    "--max-parameters",
    "0",
]


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-second 10 fps MJPG clip of a square moving right, 64x48 pixels."""
    path = tmp_path_factory.mktemp("video") / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48))
    assert writer.isOpened(), "OpenCV cannot write MJPG/avi here"
    for i in range(20):
        frame = np.full((48, 64, 3), 40, dtype=np.uint8)
        frame[16:32, 2 * i : 2 * i + 16] = (0, 0, 255)
        writer.write(frame)
    writer.release()
    return path


def run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str, str]:
    status = main(argv)
    out, err = capsys.readouterr()
    return status, out, err


def test_video_gives_one_json_decision_stamped_with_the_video_frame_times(
    tiny_model_dir: Path, video: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--model", str(tiny_model_dir), "--video", str(video), "--question", "Go?"]
    argv += ["--actions", "move_forward: drive ahead,turn_left,turn_right", *FAST]
    status, out, err = run(capsys, [*argv, "--window-s", "1.0"])
    assert status == ExitCode.OK, err
    lines = out.strip().splitlines()
    assert len(lines) == 1, "exactly one JSON object on stdout"
    decision = json.loads(lines[0])
    assert decision["valid"] is True, decision["reason"]
    assert decision["action"] in ("move_forward", "turn_left", "turn_right", "stop")
    assert decision["decision_id"] == 1
    assert decision["question"] == "Go?"
    # 20 frames at 10 fps (t = 0.0 … 1.9 s) sampled on a 4 fps grid (the first frame at or
    # after each due time), then the last second before the newest kept frame: 5 frames, of
    # which the model gets an even count (the oldest left out, as qwen-vl-utils samples files).
    assert decision["stamp_ns"] == 1_800_000_000
    assert decision["window_start_ns"] == 1_000_000_000
    assert decision["frame_count"] == 4
    assert set(decision["timings"]) >= {"latency_s", "generation_s", "time_to_first_token_s"}
    assert "thinking" not in decision


def test_verbose_adds_thinking_and_choices_restrict_the_action(
    tiny_model_dir: Path, video: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--model", str(tiny_model_dir), "--video", str(video), "--actions", "a,b,c"]
    argv += ["--choices", "b,c", "-v", *FAST]
    status, out, err = run(capsys, argv)
    assert status == ExitCode.OK, err
    decision = json.loads(out)
    assert decision["valid"] is True, decision["reason"]
    assert decision["action"] in ("b", "c")
    assert decision["choices"] == ["b", "c"]
    assert "thinking" in decision
    assert decision["raw_text"]
    assert decision["frame_stamps_ns"]["clip.avi"][-1] == decision["stamp_ns"]


def test_image_folder_is_read_in_name_order_at_fps(
    tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"frame_{i:03d}.png"), np.full((40, 40, 3), 60 * i, np.uint8))
    argv = ["--model", str(tiny_model_dir), "--images", str(tmp_path), "--fps", "2"]
    status, out, err = run(capsys, [*argv, "--actions", "go", *FAST])
    assert status == ExitCode.OK, err
    decision = json.loads(out)
    # 3 frames kept; an even count goes to the model (the oldest left out)
    assert (decision["frame_count"], decision["window_start_ns"], decision["stamp_ns"]) == (
        2,
        500_000_000,
        1_000_000_000,
    )


def test_image_folder_without_fps_is_stamped_at_the_model_familys_rate(
    tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``sample_fps`` left at -1 is the family's 4 fps, as the node resolves it."""
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"frame_{i:03d}.png"), np.full((40, 40, 3), 60 * i, np.uint8))
    argv = ["--model", str(tiny_model_dir), "--images", str(tmp_path), "--actions", "go"]
    status, out, err = run(capsys, [*argv, *FAST])
    assert status == ExitCode.OK, err
    decision = json.loads(out)
    assert (decision["frame_count"], decision["window_start_ns"], decision["stamp_ns"]) == (
        2,
        250_000_000,
        500_000_000,
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--video", "/nonexistent/clip.avi", "--actions", "go"], "does not exist"),
        (["--video", "{video}", "--actions", "go,go"], "duplicate action 'go'"),
        (["--video", "{video}", "--actions", "go", "--choices", "fly"], "not allowed actions"),
        (["--video", "{video}", "--actions", "go", "--fps", "0"], "--sample-fps must be"),
        (["--video", "{not_a_video}", "--actions", "go"], "cannot open video"),
        (["--images", "{empty_dir}", "--actions", "go"], "no images"),
        (["--actions", "go"], "one of the arguments --video --images is required"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(
    tiny_model_dir: Path,
    video: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    *,
    extra: list[str],
    message: str,
) -> None:
    not_a_video = tmp_path / "notes.avi"
    not_a_video.write_text("not a video")
    (tmp_path / "empty").mkdir()
    places = {"video": video, "not_a_video": not_a_video, "empty_dir": tmp_path / "empty"}
    extra = [arg.format(**places) for arg in extra]
    status, out, err = run(capsys, ["--model", str(tiny_model_dir), *extra, *FAST])
    assert status == ExitCode.INPUT
    assert out == ""
    assert message in err


def test_alerts_judge_the_clip_in_one_call_as_a_process(tiny_model_dir: Path, video: Path) -> None:
    """``cosmos-reason --video CLIP --alert NAME="question"`` (repeatable) judges the clip for
    every rule in one model call and prints one JSON object with a verdict per rule; a bad
    ``--alert`` is an input error before any model work."""
    cli = [sys.executable, "-m", "cosmos_reason_ros.tools.cli", "--model", str(tiny_model_dir)]
    cli += ["--video", str(video), "--device", "cpu", "--max-new-tokens", "200"]
    cli += ["--max-thinking-tokens", "4", "--seed", "0"]
    rules = [
        "--alert",
        "fall=Has a person fallen to the floor?",
        "--alert",
        "smoke=Is it smoking?",
    ]
    done = subprocess.run(
        [*cli, *rules, "-v"], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == ExitCode.OK, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1, "exactly one JSON object on stdout"
    judged = json.loads(lines[0])
    assert list(judged["alerts"]) == ["fall", "smoke"]
    assert judged["alerts"]["fall"]["condition"] == "Has a person fallen to the floor?"
    assert judged["valid"] is True, judged["error"]
    assert all(isinstance(v["verdict"], bool) for v in judged["alerts"].values())
    assert judged["stamp_ns"] == 1_800_000_000 and judged["frame_count"] >= 1
    assert "thinking" in judged and "action" not in judged
    bad = subprocess.run(
        [*cli, "--alert", "no question"], capture_output=True, text=True, timeout=60, check=False
    )
    assert bad.returncode == ExitCode.INPUT
    assert bad.stderr.splitlines() == [
        "cosmos-reason: error: --alert takes NAME=\"CONDITION\", got 'no question'"
    ]
    assert bad.stdout == ""
