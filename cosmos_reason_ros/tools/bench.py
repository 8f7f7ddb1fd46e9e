"""``make bench``: what the node's hot paths cost, measured side by side against a peer.

Each ratio interleaves the candidate and its baseline, alternating which goes first, repeats,
and reports the median of the per-round ratios; raw per-round figures go to the JSON.

1. ``ingest.per_received_frame``: the camera callback (``accept``, then decode and push only
   kept frames) over a 30 Hz stream of 1080p bgr8 ``sensor_msgs/Image`` at ``sample_fps`` 4,
   against decoding every frame with rosbags-image plus ``cv2.resize``.
2. ``jpeg.per_kept_frame``: ``decode_image`` of a 1080p JPEG at the window's size against a
   full-size ``cv2.imdecode`` plus ``cv2.resize``.
3. ``raw.per_kept_frame``: the callback for a kept raw 1080p frame against its floor, one
   ``cv2.resize`` of the same array.
4. ``decision.*``: a decision on the tiny model on CPU, split into snapshot, preprocessing,
   generation, parsing and publishing; the non-model overhead as a share of the total.
5. ``model.*``: time to first token and decode speed of a random-weight Cosmos-Reason1-7B on
   CUDA (see ``bench_gpu``); skipped, with the reason, without a GPU.

Run ``python -m cosmos_reason_ros.tools.bench [--quick] [--out results/bench.json]``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from cosmos_reason_ros.core.decoding import decode_image
from cosmos_reason_ros.core.window import FrameWindow, WindowConfig

__all__ = ["Figure", "bench_decision", "bench_ingest", "main", "render_table"]

WIDTH, HEIGHT = 1920, 1080
CAMERA_HZ = 30.0
SAMPLE_FPS = 4.0
T0_NS = 1_700_000_000 * 10**9
BATCH = 4  # frames per interleaved batch in figures 2 and 3
QUICK_FRAME_SIZE = (320, 180)  # --quick: a smaller window keeps the tiny model's prompt short


@dataclass(frozen=True)
class Figure:
    """One measured figure, as printed and as written to the JSON.

    Attributes:
        name: Dotted name, e.g. ``ingest.per_received_frame``.
        value: The figure; None when skipped.
        unit: ``x`` for ratios, ``s``, ``tokens/s``, ``share``.
        target: ``<= 0.2`` style bound, or None when only reported.
        baseline: What the figure is measured against.
        raw: The raw numbers behind the figure (per-round times, counts, sizes).
        skipped: Why the figure was not measured; "" when it was.
    """

    name: str
    value: float | None
    unit: str
    target: str | None
    baseline: str
    raw: dict[str, Any] = field(default_factory=dict)
    skipped: str = ""

    @property
    def met(self) -> bool | None:
        """Whether ``value`` meets ``target``; None without a target or a value."""
        if self.target is None or self.value is None:
            return None
        op, bound = self.target.split()
        return self.value <= float(bound) if op == "<=" else self.value >= float(bound)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "met": self.met}


def _skip(name: str, unit: str, target: str | None, baseline: str, reason: str) -> Figure:
    return Figure(name, None, unit, target, baseline, skipped=reason)


def _interleaved(
    candidate: Callable[[], float], baseline: Callable[[], float], rounds: int
) -> dict[str, Any]:
    """Per-round seconds of each function (one warm-up each), alternating which runs first."""
    candidate(), baseline()
    cand, base = [], []
    for i in range(rounds):
        if i % 2 == 0:
            cand.append(candidate())
            base.append(baseline())
        else:
            base.append(baseline())
            cand.append(candidate())
    return {
        "candidate_s": cand,
        "baseline_s": base,
        "ratios": [c / b for c, b in zip(cand, base, strict=True)],
    }


def _ratio_figure(name: str, target: str, baseline: str, runs: dict[str, Any]) -> Figure:
    value = statistics.median(runs["ratios"])
    runs["candidate_median_s"] = statistics.median(runs["candidate_s"])
    runs["baseline_median_s"] = statistics.median(runs["baseline_s"])
    return Figure(name, value, "x", target, baseline, runs)


def _per_item(run: Callable[[], None], items: int) -> Callable[[], float]:
    def timed() -> float:
        start = time.perf_counter()
        run()
        return (time.perf_counter() - start) / items

    return timed


def _scene(seed: int) -> np.ndarray:
    """A 1080p BGR test scene: gradients, shapes and sensor noise; JPEG-realistic."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(40, 200, WIDTH, dtype=np.float32)
    img = np.repeat(ramp[None, :, None], HEIGHT, axis=0).repeat(3, axis=2)
    img[..., 1] *= np.linspace(0.6, 1.0, HEIGHT, dtype=np.float32)[:, None]
    for _ in range(12):
        center = (int(rng.integers(0, WIDTH)), int(rng.integers(0, HEIGHT)))
        color = tuple(int(c) for c in rng.integers(0, 255, 3))
        cv2.circle(img, center, int(rng.integers(30, 200)), color, -1)
    img += rng.normal(0, 4, img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def _raw_messages(count: int) -> list[Any]:
    from sensor_msgs.msg import Image as ImageMsg

    msgs = []
    for i in range(count):
        bgr = _scene(i)
        msg = ImageMsg(height=HEIGHT, width=WIDTH, encoding="bgr8", step=WIDTH * 3)
        msg.data = bgr.tobytes()
        msg.header.frame_id = "camera"
        msgs.append(msg)
    return msgs


def _stamps(count: int, hz: float) -> list[Any]:
    from cosmos_reason_ros.ros.conversions import time_from_ns

    return [time_from_ns(T0_NS + round(i * 1e9 / hz)) for i in range(count)]


def _window() -> FrameWindow:
    return FrameWindow("camera", WindowConfig(sample_fps=SAMPLE_FPS))


def bench_ingest(frames: int = 120, rounds: int = 7) -> list[Figure]:
    """Figures 1-3: ingest per received frame, JPEG and raw cost per kept frame.

    Args:
        frames: Frames of the 30 Hz stream (figure 1); figures 2 and 3 time as many frames
            per round, in interleaved batches of ``BATCH`` so load changes on a shared
            machine hit candidate and baseline alike.
        rounds: Interleaved rounds of each comparison.

    Returns:
        Three figures; skipped ones say why (rclpy's sensor_msgs not importable).
    """
    try:
        from sensor_msgs.msg import CompressedImage

        from cosmos_reason_ros.ros import conversions  # noqa: F401  (rclpy message types)
    except ImportError as exc:
        reason = f"sensor_msgs/rclpy not importable ({exc}); run `make setup`"
        return [
            _skip("ingest.per_received_frame", "x", "<= 0.2", "rosbags-image + resize", reason),
            _skip("jpeg.per_kept_frame", "x", "<= 0.5", "imdecode + resize", reason),
            _skip("raw.per_kept_frame", "x", "<= 1.3", "one cv2.resize", reason),
        ]
    batch = min(BATCH, frames)
    pool = _raw_messages(4)
    size = _window().target_size(WIDTH, HEIGHT)
    stream = _stamps(frames, CAMERA_HZ)
    ingest = _bench_stream(pool, stream, size, rounds)
    _, buf = cv2.imencode(".jpg", _scene(7), [cv2.IMWRITE_JPEG_QUALITY, 90])
    jpeg = CompressedImage(format="jpeg", data=buf.tobytes())
    return [
        ingest,
        _bench_jpeg(jpeg, size, batch, rounds * frames // batch),
        _bench_raw_kept(pool, size, batch, rounds * frames // batch),
    ]


def _feed(pool: list[Any], stamps: list[Any]) -> int:
    """Runs the node's camera callback (``ros.cameras``) over a stream; returns frames kept."""
    from cosmos_reason_ros.ros.conversions import ns_from_time

    window = _window()
    for i, stamp in enumerate(stamps):
        msg = pool[i % len(pool)]
        msg.header.stamp = stamp
        stamp_ns = ns_from_time(msg.header.stamp)
        if not window.accept(stamp_ns):
            continue
        image = decode_image(msg, window.target_size)
        window.push(stamp_ns, msg.header.frame_id, image)
    return window.stats().kept


def _bench_stream(
    pool: list[Any], stamps: list[Any], size: tuple[int, int], rounds: int
) -> Figure:
    from rosbags.image import message_to_cvimage

    kept: list[int] = []

    def ours() -> None:
        kept.append(_feed(pool, stamps))

    def naive() -> None:
        for i, stamp in enumerate(stamps):
            msg = pool[i % len(pool)]
            msg.header.stamp = stamp
            rgb = message_to_cvimage(msg, "rgb8")
            cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)

    runs = _interleaved(_per_item(ours, len(stamps)), _per_item(naive, len(stamps)), rounds)
    runs.update(frames=len(stamps), kept=kept[-1], camera_hz=CAMERA_HZ, sample_fps=SAMPLE_FPS,
                source=[WIDTH, HEIGHT], target=list(size))  # fmt: skip
    return _ratio_figure(
        "ingest.per_received_frame", "<= 0.2",
        "rosbags-image message_to_cvimage(rgb8) + cv2.resize(INTER_AREA) on every frame", runs,
    )  # fmt: skip


def _bench_jpeg(msg: Any, size: tuple[int, int], count: int, rounds: int) -> Figure:
    window = _window()
    data = np.frombuffer(msg.data, np.uint8)

    def ours() -> None:
        for _ in range(count):
            decode_image(msg, window.target_size)

    def full() -> None:
        for _ in range(count):
            bgr = cv2.imdecode(data, cv2.IMREAD_COLOR)
            cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)

    runs = _interleaved(_per_item(ours, count), _per_item(full, count), rounds)
    runs.update(frames=count, jpeg_bytes=len(data), source=[WIDTH, HEIGHT], target=list(size))
    return _ratio_figure(
        "jpeg.per_kept_frame", "<= 0.5",
        "full-size cv2.imdecode + cv2.resize(INTER_AREA) to the same size", runs,
    )  # fmt: skip


def _bench_raw_kept(pool: list[Any], size: tuple[int, int], count: int, rounds: int) -> Figure:
    stamps = _stamps(count, SAMPLE_FPS)  # one frame per sampling slot: every frame is kept
    arrays = [np.frombuffer(m.data, np.uint8).reshape(HEIGHT, WIDTH, 3) for m in pool]
    kept: list[int] = []

    def ours() -> None:
        kept.append(_feed(pool, stamps))

    def floor() -> None:
        for i in range(count):
            cv2.resize(arrays[i % len(arrays)], size, interpolation=cv2.INTER_AREA)

    runs = _interleaved(_per_item(ours, count), _per_item(floor, count), rounds)
    runs.update(frames=count, kept=kept[-1], source=[WIDTH, HEIGHT], target=list(size))
    return _ratio_figure(
        "raw.per_kept_frame", "<= 1.3",
        "one cv2.resize(INTER_AREA) of the same 1080x1920x3 array to the target size", runs,
    )  # fmt: skip


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
    from cosmos_reason_ros.backends import SamplingSettings
    from cosmos_reason_ros.core.action_space import ActionSpace
    from cosmos_reason_ros.core.reasoner import ReasonerConfig
    from cosmos_reason_ros.ros.parameters import DEFAULT_ACTIONS

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
        rgb = cv2.resize(_scene(i)[..., ::-1], frame_size, interpolation=cv2.INTER_AREA)
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
        pubs = (node.create_publisher(NextAction, "~/next_action", 10),
                node.create_publisher(Reasoning, "~/reasoning", 10))  # fmt: skip

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
        "snapshot_s": t.snapshot_s, "preprocess_s": t.preprocess_s,
        "generation_s": t.generation_s, "parse_s": t.parse_s, "publish_s": publish_s,
        "total_s": t.latency_s + publish_s, "valid": decision.valid,
        "prompt_tokens": decision.prompt_tokens, "generated_tokens": decision.generated_tokens,
        "frames": decision.frame_count,
    }  # fmt: skip


