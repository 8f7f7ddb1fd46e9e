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
from pathlib import Path
from typing import Any

import psutil
import yaml

from cosmos_reason_ros.bench.soak_monitor import NODE, Monitor
from cosmos_reason_ros.bench.soak_report import (
    CAMERAS,
    CameraResult,
    SoakReport,
    SoakSettings,
    Verdict,
    format_report,
)

FAST = {  # short answers from the tiny model (test/ros/harness.py FAST)
    "max_new_tokens": 200,
    "max_thinking_tokens": 4,
    "seed": 0,
    "max_reason_chars": 8,
    "max_target_chars": 4,
    "max_parameters": 0,
}
_MB = 2**20


def _write_params(folder: Path, settings: SoakSettings, model_dir: str) -> Path:
    values = {
        **FAST,
        "model": model_dir,
        "device": "cpu",
        "image_topics": [t for t, _ in CAMERAS],
        "decision_period_s": float(settings.decision_period_s),
    }
    path = folder / "soak_params.yaml"
    path.write_text(yaml.safe_dump({"/**": {"ros__parameters": values}}))
    return path


def _start_node(folder: Path, params: Path, domain_id: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "ROS_DOMAIN_ID": str(domain_id)}
    cmd = [
        sys.executable,
        "-m",
        "cosmos_reason_ros.node",
        "--ros-args",
        "--params-file",
        str(params),
    ]
    # Own session: a Ctrl-C on the soak does not reach the node; the soak stops it itself.
    with (folder / "node.log").open("wb") as log:
        return subprocess.Popen(
            cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )


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
            mon = Monitor(context, settings, allowed, fallback)
            executor.add_node(mon.node)
            threading.Thread(target=executor.spin, daemon=True).start()
            _wait(
                mon.ask_client.service_is_ready,
                settings.startup_timeout_s,
                child,
                f"{NODE}/ask (log: {folder / 'node.log'})",
            )
            _wait(
                lambda: all(p.get_subscription_count() for p in mon.pubs.values()),
                60.0,
                child,
                "the node's camera subscriptions",
            )
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


def _measure(
    settings: SoakSettings, child: subprocess.Popen[bytes], mon: Monitor, startup_s: float
) -> dict[str, Any]:
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
    return {
        "settings": settings,
        "startup_s": startup_s,
        "ran_s": time.monotonic() - start,
        "rss_warmup_mb": statistics.median(after_warmup or at_end or [0.0]),
        "rss_end_mb": statistics.median(at_end or [0.0]),
        "rss_peak_mb": max((r for _, r in samples), default=0.0),
        "threads_end": threads,
        "threads_max": threads_max,
    }


def _finish(
    partial: dict[str, Any], mon: Monitor, alive: bool, exit_code: int | None
) -> SoakReport:
    s: SoakSettings = partial["settings"]
    with mon.lock:
        diag, cams = dict(mon.reasoner), dict(mon.camera_diag)
        cameras = tuple(
            CameraResult(
                t,
                e,
                mon.published[t],
                int(cams.get(t, {}).get("received", 0)),
                int(cams.get(t, {}).get("invalid", 0)),
            )
            for t, e in CAMERAS
        )
        counts = {
            k: int(diag.get(f"decisions_{k}", 0)) for k in ("made", "skipped", "failed", "invalid")
        }
        report = SoakReport(
            **partial,
            decisions_made=counts["made"],
            decisions_skipped=counts["skipped"],
            decisions_failed=counts["failed"],
            decisions_invalid=counts["invalid"],
            cameras=cameras,
            latencies_s=tuple(mon.latencies),
            asks_ok=mon.asks_ok,
            asks_failed=mon.asks_failed,
            ask_errors=tuple(mon.ask_errors[:5]),
            actions_valid=mon.valid,
            actions_fallback=mon.fallbacks,
            actions_bad=tuple(mon.bad),
            alive_at_end=alive,
            exit_code=exit_code,
            verdicts=(),
        )
    growth = report.rss_end_mb - report.rss_warmup_mb
    n_actions = report.actions_valid + report.actions_fallback + len(report.actions_bad)
    verdicts = (
        Verdict(
            "rss_growth",
            growth < s.max_rss_growth_mb,
            f"{growth:+.1f} MB after warm-up (target < {s.max_rss_growth_mb:g} MB)",
        ),
        Verdict(
            "no_crash",
            alive and exit_code == 0,
            f"alive at end: {alive}; exit code after SIGINT: {exit_code}",
        ),
        Verdict(
            "decisions_valid",
            n_actions > 0 and not report.actions_bad,
            f"{n_actions - len(report.actions_bad)} of {n_actions} NextAction valid or an "
            "explained fallback",
        ),
    )
    return dataclasses.replace(report, verdicts=verdicts)


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
