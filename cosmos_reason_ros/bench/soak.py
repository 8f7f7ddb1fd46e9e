"""Soak test: the ``cosmos_reason`` node under sustained camera load, measured from outside.

The node runs in a child process (``python -m cosmos_reason_ros.node``) on the tiny model,
in its own ROS domain, so its RSS and thread count are its own. This process publishes four
cameras (two raw ``rgb8``/``bgr8``, two JPEG ``CompressedImage``), pre-encoded once and only
re-stamped, asks ``~/ask`` every few seconds from a second node, and listens to
``~/next_action``, ``~/reasoning`` and ``/diagnostics``. It prints RSS after a warm-up and at
the end, decision counters, frames dropped, latency percentiles, thread count, ask results,
and one verdict line per target. Exit status 1 when a target is missed.

Example::

    make soak MINUTES=10
    python -m cosmos_reason_ros.bench.soak --minutes 0.5 --width 320 --height 240
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import psutil
import yaml

CAMERAS = (  # (topic, encoding)
    ("/soak/cam0/image_raw", "rgb8"),
    ("/soak/cam1/image_raw", "bgr8"),
    ("/soak/cam2/image_raw/compressed", "jpeg"),
    ("/soak/cam3/image_raw/compressed", "jpeg"),
)
FAST = {  # short answers from the tiny model (test/ros/harness.py FAST)
    "max_new_tokens": 200,
    "max_thinking_tokens": 4,
    "seed": 0,
    "max_reason_chars": 8,
    "max_target_chars": 4,
    "max_parameters": 0,
}
NODE = "/cosmos_reason"
_MB = 2**20


@dataclass(frozen=True)
class SoakSettings:
    """What to run. ``warmup_s`` None: 20 % of the run or 60 s, whichever is smaller."""

    minutes: float = 10.0
    width: int = 1280
    height: int = 720
    rate_hz: float = 30.0
    decision_period_s: float = 2.0
    ask_period_s: float = 5.0
    warmup_s: float | None = None
    max_rss_growth_mb: float = 20.0
    domain_id: int = 101 + os.getpid() % 100  # tests use 1..100 (test/conftest.py)
    model_dir: str = ""  # "" = build the tiny model into a temporary folder
    startup_timeout_s: float = 300.0

    @property
    def duration_s(self) -> float:
        return self.minutes * 60.0

    @property
    def effective_warmup_s(self) -> float:
        return self.warmup_s if self.warmup_s is not None else min(0.2 * self.duration_s, 60.0)


@dataclass(frozen=True)
class CameraResult:
    topic: str
    encoding: str
    published: int
    received: int  # by the node, from its last /diagnostics
    invalid: int


@dataclass(frozen=True)
class Verdict:
    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class SoakReport:
    """Everything measured. Counters named ``decisions_*`` come from the node's diagnostics."""

    settings: SoakSettings
    startup_s: float
    ran_s: float
    publish_s: float
    rss_warmup_mb: float
    rss_end_mb: float
    rss_peak_mb: float
    threads_end: int
    threads_max: int
    decisions_made: int
    decisions_skipped: int
    decisions_failed: int
    decisions_invalid: int
    cameras: tuple[CameraResult, ...]
    latencies_s: tuple[float, ...]
    asks_ok: int
    asks_failed: int
    ask_errors: tuple[str, ...]
    actions_valid: int
    actions_fallback: int
    actions_bad: tuple[str, ...]
    alive_at_end: bool
    exit_code: int | None
    verdicts: tuple[Verdict, ...]
    node_log_tail: tuple[str, ...] = ()  # kept when the node did not exit cleanly

    @property
    def passed(self) -> bool:
        return all(v.passed for v in self.verdicts)


def classify(action: Any, allowed: set[str], fallback: str) -> str:
    """``valid``, ``fallback`` (valid=false, explained, the fallback action) or a complaint."""
    if action.valid:
        return "valid" if action.action in allowed else f"valid but not allowed: {action.action!r}"
    if action.action == fallback and action.reason.strip():
        return "fallback"
    return f"invalid, action={action.action!r} reason={action.reason!r}"


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100.0 * len(ordered)) - 1))]