def _decision_figures(samples: list[dict[str, Any]], no_publish: str, base: str) -> list[Figure]:
    raw = {key: [s[key] for s in samples] for key in samples[0]}
    med = {key: statistics.median(raw[key]) for key in (*_DECISION_PARTS, "total_s")}
    overhead = med["snapshot_s"] + med["parse_s"] + med["publish_s"]
    figures = [
        Figure(f"decision.{key}", med[key], "s", None, base, {key: raw[key]})
        for key in (*_DECISION_PARTS, "total_s")
    ]
    if no_publish:
        figures = [_skip(f.name, "s", None, base, no_publish) if f.name.endswith("publish_s")
                   else f for f in figures]  # fmt: skip
    share_base = "share of the total (snapshot + preprocess + generation + parse + publish)"
    figures += [
        Figure("decision.overhead_share", overhead / med["total_s"], "share", None,
               "snapshot + parse + publish, " + share_base, raw),
        Figure("decision.preprocess_share", med["preprocess_s"] / med["total_s"], "share", None,
               "preprocessing, " + share_base, {"preprocess_s": raw["preprocess_s"]}),
    ]  # fmt: skip
    return figures


_DECISION_PARTS = ("snapshot_s", "preprocess_s", "generation_s", "parse_s", "publish_s")


