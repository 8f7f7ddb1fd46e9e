"""Soak test: the ``cosmos_reason`` node under sustained camera load, measured from outside.

What runs: the node in a child process (``bench/soak_node.py``: ``reason_node`` with a memory
probe inside) on the tiny model, CPU, in its own ROS domain, at the node's default settings
(token budgets 1024/512, sampling, ``decision_period_s`` 2, window 4 s at 4 fps); only the
model, the device and the four image topics are set. ``--fast`` switches to short answers (200
new tokens, thinking 4) for tests and quick looks. This process publishes four cameras at
30 Hz, 1280x720 (two raw ``rgb8``/``bgr8``, two JPEG), pre-encoded once and only re-stamped,
asks ``~/ask`` every few seconds (one ask in flight at a time), and listens to
``~/next_action``, ``~/reasoning`` and ``/diagnostics``.

What it prints (and writes as JSON, ``--out``), after a warm-up (20 % of the run, at most
60 s): RSS over time as the floor of each 30 s window with the fitted slope in MB per 10 min
and a plateau test (``soak_figures``); the node's heap as glibc and the collector see it;
per camera the share of the window's 4 fps slots that got a frame (from the node's ``kept``
counter and clock); the newest frame's age when each decision's inference started; latency
p50/p95/max of periodic decisions and of asks (and the asks' round trip with the queue wait);
the machine's load average and the CPU the node and the soak used. Verdicts (issue 16): RSS
slope < 5 MB/10 min, slots filled >= 95 % for every camera, newest-frame age p95 <= 0.25 s,
p95 <= 2 x p50 for each trigger, every ask answered, no crash, every NextAction valid or an
explained fallback. Exit status 1 when one fails.

Example::

    make soak MINUTES=10
    python -m cosmos_reason_ros.bench.soak --minutes 1 --fast --out /tmp/soak.json
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import signal
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
    SoakReport,
    SoakSettings,
    format_report,
    judge,
    write_json,
)
from cosmos_reason_ros.bench.soak_results import build_report, probe_rows
from cosmos_reason_ros.config import SPEC_BY_NAME
from cosmos_reason_ros.exits import ExitCode, exit_epilog
from cosmos_reason_ros.tools.options import add_param_options, param_values

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
        **(FAST if settings.fast else {}),
        "model": model_dir,
        "device": "cpu",
        "image_topics": [t for t, _ in CAMERAS],
        "decision_period_s": float(settings.decision_period_s),
    }
    path = folder / "soak_params.yaml"
    path.write_text(yaml.safe_dump({"/**": {"ros__parameters": values}}))
    return path


def _sample_fps(params: Path) -> float:
    """The window's sampling rate the node runs at (``sample_fps`` -1 = the model family's)."""
    from cosmos_reason_ros.config import build_config

    values = yaml.safe_load(params.read_text())["/**"]["ros__parameters"]
    return float(build_config(values).window.sample_fps)


def _start_node(
    folder: Path, params: Path, domain_id: int, tracemalloc: bool
) -> subprocess.Popen[bytes]:
    env = {**os.environ, "ROS_DOMAIN_ID": str(domain_id)}
    cmd = [
        sys.executable,
        *(
            os.environ.get("SOAK_NODE_EXTRA", "").split()
            or ["-m", "cosmos_reason_ros.bench.soak_node"]
        ),
    ]  # XXX
    cmd += ["--probe", str(folder / "probe.jsonl"), *(["--tracemalloc"] if tracemalloc else [])]
    cmd += ["--", "--ros-args", "--params-file", str(params)]
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


def run_soak(
    settings: SoakSettings, log_dir: Path | None = None, tracemalloc: bool = False
) -> SoakReport:
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
        params = _write_params(folder, settings, model_dir)
        child = _start_node(folder, params, settings.domain_id, tracemalloc)
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
            measured = _publish_and_measure(settings, child, mon, stop)
            measured["sample_fps"] = _sample_fps(params)
            # One more /diagnostics with the final counts; shorter than max_frame_age_s, so
            # no periodic decision fails for want of frames the soak stopped sending.
            time.sleep(1.5)
            alive = child.poll() is None
            exit_code = _stop_node(child)
            report = build_report(
                settings,
                startup_s=startup_s,
                m=measured,
                mon=mon,
                probe=probe_rows(folder / "probe.jsonl", startup_s),
                alive=alive,
                exit_code=exit_code,
            )
            tail = () if alive and exit_code == 0 else _log_tail(folder)
            report = dataclasses.replace(report, node_log_tail=tail)
            return dataclasses.replace(report, verdicts=judge(report))
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}; node log tail:\n" + "\n".join(_log_tail(folder))) from exc
        finally:
            stop.set()
            _stop_node(child, 10.0)
            executor.shutdown(timeout_sec=5.0)
            rclpy.shutdown(context=context)


def _publish_and_measure(
    settings: SoakSettings, child: subprocess.Popen[bytes], mon: Monitor, stop: threading.Event
) -> dict[str, Any]:
    publisher = threading.Thread(target=mon.publish_loop, args=(stop,), daemon=True)
    publisher.start()
    measured = _measure(settings, child, mon)
    mon.wait_ask(120.0)  # while frames still flow, so the answer is not a stale-fallback
    stop.set()
    publisher.join(10.0)
    measured["publish_end"] = time.monotonic()
    return measured


def _cpu_s(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return float(times.user + times.system)


def _measure(
    settings: SoakSettings, child: subprocess.Popen[bytes], mon: Monitor
) -> dict[str, Any]:
    """The timed part: RSS and threads once a second, asks on schedule, a crash noticed."""
    node, me = psutil.Process(child.pid), psutil.Process()
    start = time.monotonic()
    warmup_at, end_at = start + settings.effective_warmup_s, start + settings.duration_s
    samples: list[tuple[float, float]] = []  # (s since start, rss MB)
    threads = threads_max = 0
    cpu_at_warmup: tuple[float, float, float] | None = None
    cpu_end = (start, 0.0, 0.0)
    load_start = os.getloadavg()[0]
    next_ask = start + min(settings.ask_period_s, 1.0)
    while (now := time.monotonic()) < end_at and child.poll() is None:
        try:
            samples.append((now - start, node.memory_info().rss / _MB))
            threads = node.num_threads()
            if cpu_at_warmup is None and now >= warmup_at:
                cpu_at_warmup = (now, _cpu_s(node), _cpu_s(me))
            cpu_end = (now, _cpu_s(node), _cpu_s(me))
        except psutil.NoSuchProcess:
            break
        threads_max = max(threads_max, threads)
        if now >= next_ask:
            mon.ask()
            next_ask += settings.ask_period_s
        time.sleep(max(0.0, min(1.0 - (time.monotonic() - now), end_at - time.monotonic())))
    first = cpu_at_warmup or (start, 0.0, 0.0)
    span = max(cpu_end[0] - first[0], 1e-9) if samples else 1e-9
    return {
        "start": start,
        "ran_s": time.monotonic() - start,
        "samples": tuple(samples),
        "threads_end": threads,
        "threads_max": threads_max,
        "cpu_node": (cpu_end[1] - first[1]) / span if samples else 0.0,
        "cpu_soak": (cpu_end[2] - first[2]) / span if samples else 0.0,
        "load_average": (load_start, os.getloadavg()[0]),
    }


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


_NODE_PARAMS = ("decision_period_s",)
"""Soak settings that are node parameters: their options and defaults come from the table."""


def _parser() -> argparse.ArgumentParser:
    """One option per ``SoakSettings`` field; those that are node parameters from the table."""
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=exit_epilog(
            {
                ExitCode.OK: "every target met",
                ExitCode.FAILED: "a target missed, or the node did not start",
                ExitCode.INPUT: None,
                ExitCode.INTERRUPTED: None,
            }
        ),
    )
    for f in dataclasses.fields(SoakSettings):  # one option per setting: --rate-hz, --model-dir
        if f.name in _NODE_PARAMS:
            continue
        default = f.default if f.name != "domain_id" else SoakSettings().domain_id
        flag = "--" + f.name.replace("_", "-")
        if isinstance(default, bool):
            p.add_argument(flag, action="store_true")
            continue
        kind = str if f.name == "model_dir" else float if f.name == "warmup_s" else type(default)
        p.add_argument(flag, type=kind, default=default)
    add_param_options(p, _NODE_PARAMS)
    p.add_argument("--log-dir", type=Path, default=None, help="keep the node's log here")
    p.add_argument("--out", type=Path, default=Path("results/soak.json"), help="JSON report")
    p.add_argument("--tracemalloc", action="store_true", help="trace the node's Python heap")
    p.add_argument(
        "--default-dds",
        action="store_true",
        help="keep Fast DDS's default transports instead of config/fastdds_large_images.xml",
    )
    return p


def settings_of(args: argparse.Namespace) -> SoakSettings:
    """The ``SoakSettings`` of parsed options; a node parameter not given: the node's default."""
    fields = (f.name for f in dataclasses.fields(SoakSettings) if f.name not in _NODE_PARAMS)
    node = {n: SPEC_BY_NAME[n].default for n in _NODE_PARAMS} | param_values(args, _NODE_PARAMS)
    return SoakSettings(**{name: getattr(args, name) for name in fields}, **node)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m cosmos_reason_ros.bench.soak``: run, print the report, 1 if a target missed."""
    p = _parser()
    args = p.parse_args(argv)
    if not args.default_dds:
        _use_large_image_profile()
    settings = settings_of(args)
    if min(settings.minutes, settings.rate_hz, settings.ask_period_s) <= 0:
        p.error("--minutes, --rate-hz and --ask-period-s must be > 0")
    try:
        report = run_soak(settings, args.log_dir, args.tracemalloc)
    except RuntimeError as exc:
        print(f"soak: FAIL ({exc})", file=sys.stderr)
        return ExitCode.FAILED
    except KeyboardInterrupt:  # run_soak has stopped the node on its way out
        print("soak: interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED
    for line in format_report(report):
        print(line, flush=True)
    write_json(report, args.out)
    print(f"soak: wrote {args.out}", flush=True)
    return ExitCode.OK if report.passed else ExitCode.FAILED


if __name__ == "__main__":
    sys.exit(main())
