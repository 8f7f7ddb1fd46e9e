"""Figure 4 of ``make bench``: a decision on the tiny model (transformers, CPU), component by
component: snapshot, preprocessing, generation, parsing and publishing, and the non-model
overhead as a share of the total."""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import cv2
import numpy as np

from cosmos_reason_ros.bench.figures import Figure, skipped
from cosmos_reason_ros.bench.ingest import HEIGHT, T0_NS, WIDTH, scene
from cosmos_reason_ros.core.window import FrameWindow, WindowConfig

QUICK_FRAME_SIZE = (320, 180)  # --quick: a smaller window keeps the tiny model's prompt short


def bench_decision(
    decisions: int = 5, frame_size: tuple[int, int] = (WIDTH, HEIGHT)
) -> list[Figure]:
    """Figure 4: decisions on the tiny model (transformers, CPU), component by component.

    Args:
        decisions: Timed decisions, after one warm-up; medians are reported.
        frame_size: (width, height) of the camera frames that fill the window.

    Returns:
        Per-component seconds, the total, and the overhead and preprocessing shares.
    """
    from cosmos_reason_ros.backends import BackendConfig, create_backend
    from cosmos_reason_ros.core.reasoner import Reasoner
    from cosmos_reason_ros.testing.tiny_model import build_tiny_model

    with tempfile.TemporaryDirectory(prefix="bench_tiny_model_") as folder:
        model = build_tiny_model(folder, arch="qwen2_5_vl")
        backend = create_backend(BackendConfig(model=str(model), device="cpu"))
        backend.load()
        try:
            reasoner = Reasoner(backend, _fast_reasoner_config())
            window = _filled_window(reasoner.profile().patch_multiple, frame_size)
            with _publisher() as (publish, no_publish):
                samples = [_decide(reasoner, window, publish, i) for i in range(decisions + 1)]
        finally:
            backend.close()
    base = f"tiny Qwen2.5-VL model, transformers on CPU, window of {frame_size[0]}x{frame_size[1]}"
    return _decision_figures(samples[1:], no_publish, base + " frames")  # the first one warms up


def _fast_reasoner_config() -> Any:
    from cosmos_reason_ros.config import DEFAULT_ACTIONS
    from cosmos_reason_ros.core.action_space import ActionSpace
    from cosmos_reason_ros.core.generation import SamplingSettings
    from cosmos_reason_ros.core.reasoner import ReasonerConfig

    return ReasonerConfig(  # short answers, as test/ros/harness.py FAST
        action_space=ActionSpace.parse(DEFAULT_ACTIONS, "stop"),
        sampling=SamplingSettings(max_new_tokens=200, seed=0),
        max_thinking_tokens=4,
        max_reason_chars=8,
        max_target_chars=4,
        max_parameters=0,
    )


def _filled_window(patch_multiple: int, frame_size: tuple[int, int]) -> FrameWindow:
    """A full default window (4 s at 4 fps) of downscaled camera frames."""
    window = FrameWindow("camera", WindowConfig(patch_multiple=patch_multiple))
    for i, stamp in enumerate(range(window.config.capacity)):
        stamp_ns = T0_NS + round(stamp * 1e9 / window.config.sample_fps)
        rgb = cv2.resize(scene(i)[..., ::-1], frame_size, interpolation=cv2.INTER_AREA)
        window.push(stamp_ns, "camera", np.ascontiguousarray(rgb))
    return window


@contextmanager
def _publisher() -> Iterator[tuple[Callable[[Any], float] | None, str]]:
    """(publish(decision) -> seconds, "") on a fresh rclpy context; (None, why) without rclpy."""
    try:
        import rclpy
        from rclpy.context import Context

        from cosmos_reason_ros.msg import NextAction, Reasoning
        from cosmos_reason_ros.ros.conversions import next_action_msg, reasoning_msg
    except ImportError as exc:
        yield None, f"rclpy or the package's messages not importable ({exc})"
        return
    context = Context()
    rclpy.init(context=context, domain_id=1 + os.getpid() % 100)
    try:
        node = rclpy.create_node("cosmos_reason_bench", context=context)
        pubs = (
            node.create_publisher(NextAction, "~/next_action", 10),
            node.create_publisher(Reasoning, "~/reasoning", 10),
        )

        def publish(decision: Any) -> float:
            start = time.perf_counter()
            pubs[0].publish(next_action_msg(decision))
            pubs[1].publish(reasoning_msg(decision))
            return time.perf_counter() - start

        yield publish, ""
        node.destroy_node()
    finally:
        rclpy.shutdown(context=context)


def _decide(reasoner: Any, window: FrameWindow, publish: Any, decision_id: int) -> dict[str, Any]:
    from cosmos_reason_ros.core.types import WindowSnapshot

    start = time.perf_counter()
    clip = window.snapshot()
    snapshot = WindowSnapshot((clip,) if clip is not None else ())
    decision = reasoner.decide(
        snapshot, decision_id=decision_id, snapshot_s=time.perf_counter() - start
    )
    t = decision.timings
    publish_s = publish(decision) if publish is not None else 0.0
    return {
        "snapshot_s": t.snapshot_s,
        "preprocess_s": t.preprocess_s,
        "generation_s": t.generation_s,
        "parse_s": t.parse_s,
        "publish_s": publish_s,
        "total_s": t.latency_s + publish_s,
        "valid": decision.valid,
        "prompt_tokens": decision.prompt_tokens,
        "generated_tokens": decision.generated_tokens,
        "frames": decision.frame_count,
    }


def _decision_figures(samples: list[dict[str, Any]], no_publish: str, base: str) -> list[Figure]:
    raw = {key: [s[key] for s in samples] for key in samples[0]}
    med = {key: statistics.median(raw[key]) for key in (*_DECISION_PARTS, "total_s")}
    overhead = med["snapshot_s"] + med["parse_s"] + med["publish_s"]
    figures = [
        Figure(f"decision.{key}", med[key], "s", None, base, {key: raw[key]})
        for key in (*_DECISION_PARTS, "total_s")
    ]
    if no_publish:
        figures = [
            skipped(f.name, "s", None, base, no_publish) if f.name.endswith("publish_s") else f
            for f in figures
        ]
    share_base = "share of the total (snapshot + preprocess + generation + parse + publish)"
    figures += [
        Figure(
            "decision.overhead_share",
            overhead / med["total_s"],
            "share",
            None,
            "snapshot + parse + publish, " + share_base,
            raw,
        ),
        Figure(
            "decision.preprocess_share",
            med["preprocess_s"] / med["total_s"],
            "share",
            None,
            "preprocessing, " + share_base,
            {"preprocess_s": raw["preprocess_s"]},
        ),
    ]
    return figures


_DECISION_PARTS = ("snapshot_s", "preprocess_s", "generation_s", "parse_s", "publish_s")