def _camera_messages(topic: str, encoding: str, width: int, height: int) -> list[Any]:
    """A few frames of a moving ball, encoded once; the publisher only re-stamps them."""
    from sensor_msgs.msg import CompressedImage, Image

    msgs: list[Any] = []
    for i in range(3):
        rgb = np.full((height, width, 3), 90, np.uint8)
        cx = int(width * (0.2 + 0.3 * i))
        cv2.circle(rgb, (cx, height // 2), max(4, height // 8), (200, 30, 30), -1)
        if encoding == "jpeg":
            ok, buf = cv2.imencode(".jpg", rgb[..., ::-1])
            if not ok:
                raise RuntimeError("JPEG encoding failed")
            msg: Any = CompressedImage(format="jpeg", data=buf.tobytes())
        else:
            data = np.ascontiguousarray(rgb if encoding == "rgb8" else rgb[..., ::-1])
            msg = Image(height=height, width=width, encoding=encoding, step=width * 3,
                        data=data.tobytes())  # fmt: skip
        msg.header.frame_id = topic.split("/")[2]
        msgs.append(msg)
    return msgs


class _Monitor:
    """The second node: camera publishers, listeners, the ask client. Thread-safe counters."""

    def __init__(self, context: Any, settings: SoakSettings, allowed: set[str],
                 fallback: str) -> None:  # fmt: skip
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.node import Node
        from rclpy.qos import QoSProfile, QoSReliabilityPolicy
        from sensor_msgs.msg import CompressedImage, Image

        from cosmos_reason_ros.msg import NextAction, Reasoning
        from cosmos_reason_ros.srv import AskNextAction

        self._ask_type = AskNextAction
        self.node = Node("soak_monitor", context=context)
        self._allowed, self._fallback, self._settings = allowed, fallback, settings
        self.lock = threading.Lock()
        self.published = {topic: 0 for topic, _ in CAMERAS}
        self.latencies: list[float] = []
        self.valid = self.fallbacks = self.asks_ok = self.asks_failed = 0
        self.bad: list[str] = []
        self.ask_errors: list[str] = []
        self.reasoner: dict[str, str] = {}
        self.camera_diag: dict[str, dict[str, str]] = {}
        self._ask_future: Any = None
        self.publish_s = 0.0  # how long the publisher ran, for the achieved rate
        qos = QoSProfile(depth=1, reliability=QoSReliabilityPolicy.BEST_EFFORT)
        self.pubs = {
            topic: self.node.create_publisher(
                CompressedImage if topic.endswith("/compressed") else Image, topic, qos
            )
            for topic, _ in CAMERAS
        }
        self.frames = {t: _camera_messages(t, e, settings.width, settings.height)
                       for t, e in CAMERAS}  # fmt: skip
        self.node.create_subscription(NextAction, f"{NODE}/next_action", self._on_action, 50)
        self.node.create_subscription(Reasoning, f"{NODE}/reasoning", self._on_reasoning, 50)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diag, 10)
        self.ask_client: Any = self.node.create_client(AskNextAction, f"{NODE}/ask")

    def _on_action(self, msg: Any) -> None:
        kind = classify(msg, self._allowed, self._fallback)
        with self.lock:
            if kind == "valid":
                self.valid += 1
            elif kind == "fallback":
                self.fallbacks += 1
            else:
                self.bad.append(f"decision {msg.decision_id}: {kind}")

    def _on_reasoning(self, msg: Any) -> None:
        with self.lock:
            self.latencies.append(float(msg.latency_s))

    def _on_diag(self, msg: Any) -> None:
        with self.lock:
            for status in msg.status:
                values = {kv.key: kv.value for kv in status.values}
                if status.name.endswith(": reasoner"):
                    self.reasoner = values
                elif ": camera " in status.name:
                    self.camera_diag[status.name.split(": camera ", 1)[1]] = values

    def publish_loop(self, stop: threading.Event) -> None:
        """Publish every camera at ``rate_hz``, stamped now; late ticks are skipped."""
        from cosmos_reason_ros.ros.conversions import time_from_ns

        period, tick, nxt = 1.0 / self._settings.rate_hz, 0, time.monotonic()
        started = nxt
        while not stop.is_set():
            self.publish_s = time.monotonic() - started
            stamp = time_from_ns(time.time_ns())
            for topic, pub in self.pubs.items():
                msg = self.frames[topic][tick % len(self.frames[topic])]
                msg.header.stamp = stamp
                pub.publish(msg)
                with self.lock:
                    self.published[topic] += 1
            tick += 1
            nxt += period
            now = time.monotonic()
            if nxt < now:  # fell behind: skip to the next tick instead of bursting
                nxt = now + period - (now - nxt) % period
            stop.wait(nxt - now)

    def ask(self) -> None:
        """Ask once, unless the previous ask is still waiting for its answer."""
        if self._ask_future is not None and not self._ask_future.done():
            return
        self._ask_future = self.ask_client.call_async(self._ask_type.Request())
        self._ask_future.add_done_callback(self._on_answer)

    def _on_answer(self, future: Any) -> None:
        res = future.result()
        with self.lock:
            if res is not None and res.success:
                self.asks_ok += 1
            else:
                self.asks_failed += 1
                self.ask_errors.append(res.message if res is not None else "no response")

    def wait_ask(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while self._ask_future is not None and not self._ask_future.done():
            if time.monotonic() > deadline:
                with self.lock:
                    self.asks_failed += 1
                    self.ask_errors.append(f"no answer within {timeout_s:g} s at the end")
                return
            time.sleep(0.1)


def _write_params(folder: Path, settings: SoakSettings, model_dir: str) -> Path:
    values = {**FAST, "model": model_dir, "device": "cpu", "image_topics": [t for t, _ in CAMERAS],
              "decision_period_s": float(settings.decision_period_s)}  # fmt: skip
    path = folder / "soak_params.yaml"
    path.write_text(yaml.safe_dump({"/**": {"ros__parameters": values}}))
    return path


def _start_node(folder: Path, params: Path, domain_id: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "ROS_DOMAIN_ID": str(domain_id)}
    cmd = [sys.executable, "-m", "cosmos_reason_ros.node", "--ros-args", "--params-file",
           str(params)]  # fmt: skip
    # Own session: a Ctrl-C on the soak does not reach the node; the soak stops it itself.
    with (folder / "node.log").open("wb") as log:
        return subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)  # fmt: skip


def _stop_node(child: subprocess.Popen[bytes], timeout_s: float = 30.0) -> int | None:
    """SIGINT, then wait; SIGKILL if it hangs (and return None: not a clean exit)."""
    if child.poll() is not None:
        return child.returncode
    child.send_signal(signal.SIGINT)
    try:
        return child.wait(timeout_s)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
        return None


def _wait(predicate: Any, timeout_s: float, child: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if child.poll() is not None:
            raise RuntimeError(f"the node exited with {child.returncode} while waiting for {what}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(0.2)


def _log_tail(folder: Path, n: int = 20) -> tuple[str, ...]:
    path = folder / "node.log"
    lines = path.read_text(errors="replace").splitlines() if path.exists() else []
    return tuple(lines[-n:])


def run_soak(settings: SoakSettings, log_dir: Path | None = None) -> SoakReport:
    """Run the soak and measure it. Blocks for about ``settings.minutes`` plus start-up."""
    import rclpy
    from rclpy.context import Context
    from rclpy.executors import MultiThreadedExecutor

    from cosmos_reason_ros.config import DEFAULT_ACTIONS, SPEC_BY_NAME
    from cosmos_reason_ros.core.action_space import ActionSpace

    fallback = str(SPEC_BY_NAME["fallback_action"].default)
    allowed = {a.name for a in ActionSpace.parse(DEFAULT_ACTIONS, fallback).actions}
    with tempfile.TemporaryDirectory(prefix="cosmos_soak_") as tmp:
        folder = log_dir or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        model_dir = settings.model_dir
        if not model_dir:
            from cosmos_reason_ros.testing.tiny_model import build_tiny_model

            model_dir = str(build_tiny_model(Path(tmp) / "tiny_model"))
        context = Context()
        rclpy.init(context=context, domain_id=settings.domain_id)
        t_start = time.monotonic()
        child = _start_node(folder, _write_params(folder, settings, model_dir), settings.domain_id)
        stop = threading.Event()
        executor = MultiThreadedExecutor(num_threads=2, context=context)
        try:
            mon = _Monitor(context, settings, allowed, fallback)
            executor.add_node(mon.node)
            threading.Thread(target=executor.spin, daemon=True).start()
            _wait(mon.ask_client.service_is_ready, settings.startup_timeout_s, child,
                  f"{NODE}/ask (log: {folder / 'node.log'})")  # fmt: skip
            _wait(lambda: all(p.get_subscription_count() for p in mon.pubs.values()), 60.0,
                  child, "the node's camera subscriptions")  # fmt: skip
            startup_s = time.monotonic() - t_start
            publisher = threading.Thread(target=mon.publish_loop, args=(stop,), daemon=True)
            publisher.start()
            report = _measure(settings, child, mon, startup_s)
            mon.wait_ask(60.0)  # while frames still flow, so the answer is not a stale-fallback
            stop.set()
            publisher.join(10.0)
            report["publish_s"] = mon.publish_s
            # One more /diagnostics with the final counts; shorter than max_frame_age_s, so
            # no periodic decision fails for want of frames the soak stopped sending.
            time.sleep(1.5)
            alive = child.poll() is None
            exit_code = _stop_node(child)
            tail = () if alive and exit_code == 0 else _log_tail(folder)
            return dataclasses.replace(_finish(report, mon, alive, exit_code), node_log_tail=tail)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}; node log tail:\n" + "\n".join(_log_tail(folder))) from exc
        finally:
            stop.set()
            _stop_node(child, 10.0)
            executor.shutdown(timeout_sec=5.0)
            rclpy.shutdown(context=context)


def _measure(settings: SoakSettings, child: subprocess.Popen[bytes], mon: _Monitor,
             startup_s: float) -> dict[str, Any]:  # fmt: skip
    """The timed part: sample RSS and threads, ask now and then, watch for a crash."""
    proc = psutil.Process(child.pid)
    start = time.monotonic()
    warmup_at, end_at = start + settings.effective_warmup_s, start + settings.duration_s
    # RSS swings by a decision's working set, so each end of the comparison is the median of
    # the samples in a window (30 s, or a tenth of the run): right after warm-up, and the last.
    span = min(30.0, 0.1 * settings.duration_s)
    samples: list[tuple[float, float]] = []  # (time, rss MB)
    threads = threads_max = 0
    next_ask = start + min(settings.ask_period_s, 1.0)
    while (now := time.monotonic()) < end_at and child.poll() is None:
        try:
            samples.append((now, proc.memory_info().rss / _MB))
            threads = proc.num_threads()
        except psutil.NoSuchProcess:
            break
        threads_max = max(threads_max, threads)
        if now >= next_ask:
            mon.ask()
            next_ask += settings.ask_period_s
        time.sleep(min(1.0, max(0.0, end_at - time.monotonic())))
    last = samples[-1][0] if samples else start
    after_warmup = [r for t, r in samples if warmup_at <= t <= warmup_at + span]
    at_end = [r for t, r in samples if t >= last - span]
    return {"settings": settings, "startup_s": startup_s, "ran_s": time.monotonic() - start,
            "rss_warmup_mb": statistics.median(after_warmup or at_end or [0.0]),
            "rss_end_mb": statistics.median(at_end or [0.0]),
            "rss_peak_mb": max((r for _, r in samples), default=0.0),
            "threads_end": threads, "threads_max": threads_max}  # fmt: skip


def _finish(partial: dict[str, Any], mon: _Monitor, alive: bool, exit_code: int | None
            ) -> SoakReport:  # fmt: skip
    s: SoakSettings = partial["settings"]
    with mon.lock:
        diag, cams = dict(mon.reasoner), dict(mon.camera_diag)
        cameras = tuple(
            CameraResult(t, e, mon.published[t], int(cams.get(t, {}).get("received", 0)),
                         int(cams.get(t, {}).get("invalid", 0)))
            for t, e in CAMERAS
        )  # fmt: skip
        counts = {k: int(diag.get(f"decisions_{k}", 0))
                  for k in ("made", "skipped", "failed", "invalid")}  # fmt: skip
        report = SoakReport(
            **partial, decisions_made=counts["made"], decisions_skipped=counts["skipped"],
            decisions_failed=counts["failed"], decisions_invalid=counts["invalid"],
            cameras=cameras,
            latencies_s=tuple(mon.latencies), asks_ok=mon.asks_ok, asks_failed=mon.asks_failed,
            ask_errors=tuple(mon.ask_errors[:5]), actions_valid=mon.valid,
            actions_fallback=mon.fallbacks, actions_bad=tuple(mon.bad), alive_at_end=alive,
            exit_code=exit_code, verdicts=(),
        )  # fmt: skip
    growth = report.rss_end_mb - report.rss_warmup_mb
    n_actions = report.actions_valid + report.actions_fallback + len(report.actions_bad)
    verdicts = (
        Verdict("rss_growth", growth < s.max_rss_growth_mb,
                f"{growth:+.1f} MB after warm-up (target < {s.max_rss_growth_mb:g} MB)"),
        Verdict("no_crash", alive and exit_code == 0,
                f"alive at end: {alive}; exit code after SIGINT: {exit_code}"),
        Verdict("decisions_valid", n_actions > 0 and not report.actions_bad,
                f"{n_actions - len(report.actions_bad)} of {n_actions} NextAction valid or an "
                "explained fallback"),
    )  # fmt: skip
    return dataclasses.replace(report, verdicts=verdicts)


def format_report(r: SoakReport) -> list[str]:
    """The printed report, one line per fact; verdict lines start with ``VERDICT``."""
    s, lat = r.settings, r.latencies_s
    lines = [
        f"soak: {s.minutes:g} min ({r.ran_s:.0f} s measured), {len(CAMERAS)} cameras x "
        f"{s.rate_hz:g} Hz at {s.width}x{s.height} ({', '.join(e for _, e in CAMERAS)}), "
        f"decision_period_s={s.decision_period_s:g}, ask every {s.ask_period_s:g} s, "
        f"ROS_DOMAIN_ID={s.domain_id}",
        f"startup: node ready after {r.startup_s:.1f} s",
        f"rss: {r.rss_warmup_mb:.1f} MB after warm-up ({s.effective_warmup_s:.0f} s), "
        f"{r.rss_end_mb:.1f} MB at end (medians of windows), "
        f"growth {r.rss_end_mb - r.rss_warmup_mb:+.1f} MB, peak {r.rss_peak_mb:.1f} MB",
        f"threads: {r.threads_end} at end (max {r.threads_max})",
        f"decisions: made {r.decisions_made}, skipped {r.decisions_skipped}, "
        f"failed {r.decisions_failed}, invalid {r.decisions_invalid}",
    ]
    for c in r.cameras:
        lines.append(f"camera {c.topic} ({c.encoding}): published {c.published} "
                     f"({c.published / max(r.publish_s, 1e-9):.1f} Hz), received {c.received}, "
                     f"invalid {c.invalid}")  # fmt: skip
    published = sum(c.published for c in r.cameras)
    dropped = sum(max(0, c.published - c.received) for c in r.cameras)
    lines += [
        f"frames dropped: {dropped} of {published} ({100.0 * dropped / max(published, 1):.1f} %)",
        f"latency: n={len(lat)} p50 {percentile(lat, 50):.3f} s, p95 {percentile(lat, 95):.3f} s, "
        f"max {max(lat, default=float('nan')):.3f} s",
        f"asks: {r.asks_ok} succeeded, {r.asks_failed} failed"
        + (f" (e.g. {r.ask_errors[0]!r})" if r.ask_errors else ""),
        f"next_action: {r.actions_valid} valid, {r.actions_fallback} explained fallbacks, "
        f"{len(r.actions_bad)} neither" + (f" (e.g. {r.actions_bad[0]})" if r.actions_bad else ""),
    ]
    lines += [f"VERDICT {v.name}: {'PASS' if v.passed else 'FAIL'} ({v.detail})"
              for v in r.verdicts]  # fmt: skip
    lines += [f"node log: {line}" for line in r.node_log_tail]
    lines.append(f"soak: {'PASS' if r.passed else 'FAIL'}")
    return lines


def _use_large_image_profile() -> None:
    """Give this process and the node the shared-memory profile the README recommends for raw
    images (set before rclpy starts; the child inherits it)."""
    profile = Path(__file__).resolve().parents[2] / "config" / "fastdds_large_images.xml"
    for prefix in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep):
        if profile.is_file():
            break
        profile = Path(prefix) / "share" / "cosmos_reason_ros" / "config" / profile.name
    if profile.is_file():
        for var in ("FASTDDS_DEFAULT_PROFILES_FILE", "FASTRTPS_DEFAULT_PROFILES_FILE"):
            os.environ.setdefault(var, str(profile))
        print(f"soak: Fast DDS profile {os.environ['FASTDDS_DEFAULT_PROFILES_FILE']}", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m cosmos_reason_ros.bench.soak``: run, print the report, 1 if a target missed."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for f in dataclasses.fields(SoakSettings):  # one option per setting: --rate-hz, --model-dir
        default = f.default if f.name != "domain_id" else SoakSettings().domain_id
        kind = str if f.name == "model_dir" else float if f.name == "warmup_s" else type(default)
        p.add_argument("--" + f.name.replace("_", "-"), type=kind, default=default)
    p.add_argument("--log-dir", type=Path, default=None, help="keep the node's log here")
    p.add_argument(
        "--default-dds",
        action="store_true",
        help="keep Fast DDS's default transports instead of config/fastdds_large_images.xml",
    )
    a = vars(p.parse_args(argv))
    log_dir = a.pop("log_dir")
    if not a.pop("default_dds"):
        _use_large_image_profile()
    settings = SoakSettings(**a)
    if min(settings.minutes, settings.rate_hz, settings.ask_period_s) <= 0:
        p.error("--minutes, --rate-hz and --ask-period-s must be > 0")
    try:
        report = run_soak(settings, log_dir)
    except RuntimeError as exc:
        print(f"soak: FAIL ({exc})", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # run_soak has stopped the node on its way out
        print("soak: interrupted", file=sys.stderr)
        return 130
    for line in format_report(report):
        print(line, flush=True)
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
