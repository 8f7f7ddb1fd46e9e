"""``make bench``: what the node's hot paths cost, measured side by side against a peer.

``python -m cosmos_reason_ros.bench [--quick] [--out results/bench.json]`` prints one table
and writes the JSON. Figures 1-3 (``bench.ingest``): the camera path; figure 4
(``bench.decision``): a decision on the tiny model, part by part; figures 5 (``bench.gpu``:
eager and compiled decoding against the floor) and 6 (``bench.gpu_decisions``: decision
latency with one and two cameras, our overhead against bare ``generate``, 4-bit against bf16)
on a random-weight model of the Cosmos-Reason1-7B shape on CUDA, skipped with the reason where
there is none.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

from cosmos_reason_ros.bench.decision import QUICK_FRAME_SIZE, bench_decision
from cosmos_reason_ros.bench.figures import render_table
from cosmos_reason_ros.bench.gpu import model_figures
from cosmos_reason_ros.bench.gpu_decisions import decision_figures
from cosmos_reason_ros.bench.ingest import HEIGHT, WIDTH, bench_ingest
from cosmos_reason_ros.exits import ExitCode, exit_epilog


def main(argv: list[str] | None = None) -> int:
    """Run every figure, print the table and write the JSON. Returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m cosmos_reason_ros.bench",
        description="Measure the node's hot paths; print a table and write JSON.",
        epilog=exit_epilog({ExitCode.OK: None, ExitCode.INPUT: "bad options"}),
    )
    parser.add_argument("--quick", action="store_true", help="few iterations (smoke test)")
    parser.add_argument("--out", type=Path, default=Path("results/bench.json"), help="JSON path")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    started = time.time()
    figures = bench_ingest(*((8, 1) if args.quick else (120, 7)))
    figures += bench_decision(*((1, QUICK_FRAME_SIZE) if args.quick else (5, (WIDTH, HEIGHT))))
    figures += model_figures(args.quick)
    figures += decision_figures(args.quick)
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
    return ExitCode.OK


if __name__ == "__main__":
    raise SystemExit(main())
