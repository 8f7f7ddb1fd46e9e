"""Smoke tests of ``make bench``: every figure runs with tiny sizes and the JSON has its shape.

No timing is asserted: the machine is shared and timings are noise at these sizes.
"""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path
from typing import Any

import pytest

from cosmos_reason_ros.bench import __main__ as bench_main
from cosmos_reason_ros.bench.ingest import bench_ingest

FIGURE_KEYS = {"name", "value", "unit", "target", "baseline", "raw", "skipped", "met"}
INGEST = ("ingest.per_received_frame", "jpeg.per_kept_frame", "raw.per_kept_frame")
MODEL_FIGURES = (
    "model.ttft_s",
    "model.decode_tokens_per_s",
    "model.compiled_decode_tokens_per_s",
    "model.compiled_speedup",
    "model.decode_floor_share",
    "model.compiled_floor_share",
)
DECISION_FIGURES = (
    "decision_gpu.p50_s.1_camera",
    "decision_gpu.p95_s.1_camera",
    "decision_gpu.p50_s.2_cameras",
    "decision_gpu.p95_s.2_cameras",
    "decision_gpu.decode_vs_bare_generate",
    "decision_gpu.decode_4bit_vs_bf16",
)
DECISION_PARTS = ("snapshot_s", "preprocess_s", "generation_s", "parse_s", "publish_s")


def test_ingest_figures_are_interleaved_ratios_with_raw_rounds() -> None:
    pytest.importorskip("rclpy", reason="rclpy is not importable: run `make setup`")

    figures = bench_ingest(frames=16, rounds=1)

    assert [f.name for f in figures] == list(INGEST)
    for f in figures:
        assert f.unit == "x" and f.target is not None and not f.skipped
        assert len(f.raw["candidate_s"]) == len(f.raw["baseline_s"]) >= 1
        assert f.value == pytest.approx(statistics.median(f.raw["ratios"]))
        assert f.met in (True, False)
        assert f.raw["target"] == [1008, 560]  # 1080p at the default 768-token frame cap
    # 16 frames of a 30 Hz camera at 4 fps: stamps 0, 8/30 and 15/30 s open sampling slots
    assert figures[0].raw["frames"] == 16 and figures[0].raw["kept"] == 3
    assert figures[0].raw["baseline_kept"] == 3  # the baseline samples the same frames
    assert figures[2].raw["kept"] == figures[2].raw["frames"]  # 4 Hz stamps: all kept


def test_model_figures_skip_with_the_reason_without_cuda() -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present: the figures are measured, not skipped")
    from cosmos_reason_ros.bench.gpu import model_figures

    figures = model_figures(quick=True)

    assert [f.name for f in figures] == list(MODEL_FIGURES)
    assert all(f.value is None and "no CUDA device" in f.skipped for f in figures)
    assert {f.name: f.target for f in figures}["model.compiled_speedup"] == ">= 3"
    assert {f.name: f.target for f in figures}["model.compiled_floor_share"] == ">= 0.4"


@pytest.mark.compute
def test_model_speed_code_path_runs_on_cpu_with_a_tiny_config() -> None:
    """The CUDA benchmark's code, run on CPU with a tiny Qwen2.5-VL config (no GPU here)."""
    pytest.importorskip("torch")
    from transformers import Qwen2_5_VLConfig

    from cosmos_reason_ros.bench.gpu import measure_model_speed, reason1_7b_config

    ids = {"bos_token_id": 500, "eos_token_id": 501}
    tiny = Qwen2_5_VLConfig(
        text_config={
            "vocab_size": 512,
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "rope_scaling": {"type": "mrope", "mrope_section": [2, 3, 3]},
            **ids,
        },
        vision_config={
            "depth": 2,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_heads": 2,
            "out_hidden_size": 64,
            "fullatt_block_indexes": [1],
        },
        vision_start_token_id=502,
        vision_end_token_id=503,
        image_token_id=504,
        video_token_id=505,
        **ids,
    )

    speed = measure_model_speed(tiny, device="cpu", frames=4, side=56, decode_tokens=2, repeats=1)

    assert speed.video_tokens == 2 * 4 * 4 // 4  # 2 temporal patches of 4x4, merged 2x2
    assert speed.prompt_tokens == speed.video_tokens + 50
    assert speed.weight_bytes > 0 and math.isfinite(speed.floor_share)
    real = reason1_7b_config()
    assert (real.text_config.hidden_size, real.vision_config.out_hidden_size) == (3584, 3584)


