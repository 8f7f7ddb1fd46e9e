"""``cosmos-reason-eval``: the command line of ``tools.evaluate``.

    cosmos-reason-eval /tmp/ball --model nvidia/Cosmos-Reason1-7B --questions q.txt \\
        --labels /tmp/ball.labels.yaml --every 2 --out /tmp/eval
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from cosmos_reason_ros.core.errors import CosmosReasonError
from cosmos_reason_ros.tools.evaluate import EvalError, evaluate

__all__ = ["load_questions", "main"]


def load_questions(path: str | Path) -> tuple[str, ...]:
    """Questions from a file: a YAML list of strings, or else one question per line.

    Blank lines and lines starting with ``#`` are ignored in the line format.

    Raises:
        EvalError: The file cannot be read or holds no question.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise EvalError(f"cannot read questions {path}: {err}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        data = None
    if isinstance(data, list) and data and all(isinstance(q, str) for q in data):
        questions = tuple(q.strip() for q in data if q.strip())
    else:
        lines = (ln.strip() for ln in text.splitlines())
        questions = tuple(ln for ln in lines if ln and not ln.startswith("#"))
    if not questions:
        raise EvalError(f"no questions in {path}")
    return questions


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="cosmos-reason-eval",
        description="Run the reasoning engine over a bag offline and write decisions.jsonl, "
        "summary.json and report.html.",
    )
    p.add_argument("bag", type=Path, help="rosbag2 directory (or a file in it, or OUT.mcap)")
    p.add_argument("--model", required=True, help="hub id or local checkpoint folder")
    p.add_argument("--questions", type=Path, help="file: one question per line, or YAML list")
    p.add_argument(
        "--every", type=float, default=2.0, metavar="S", help="bag seconds between decision times"
    )
    p.add_argument("--labels", type=Path, help="labels YAML (from cosmos-reason-scenario)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--topics", nargs="+", help="image topics (default: all image topics)")
    p.add_argument("--actions", nargs="+", help="allowed actions ('name' or 'name: text')")
    p.add_argument("--fallback", help="fallback action")
    p.add_argument("--backend", default="transformers")
    p.add_argument("--device", default="auto")
    p.add_argument("--max-new-tokens", type=int)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="any node parameter, value parsed as YAML (repeatable)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Console script ``cosmos-reason-eval``. Returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        params = _parse_sets(args.set)
        questions = load_questions(args.questions) if args.questions else ()
        summary = evaluate(
            args.bag,
            model=args.model,
            out_dir=args.out,
            questions=questions,
            every_s=args.every,
            labels=args.labels,
            topics=args.topics,
            actions=args.actions,
            fallback=args.fallback,
            backend=args.backend,
            device=args.device,
            max_new_tokens=args.max_new_tokens,
            seed=args.seed,
            params=params,
            progress=not args.no_progress,
        )
    except CosmosReasonError as err:
        print(f"cosmos-reason-eval: error: {err}", file=sys.stderr)
        return 1
    accuracy = "n/a" if summary.accuracy is None else f"{summary.accuracy:.2f}"
    print(
        f"{summary.decisions} decisions, valid {summary.valid} "
        f"({summary.validity_rate:.0%}), latency p50 {summary.latency_p50_s:.2f} s "
        f"p95 {summary.latency_p95_s:.2f} s, accuracy {accuracy}; wrote {summary.out_dir}"
    )
    return 0


def _parse_sets(items: Sequence[str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise EvalError(f"--set takes NAME=VALUE, got {item!r}")
        try:
            params[name.strip()] = yaml.safe_load(value)
        except yaml.YAMLError as err:
            raise EvalError(f"--set {name}: cannot parse {value!r}: {err}") from None
    return params


if __name__ == "__main__":
    sys.exit(main())
