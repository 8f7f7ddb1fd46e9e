"""The node as the soak runs it: ``cosmos_reason_ros.ros.node.main`` plus a probe inside.

``python -m cosmos_reason_ros.bench.soak_node --probe FILE [--tracemalloc] -- --ros-args …``
appends JSON lines to FILE: RSS, the C heap as glibc sees it (``mallinfo2``: bytes in use, free
bytes kept in arenas, mmapped bytes), objects the garbage collector tracks, threads, CUDA memory
where torch has a GPU, and (with ``--tracemalloc``) the traced Python heap. One line every
``--period-s`` seconds (``"event": "tick"``), and one at the end of every decision
(``"event": "decision"``, right after the node's ``release_free_memory``, which this probe
wraps): the same point of the work cycle each time, after the decision's working set was freed
and given back, so a slope through those lines measures what stays, not where the last
decision happened to be. With ``--tracemalloc``
the ticks after ``--warmup-s`` also name the biggest growth since the first of them, by source
line. Then it runs the node exactly as ``reason_node`` does.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import os
import sys
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

import psutil

_MB = 2**20


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def heap_figures() -> dict[str, float]:
    """glibc's heap figures in MB ({} where glibc or mallinfo2 is missing)."""
    try:
        fn = ctypes.CDLL("libc.so.6").mallinfo2
    except (OSError, AttributeError):
        return {}
    fn.restype = _MallInfo2
    info = fn()
    return {
        "heap_in_use_mb": info.uordblks / _MB,
        "heap_free_mb": info.fordblks / _MB,
        "heap_mmap_mb": info.hblkhd / _MB,
        "heap_arena_mb": info.arena / _MB,
    }


def rss_parts() -> dict[str, float]:
    """RSS split as the kernel counts it (MB): anonymous (heaps, stacks), file-backed (code,
    mapped files), shared memory (DDS segments). {} where /proc/self/status has no split."""
    parts = {"RssAnon": "rss_anon_mb", "RssFile": "rss_file_mb", "RssShmem": "rss_shmem_mb"}
    out: dict[str, float] = {}
    try:
        lines = Path("/proc/self/status").read_text().splitlines()
    except OSError:
        return out
    for line in lines:
        key, _, rest = line.partition(":")
        if key in parts:
            out[parts[key]] = int(rest.split()[0]) / 1024.0
    return out


def _cuda_mb() -> float | None:
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available() or not torch.cuda.is_initialized():
        return None
    return float(torch.cuda.memory_allocated()) / _MB


def sample(proc: psutil.Process, start: float) -> dict[str, Any]:
    """One probe line."""
    row: dict[str, Any] = {
        "t": time.monotonic() - start,
        "rss_mb": proc.memory_info().rss / _MB,
        **rss_parts(),
        "threads": threading.active_count(),
        "os_threads": proc.num_threads(),
        "gc_objects": len(gc.get_objects()),
        **heap_figures(),
    }
    if tracemalloc.is_tracing():
        row["py_traced_mb"] = tracemalloc.get_traced_memory()[0] / _MB
    cuda = _cuda_mb()
    if cuda is not None:
        row["cuda_mb"] = cuda
    return row


def _top_growth(first: tracemalloc.Snapshot, last: tracemalloc.Snapshot, n: int) -> list[str]:
    stats = last.compare_to(first, "lineno")
    return [str(s) for s in sorted(stats, key=lambda s: -s.size_diff)[:n]]


class _Probe:
    """Writes probe lines, from any thread."""

    def __init__(self, path: Path) -> None:
        self._out = path.open("a", encoding="utf-8")
        self._write_lock = threading.Lock()
        self._proc = psutil.Process()
        self._start = time.monotonic()

    def write(self, event: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        row = {"event": event, **sample(self._proc, self._start), **(extra or {})}
        with self._write_lock:
            self._out.write(json.dumps(row) + "\n")
            self._out.flush()
        return row

    def run(self, period_s: float, warmup_s: float, stop: threading.Event) -> None:
        first: tracemalloc.Snapshot | None = None
        while not stop.wait(period_s):
            extra: dict[str, Any] = {}
            if tracemalloc.is_tracing() and time.monotonic() - self._start >= warmup_s:
                snap = tracemalloc.take_snapshot()
                if first is None:
                    first = snap
                else:
                    extra["py_growth"] = _top_growth(first, snap, 12)
            self.write("tick", extra)


def _sample_after_each_decision(probe: _Probe) -> None:
    """Wrap the node's ``release_free_memory`` (called once at the end of every decision) so
    that a ``decision`` line follows it. Measurement only: the call itself is unchanged."""
    from cosmos_reason_ros.ros import decisions

    release = getattr(decisions, "release_free_memory")  # noqa: B009

    def release_then_sample() -> None:
        release()
        probe.write("decision")

    setattr(decisions, "release_free_memory", release_then_sample)  # noqa: B010


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    ros_args = args[args.index("--") + 1 :] if "--" in args else []
    own = args[: args.index("--")] if "--" in args else args
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--probe", type=Path, required=True, help="append JSON lines here")
    p.add_argument("--period-s", type=float, default=5.0)
    p.add_argument("--warmup-s", type=float, default=60.0)
    p.add_argument("--tracemalloc", action="store_true", help="trace the Python heap (slower)")
    a = p.parse_args(own)
    if a.tracemalloc:
        tracemalloc.start(1)
    stop = threading.Event()
    probe = _Probe(a.probe)
    _sample_after_each_decision(probe)
    threading.Thread(target=probe.run, args=(a.period_s, a.warmup_s, stop), daemon=True).start()
    from cosmos_reason_ros.ros.node import main as node_main

    try:
        return node_main([sys.argv[0], *ros_args])
    finally:
        stop.set()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
