"""``cosmos-reason-eval``: the command line of ``tools.evaluate``.

    cosmos-reason-eval /tmp/ball --model nvidia/Cosmos-Reason1-7B --questions q.txt \\
        --labels /tmp/ball.labels.yaml --decision-period-s 2 --out /tmp/eval
    cosmos-reason-eval /tmp/fall --model nvidia/Cosmos-Reason1-7B \\
        --labels /tmp/fall.labels.yaml --alerts-from-labels --out /tmp/eval-alerts

Options named after a node parameter are that parameter (``config.SPEC_BY_NAME``); one not
given keeps the node's default, except ``--seed`` (0 here, so runs repeat). ``--every`` is the
old name of ``--decision-period-s``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import yaml

from cosmos_reason_ros.config import FALLBACK_RULE
from cosmos_reason_ros.core.errors import ConfigError, CosmosReasonError, InputError
from cosmos_reason_ros.exits import ExitCode, exit_epilog
from cosmos_reason_ros.tools.alert_scoring import ALERT_RULE, RuleScore
from cosmos_reason_ros.tools.evaluate import EvalError, EvalSummary, evaluate
from cosmos_reason_ros.tools.options import (
    HelpFormatter,
    add_action_options,
    add_alert_option,
    add_param_options,
    add_progress_option,
    alert_values,
    in_option_names,
    param_values,
    parse_sets,
    silence_progress_bars,
    split_list,
    stop_signals_as_interrupt,
)
from cosmos_reason_ros.tools.report import PHASE_RULE

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


_MODEL_PARAMS = ("backend", "device", "max_new_tokens", "max_thinking_s", "seed")
PARAMS = ("decision_period_s", "actions", "fallback_action", "alert_period_s", *_MODEL_PARAMS)
"""The node parameters this tool has an option for (besides ``--model`` and ``--set``)."""
_EXITS = {
    ExitCode.OK: None,
    ExitCode.FAILED: "the backend failed",
    ExitCode.INPUT: None,
    ExitCode.INTERRUPTED: "Ctrl-C or SIGTERM (the outputs then hold the decisions made so far)",
}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="cosmos-reason-eval",
        description="Run the reasoning engine over a bag offline and write decisions.jsonl, "
        "summary.json and report.html. The bag, labels, questions and settings are checked "
        "before the model loads.",
        epilog=f"Scoring: {PHASE_RULE}; before the event an unexpected action is a false alarm, "
        f"after it a miss. Alert rules: {ALERT_RULE}. Fallback rule: {FALLBACK_RULE}. "
        f"{exit_epilog(_EXITS)}",
        formatter_class=HelpFormatter,
    )
    p.add_argument(
        "bag",
        type=Path,
        help="rosbag2 directory (or a file in it, or OUT.mcap), bare .mcap file or ROS 1 .bag",
    )
    add_param_options(p, ["model"], required=["model"])
    p.add_argument(
        "--questions",
        type=Path,
        help="file: one question per line, or a YAML list (default: the node's question)",
    )
    add_param_options(p, ["decision_period_s"], aliases={"decision_period_s": "--every"})
    p.add_argument("--labels", type=Path, help="labels YAML (from cosmos-reason-scenario)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument(
        "--topics", default="", help="comma-separated image topics (default: every image topic)"
    )
    add_action_options(p)
    add_alert_option(p, "; --set alerts.<name>.<key>=VALUE sets its other keys")
    p.add_argument(
        "--alerts-from-labels",
        action="store_true",
        help="judge the alert rules the labels name, with their conditions (unless --alert "
        "or --set alerts=... names rules)",
    )
    add_param_options(p, ["alert_period_s"])
    add_param_options(p, _MODEL_PARAMS, defaults={"seed": 0})
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="any node parameter, value parsed as YAML (repeatable)",
    )
    add_progress_option(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Console script ``cosmos-reason-eval``. Returns the exit status (``tools.exits``)."""
    args = _parser().parse_args(argv)
    try:
        if args.no_progress:
            silence_progress_bars()
        params = {
            **param_values(args, PARAMS),
            **alert_values(args.alert),
            **parse_sets(args.set),
        }
        questions = load_questions(args.questions) if args.questions else ()
        with stop_signals_as_interrupt():
            summary = evaluate(
                args.bag,
                model=args.model,
                out_dir=args.out,
                questions=questions,
                labels=args.labels,
                topics=split_list(args.topics) or None,
                params=params,
                progress=not args.no_progress,
                alerts_from_labels=args.alerts_from_labels,
            )
    except KeyboardInterrupt:
        print(
            f"cosmos-reason-eval: interrupted; outputs of the decisions made so far in {args.out}",
            file=sys.stderr,
        )
        return ExitCode.INTERRUPTED
    except (EvalError, ConfigError, InputError) as err:
        print(f"cosmos-reason-eval: error: {in_option_names(str(err))}", file=sys.stderr)
        return ExitCode.INPUT
    except CosmosReasonError as err:  # the backend failed to load or to run
        print(f"cosmos-reason-eval: error: {err}", file=sys.stderr)
        return ExitCode.FAILED
    print(_result_line(summary))
    for score in summary.alerts:
        print(_alert_line(score))
    return ExitCode.OK


def _result_line(summary: EvalSummary) -> str:
    def rate(part: int, whole: int) -> str:
        return f"{part}/{whole}" if whole else "n/a"

    accuracy = "n/a" if summary.accuracy is None else f"{summary.accuracy:.2f}"
    return (
        f"{summary.decisions} decisions, valid {summary.valid} "
        f"({summary.validity_rate:.0%}), latency p50 {summary.latency_p50_s:.2f} s "
        f"p95 {summary.latency_p95_s:.2f} s, accuracy {accuracy} (false alarms "
        f"{rate(summary.false_alarms, summary.scored_before)} before the event, misses "
        f"{rate(summary.misses, summary.scored_after)} after it); wrote {summary.run.out_dir}"
    )


def _alert_line(score: RuleScore) -> str:
    def shown(value: float | None, form: str, unit: str = "") -> str:
        return "n/a" if value is None else format(value, form) + unit

    if not score.labelled:
        return (
            f"alert {score.rule}: raised {score.raises} in {score.judgments} judgments "
            "(not in the labels: not scored)"
        )
    return (
        f"alert {score.rule}: precision {shown(score.precision, '.2f')}, recall "
        f"{shown(score.recall, '.2f')} ({score.detected}/{score.events} events), mean delay "
        f"{shown(score.mean_delay_s, '.2f', ' s')}, false alarms {score.false_alarms} "
        f"({shown(score.false_alarms_per_hour, '.1f')}/h) in {score.judgments} judgments"
    )


if __name__ == "__main__":
    sys.exit(main())