def render_table(figures: Iterable[Figure]) -> str:
    """The figures as a fixed-width text table."""
    rows = [("figure", "value", "target", "met", "baseline / note")]
    for f in figures:
        if f.value is None:
            value, note = "skipped", f.skipped
        else:
            value, note = _format(f.value, f.unit), f.baseline
        met = {True: "yes", False: "NO", None: "-"}[f.met]
        rows.append((f.name, value, f.target or "-", met, note))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(r[:4], widths, strict=True)) + "  " + r[4]
        for r in rows
    ]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def _format(value: float, unit: str) -> str:
    if unit == "x":
        return f"{value:.3f}x"
    if unit == "share":
        return f"{100 * value:.1f} %" if value >= 0.01 else f"{100 * value:.3f} %"
    if unit == "s":
        return f"{value * 1000:.2f} ms" if value < 1 else f"{value:.3f} s"
    return f"{value:.1f} {unit}"


def main(argv: list[str] | None = None) -> int:
    """Run every figure, print the table and write the JSON. Returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m cosmos_reason_ros.tools.bench",
        description="Measure the node's hot paths; print a table and write JSON.",
    )
    parser.add_argument("--quick", action="store_true", help="few iterations (smoke test)")
    parser.add_argument("--out", type=Path, default=Path("results/bench.json"), help="JSON path")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    started = time.time()
    from cosmos_reason_ros.tools.bench_gpu import model_figures

    figures = bench_ingest(*((8, 1) if args.quick else (120, 7)))
    figures += bench_decision(*((1, QUICK_FRAME_SIZE) if args.quick else (5, (WIDTH, HEIGHT))))
    figures += model_figures(args.quick)
    print(render_table(figures))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "quick": args.quick,
        "started_unix_s": started,
        "duration_s": time.time() - started,
        "figures": [f.to_dict() for f in figures],
    }
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
