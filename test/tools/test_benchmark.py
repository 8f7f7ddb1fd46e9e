"""``cosmos-reason-benchmark``: upstream's prompt, letter rule, retries and video preparation,
compared with upstream's own code (``upstream_benchmark.py``, copied from cosmos-reason1 and
qwen-vl-utils), and whole runs against the loopback OpenAI server (standing in for vLLM /
trtllm-serve, which cannot run here) and through the transformers backend on the tiny model.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import upstream_benchmark as up

from cosmos_reason_ros.backends.messages import hf_messages
from cosmos_reason_ros.backends.openai.media import encode_mp4
from cosmos_reason_ros.core.recipes import default_total_pixels, smart_nframes, smart_resize
from cosmos_reason_ros.core.types import Clip
from cosmos_reason_ros.exits import ExitCode
from cosmos_reason_ros.testing.openai_server import ChatCompletionsServer, Reply
from cosmos_reason_ros.tools.benchmark import main, request_for
from cosmos_reason_ros.tools.benchmark_items import (
    BenchmarkSettings,
    letter_of,
    load_items,
    load_video,
)

MODEL = "nvidia/Cosmos-Reason1-7B"


def write_video(path: Path, frames: int = 30, fps: float = 10.0, size: tuple[int, int] = (48, 64)):
    """An MP4 whose frame i is a flat gray of level 8 * i (so the frames picked show)."""
    images = tuple(np.full((*size, 3), 8 * i, np.uint8) for i in range(frames))
    stamps = tuple(int(i * 1e9 / fps) for i in range(frames))
    path.write_bytes(encode_mp4(Clip("v", "", images, stamps, fps)))
    return path


# Items written in upstream's format, with awkward text: options out of letter order, quotes,
# unicode, a newline inside an option, trailing spaces, an answer given as correct_answer.
ITEMS: list[dict[str, Any]] = [
    {
        "question": 'The overall goal is to "Sort electronic products". The agent in the video '
        "is currently performing one subtask out of many to complete this goal. For the agent "
        "in the video, what is the most plausible next immediate subtask from the choices below?",
        "index2ans": {
            "A": "Place the held camera tripod into the right blue target box.",
            "B": "Retrieve camera tripod from top-left corner of the material frame.",
            "C": "Place the dp cable held in the right arm into the blue target box.",
            "D": "Pass the camera tripod with both hands.",
        },
        "answer": "C",
        "datasource": "agibot",
    },
    {
        "question": "Is it safe to turn right?  ",
        "index2ans": {"B": "No — a cyclist is coming", "A": "Yes, «clear»\nof traffic"},
        "correct_answer": "a",
        "datasource": "av",
    },
    {
        "question": "Which 物体 moves?",
        "index2ans": {"A": "cup", "B": "box", "C": "none", "D": "both", "E": "the arm's \\ tip"},
        "answer": "E",
    },
]


@pytest.fixture
def items_file(tmp_path: Path) -> Path:
    write_video(tmp_path / "clip.mp4")
    lines = [json.dumps({**item, "video": "clip.mp4"}, ensure_ascii=False) for item in ITEMS]
    path = tmp_path / "items.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("answer_type", ["reasoning", "letter"])
def test_prompt_is_upstreams_byte_for_byte(
    items_file: Path, answer_type: str, tiny_model_dir: Path
) -> None:
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(tiny_model_dir)
    settings = BenchmarkSettings(answer_type=answer_type)
    for item, raw in zip(load_items(items_file), ITEMS, strict=True):
        upstream = up.get_prompt(raw["question"], raw["index2ans"], answer_type)
        up.insert_video(upstream, str(item.video), 4)
        clip = load_video(item.video, settings.fps, 28)
        request = request_for(item, clip, settings)
        ours = hf_messages(request)
        assert ours[0]["content"] == [{"type": "text", "text": upstream[0]["content"]}]
        assert [p["type"] for p in ours[1]["content"]] == ["video", "text"]
        assert ours[1]["content"][1]["text"] == upstream[1]["content"][1]["text"]
        assert processor.apply_chat_template(ours, tokenize=False, add_generation_prompt=True) == (
            processor.apply_chat_template(upstream, tokenize=False, add_generation_prompt=True)
        )


TRICKY = [
    "<think>A or B?</think> <answer>B</answer>",
    "<answer>b</answer>",
    "<answer> (C) </answer>",
    "<answer>The answer is C</answer>",
    "<answer>c. Because D</answer><answer>A</answer>",
    "<answer>\nD\n</answer>",
    "<answer>D",
    "answer: D",
    "<think>reasoning about E</think>",
    "<Answer>A</Answer>",
    "<answer></answer><answer>B</answer>",
    "<think><answer>A</answer></think> <answer>B</answer>",
    "Ä <answer>ÉA</answer>",
    "",
    "I think B",
    "(b) then C",
]


def test_letter_rule_agrees_with_upstreams_on_tricky_answers() -> None:
    rng = random.Random(0)
    pieces = ["<answer>", "</answer>", "<think>", "</think>", "A", "b", "C", " ", "\n", "(D)"]
    fuzz = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 9))) for _ in range(400)]
    for text in TRICKY + fuzz:
        assert letter_of(text, "reasoning") == up.parse_reasoning_response(text), text
        assert letter_of(text, "letter") == up.parse_letter_response(text), text
    assert letter_of("<answer>The answer is C</answer>", "reasoning")[0] == "T"  # as upstream


@pytest.mark.parametrize("answer_type", ["reasoning", "letter"])
def test_sampling_and_retries_are_upstreams(answer_type: str) -> None:
    settings = BenchmarkSettings(answer_type=answer_type)
    for retry in range(11):
        s = settings.sampling(retry)
        ours = {
            "max_tokens": s.max_new_tokens,
            "temperature": s.temperature,
            "top_p": s.top_p,
            "top_k": s.top_k,
            "repetition_penalty": s.repetition_penalty,
            "presence_penalty": s.presence_penalty,
            "seed": s.seed,
        }
        assert ours == up.sampling_params(answer_type, retry - 1 if retry else None), retry


def test_frame_math_agrees_with_qwen_vl_utils() -> None:
    for total, video_fps, fps in [(30, 10.0, 4), (8, 8.0, 4), (4, 30.0, 4), (9000, 30.0, 4)]:
        ele = {"fps": fps}
        assert smart_nframes(total, video_fps, fps) == up.smart_nframes(ele, total, video_fps)
    for factor in (28, 32):
        for n in (4, 12, 64, 768):
            cap = up.frame_pixel_cap(n, factor)
            for h, w in [(48, 64), (480, 640), (1080, 1920), (37, 1000), (2160, 3840)]:
                expected = up.smart_resize(h, w, factor, 128 * factor * factor, cap)
                assert smart_resize(h, w, factor, 128 * factor * factor, cap) == expected
    assert default_total_pixels(28) == 90316800  # qwen-vl-utils 0.0.11 VIDEO_TOTAL_PIXELS


@pytest.mark.parametrize(("patch", "size"), [(28, (280, 392)), (32, (320, 448))])
def test_video_is_prepared_as_qwen_vl_utils_fetch_video(
    tmp_path: Path, patch: int, size: tuple[int, int]
) -> None:
    """30 frames at 10 fps, 48 x 64: 12 frames kept (4 fps), linspace-rounded, upscaled to the
    128-token floor by smart_resize (280 x 392 at 28 px, 320 x 448 at 32 px)."""
    clip = load_video(write_video(tmp_path / "v.mp4"), 4.0, patch)
    assert len(clip.frames) == 12 and clip.fps == pytest.approx(4.0)
    assert clip.frames[0].shape == (*size, 3)
    picked = np.round(np.linspace(0, 29, 12)).astype(int)
    levels = [float(f.mean()) for f in clip.frames]
    assert np.allclose(levels, 8 * picked, atol=4), levels
    assert clip.stamps_ns == tuple(round(i * 1e9 / 10.0) for i in picked)


def test_benchmark_against_loopback_server_scores_known_letters(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ten items; the server answers the gold letter for seven, a wrong one for two, and for
    the last an answer without tags twice, then the gold: accuracy exactly 0.8, and the third
    attempt asked with upstream's retry settings."""
    write_video(tmp_path / "clip.mp4")
    golds = "ABCDABCDAB"
    plan = ["gold"] * 7 + ["wrong", "wrong", "retry"]
    lines = []
    for i, gold in enumerate(golds):
        item = {
            "question": f"Question {i}?",
            "index2ans": {k: f"option {k}" for k in "ABCD"},
            "answer": gold,
            "video": "clip.mp4",
            "datasource": "robovqa" if i < 6 else "av",
        }
        lines.append(json.dumps(item))
    (tmp_path / "items.jsonl").write_text("\n".join(lines), encoding="utf-8")
    asked: dict[int, int] = {}

    def respond(body: dict[str, Any]) -> Reply:
        text = body["messages"][1]["content"][-1]["text"]
        i = int(text.split("?")[0].split()[-1])
        asked[i] = asked.get(i, 0) + 1
        gold = golds[i]
        letter = {"gold": gold, "wrong": "D" if gold != "D" else "A"}.get(plan[i], gold)
        if plan[i] == "retry" and asked[i] <= 2:
            return Reply.answer("<think>hmm</think> I cannot tell.")
        return Reply.answer(f"<think>looking</think> <answer>{letter}</answer>")

    out = tmp_path / "out"
    with ChatCompletionsServer(responder=respond, models=(MODEL,)) as srv:
        argv = [str(tmp_path / "items.jsonl"), "--model", MODEL, "--out", str(out)]
        options = ["--backend", "openai", "--base-url", srv.base_url, "--set", "timeout_s=30"]
        status = main([*argv, *options])
        requests = [r.body for r in srv.chat_requests]
    assert status == 0
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["accuracy"], summary["correct"], summary["total"]) == (0.8, 8, 10)
    assert summary["per_datasource"] == {
        "av": {"accuracy": 0.5, "correct": 2, "total": 4},
        "robovqa": {"accuracy": 1.0, "correct": 6, "total": 6},
    }
    assert (summary["retried"], summary["empty_answers"], summary["errors"]) == (1, 0, 0)
    results = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    assert [r["correct"] for r in results] == [True] * 7 + [False, False, True]
    assert results[9]["attempts"] == 3 and results[9]["predicted"] == "B"
    retried = [b for b in requests if "Question 9?" in b["messages"][1]["content"][-1]["text"]]
    got = [(b["max_tokens"], b["temperature"]) for b in retried]
    assert got == [(1024, 0.6), (1024 + 256, min(0.6 + 0.05, 0.9)), (1024 + 512, 0.6 + 0.1)]
    first = requests[0]
    assert [p["type"] for p in first["messages"][1]["content"]] == ["video_url", "text"]
    assert first["messages"][0]["content"] == "Answer the questions."
    assert (first["top_p"], first["seed"], first["mm_processor_kwargs"]["fps"]) == (0.95, 1, 4.0)
    assert "0.8000 (8 / 10)" in (out / "report.html").read_text()
    captured = capsys.readouterr()
    assert "10/10" in captured.err  # the progress bar
    assert "accuracy 0.8000 (8/10)" in captured.out


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("[1, 2]", "must be a JSON object"),
        ('{"question": "", "index2ans": {"A": "x"}, "answer": "A", "video": "c.mp4"}', "question"),
        ('{"question": "Q", "index2ans": ["x"], "answer": "A", "video": "c.mp4"}', "index2ans"),
        ('{"question": "Q", "index2ans": {"A": "x"}, "answer": "B", "video": "c.mp4"}', "'B'"),
        ('{"question": "Q", "index2ans": {"A": "x"}, "video": "c.mp4"}', "correct_answer"),
        ('{"question": "Q", "index2ans": {"A": "x"}, "answer": "A", "video": "no.mp4"}', "exist"),
        ('{"question": "Q", "index2ans": {"A": "x"}, "answer": "A", "video": "bad.mp4"}', "read"),
        ("{not json", "line 1"),
    ],
)
def test_bad_items_are_refused_before_any_model_loads(
    tmp_path: Path, line: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Nothing listens at the base URL: had the backend been loaded, the exit would be 1."""
    write_video(tmp_path / "c.mp4", frames=8)
    (tmp_path / "bad.mp4").write_bytes(b"\x00not a video" * 10)
    (tmp_path / "items.jsonl").write_text(line + "\n", encoding="utf-8")
    argv = [str(tmp_path / "items.jsonl"), "--model", MODEL, "--out", str(tmp_path / "o")]
    status = main([*argv, "--backend", "openai", "--base-url", "http://127.0.0.1:9/v1"])
    err = capsys.readouterr().err
    assert status == ExitCode.INPUT, err
    assert f"{tmp_path / 'items.jsonl'}:1:" in err and message in err
    assert not (tmp_path / "o").exists()


def test_bad_settings_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [str(tmp_path / "none.jsonl"), "--model", MODEL, "--out", str(tmp_path / "o")]
    assert main([*argv, "--top-p", "0"]) == ExitCode.INPUT
    assert "top_p must be in (0, 1]" in capsys.readouterr().err


def test_transformers_backend_runs_the_benchmark_on_the_tiny_model(
    items_file: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """The real transformers path on the tiny checkpoint (its answers are noise: only that
    every item is asked, recorded and scored is checked)."""
    out = tmp_path / "tiny"
    argv = [str(items_file), "--model", str(tiny_model_dir), "--out", str(out)]
    status = main([*argv, "--device", "cpu", "--answer-type", "letter", "--max-retries", "0"])
    assert status == 0
    results = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    assert [r["index"] for r in results] == [0, 1, 2]
    assert all(r["attempts"] == 1 and not r["error"] for r in results)
    assert all(0 < r["generated_tokens"] <= 10 and r["prompt_tokens"] > 100 for r in results)
    assert all(r["frame_size"] == [280, 392] and r["frames"] == 12 for r in results)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["total"] == 3 and summary["architecture"] == "qwen2_5_vl"
    assert summary["correct"] == sum(r["correct"] for r in results)


COSMOS3_REASONING = (
    "Answer the question using the following format:\n\n<think>\nYour reasoning.\n</think>\n\n"
    "Write your final answer immediately after the </think> tag."
)


@pytest.mark.parametrize("model", ["nvidia/Cosmos3-Nano", "nvidia/Cosmos3-Edge"])
def test_a_served_cosmos3_is_benchmarked_with_the_prompt_guide_and_upstream_items(
    items_file: Path, tmp_path: Path, model: str
) -> None:
    """Upstream's items, options, letter line and settings; the Cosmos 3 guide's system prompt
    and reasoning instruction; the letter read after ``</think>`` (prose or ``<answer>``)."""
    golds = [str(raw.get("answer") or raw["correct_answer"]).upper() for raw in ITEMS]

    def respond(body: dict[str, Any]) -> Reply:
        text = body["messages"][1]["content"][-1]["text"]
        index = next(i for i, raw in enumerate(ITEMS) if text.startswith(raw["question"]))
        if index == 0:
            return Reply.answer(f"<think>\nlooking\n</think>\n\nThe answer is {golds[0]}.")
        return Reply.answer(f"<think>looking</think><answer>({golds[index]})</answer>")

    out = tmp_path / "out"
    with ChatCompletionsServer(responder=respond, models=(model,)) as srv:
        argv = [str(items_file), "--model", model, "--out", str(out), "--max-retries", "0"]
        options = ["--backend", "openai", "--base-url", srv.base_url, "--set", "timeout_s=30"]
        assert main([*argv, *options]) == 0
        first = srv.chat_requests[0].body
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["accuracy"], summary["profile"]) == (1.0, "cosmos3")
    assert first["messages"][0]["content"] == "You are a helpful assistant."
    assert [p["type"] for p in first["messages"][1]["content"]] == ["video_url", "text"]
    text = first["messages"][1]["content"][1]["text"]
    upstream = up.get_prompt(ITEMS[0]["question"], ITEMS[0]["index2ans"], "letter")
    assert text == upstream[1]["content"] + "\n\n" + COSMOS3_REASONING
    assert (first["temperature"], first["top_p"], first["seed"]) == (0.6, 0.95, 1)
    assert first["mm_processor_kwargs"]["fps"] == 4.0


def test_cosmos3_letter_rule_reads_the_answer_after_think_end() -> None:
    assert letter_of("<think>A or B?</think>\n\nThe answer is C.", "reasoning", "cosmos3") == (
        "C",
        "A or B?",
    )
    assert (
        letter_of("<think>x</think><answer>(B) a box</answer>", "reasoning", "cosmos3")[0] == "B"
    )
    assert letter_of("<think>only thinking, A", "reasoning", "cosmos3")[0] == "A"
    assert letter_of("<think>x</think>I cannot tell.", "reasoning", "cosmos3")[0] == "I"