@pytest.mark.slow
def test_main_quick_prints_the_table_and_writes_one_json_entry_per_figure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "results" / "bench.json"

    assert bench_main.main(["--quick", "--out", str(out)]) == 0

    report = json.loads(out.read_text())
    printed = capsys.readouterr().out
    assert f"wrote {out}" in printed
    assert report["quick"] is True
    names = [f["name"] for f in report["figures"]]
    assert names[:3] == list(INGEST) and "decision.total_s" in names
    assert names[-12:] == [*MODEL_FIGURES, *DECISION_FIGURES]
    _check_decision_parts({f["name"]: f for f in report["figures"]})
    for figure in report["figures"]:
        assert set(figure) == FIGURE_KEYS
        assert figure["name"] in printed
        assert (figure["value"] is None) == bool(figure["skipped"])
        assert isinstance(figure["raw"], dict)


def _check_decision_parts(figures: dict[str, dict[str, Any]]) -> None:
    """The parts of a decision add up to its total; the overhead is a share of it."""
    measured = [figures[f"decision.{p}"]["value"] for p in DECISION_PARTS]
    total = figures["decision.total_s"]["value"]
    assert sum(v for v in measured if v is not None) == pytest.approx(total, rel=1e-6)
    assert 0 < figures["decision.overhead_share"]["value"] < 1
    assert 0 < figures["decision.preprocess_share"]["value"] < 1
    assert figures["decision.overhead_share"]["raw"]["frames"] == [16]  # 17 kept, 16 (even) sent


@pytest.mark.compute
def test_gpu_decision_code_path_runs_on_cpu_with_a_small_config(tmp_path: Path) -> None:
    """The CUDA decision benchmark's code, run on CPU with small dimensions: a checkpoint written
    as the benchmark writes the 7B one (config built on the installed transformers), loaded by
    load_configured, deciding (short budgets: this checks the code path), compared with bare
    generate, and in 4-bit (no GPU here: the figures themselves skip)."""
    pytest.importorskip("torch")
    from cosmos_reason_ros.bench.gpu_decisions import (
        decision_figures,
        measure_decisions,
        write_checkpoint,
    )

    small = {
        "text": {
            "hidden_size": 128,
            "intermediate_size": 256,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "vocab_size": 640,
            "rope_scaling": {"type": "mrope", "mrope_section": [4, 6, 6]},
        },
        "vision": {
            "depth": 2,
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_heads": 2,
            "out_hidden_size": 128,
            "fullatt_block_indexes": [1],
        },
    }
    checkpoint = write_checkpoint(tmp_path, device="cpu", dims=small)
    short = {"max_new_tokens": 200, "max_thinking_tokens": 8}  # the code path, not the timing
    raw = measure_decisions(checkpoint, "cpu", decisions=1, **short)

    assert set(raw) == {
        "latency_s.1",
        "latency_s.2",
        "latency_s.4bit",
        "decode_tokens_per_s.1",
        "decode_tokens_per_s.2",
        "decode_tokens_per_s.4bit",
        "bare_tokens_per_s",
    }
    assert all(len(v) == 1 and v[0] > 0 for v in raw.values())
    if not torch_cuda():
        assert all(f.skipped for f in decision_figures(quick=True))


def torch_cuda() -> bool:
    import torch

    return bool(torch.cuda.is_available())
