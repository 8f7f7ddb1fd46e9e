"""``cosmos-reason-watch``: print the node's decisions, alerts or ``/diagnostics`` as they come.

    cosmos-reason-watch                      # ~/next_action with its ~/reasoning, one line each
    cosmos-reason-watch --thinking --json    # one JSON object per decision, thinking included
    cosmos-reason-watch --alerts             # ~/alerts: each RAISED and CLEARED, labelled
    cosmos-reason-watch --diagnostics        # the node's statuses on /diagnostics

What ``ros2 topic echo`` would show, where ``ros2`` is not installed, paired and readable: a
decision is printed when its ``Reasoning`` (same ``decision_id``) arrived, or a second after its
``NextAction`` alone. Its keys are the message fields (``tools.message_dicts``); ``--thinking``
adds the thinking, answer and raw text. ``--alerts`` subscribes as a late-joining monitor
(reliable, transient local): the node's recent alerts come first, then each as it is published.
When nothing publishes what it watches after ``--notice`` seconds, it says so on stderr, with
the domain id and the nodes it sees (the classic ``ROS_DOMAIN_ID`` mismatch), and keeps
waiting. Ctrl-C ends it (exit 0); ``--count`` and ``--timeout`` end it too (exit 3 when
nothing arrived, with what the graph shows; ``tools.exits``).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from typing import Any

from cosmos_reason_ros.exits import ExitCode, exit_epilog
from cosmos_reason_ros.tools.message_dicts import decision_dict, stamp_text
from cosmos_reason_ros.tools.options import HelpFormatter

PAIR_WAIT_S = 1.0  # a NextAction waits this long for its Reasoning before it is printed alone
NOTICE_S = 5.0
"""Default seconds without a publisher of the watched topics before saying so (``--notice``)."""
LEVELS = {0: "OK", 1: "WARN", 2: "ERROR", 3: "STALE"}
_EXITS = {
    ExitCode.OK: "stopped by Ctrl-C, --count or --timeout after something arrived",
    ExitCode.INPUT: "bad options",
    ExitCode.NO_NODE: "nothing arrived within --timeout",
}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="cosmos-reason-watch",
        description=__doc__.split("\n\n", 1)[1],
        epilog=exit_epilog(_EXITS),
        formatter_class=HelpFormatter,
    )
    p.add_argument("--node", default="/cosmos_reason", help="fully qualified node name")
    watched = p.add_mutually_exclusive_group()
    watched.add_argument("--diagnostics", action="store_true", help="watch /diagnostics instead")
    watched.add_argument(
        "--alerts",
        action="store_true",
        help="watch ~/alerts instead (recent ones first: the topic is transient local)",
    )
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument(
        "--thinking", action="store_true", help="include the thinking, answer and raw text"
    )
    p.add_argument("--all", action="store_true", help="--diagnostics: every node's statuses")
    p.add_argument("--count", type=int, default=0, help="stop after N items (0: never)")
    p.add_argument("--timeout", type=float, default=0.0, help="stop after S seconds (0: never)")
    p.add_argument(
        "--notice",
        type=float,
        default=NOTICE_S,
        metavar="S",
        help="say on stderr when nothing publishes the watched topics after S seconds, "
        "then keep waiting (0: never)",
    )
    return p


def decision_line(d: dict[str, Any]) -> str:
    """One readable line (two with the thinking) for ``decision_dict``'s output, each value
    after its name: ``decision 3  stamp ...  action stop (valid)  confidence 0.80  ...``."""
    parts = [
        f"decision {d['decision_id']}",
        f"stamp {d['stamp']}",
        f"action {d['action']} ({'valid' if d['valid'] else 'INVALID'})",
    ]
    if d["confidence"] is not None:
        parts.append(f"confidence {d['confidence']:.2f}")
    if d["target"]:
        parts.append(f"target {d['target']!r}")
    if d["parameters"]:
        parts.append("parameters " + ", ".join(f"{k}={v}" for k, v in d["parameters"].items()))
    parts.append(f"reason {d['reason']!r}")
    if "latency_s" in d:
        parts.append(f"latency {d['latency_s']:.2f} s")
    parts.append(f"frames {d['frame_count']}")
    text = "  ".join(parts)
    if d.get("thinking"):
        text += "\n    thinking: " + " ".join(str(d["thinking"]).split())
    return text


ALERT_STATES = {1: "RAISED", 2: "CLEARED"}


def alert_dict(msg: Any) -> dict[str, Any]:
    """An ``Alert`` as a JSON-ready dict (its fields; ``state`` by name)."""
    state = int(msg.state)
    return {
        "alert_id": int(msg.alert_id),
        "rule": msg.rule,
        "state": ALERT_STATES.get(state, str(state)),
        "severity": msg.severity,
        "stamp": stamp_text(msg.header.stamp),
        "frame_id": msg.header.frame_id,
        "confidence": None if math.isnan(msg.confidence) else round(float(msg.confidence), 4),
        "evidence": msg.evidence,
        "window_start": stamp_text(msg.window_start),
        "cameras": list(msg.cameras),
        "decision_id": int(msg.decision_id),
    }


def alert_line(d: dict[str, Any]) -> str:
    """One readable line: ``alert 3  RAISED  fall  severity warning  stamp ...  ...``."""
    parts = [
        f"alert {d['alert_id']}",
        f"{d['state']:<7}",
        d["rule"],
        f"severity {d['severity']}",
        f"stamp {d['stamp']}",
    ]
    if d["confidence"] is not None:
        parts.append(f"confidence {d['confidence']:.2f}")
    parts.append(f"evidence {d['evidence']!r}")
    parts.append(f"cameras {', '.join(d['cameras']) or '-'}")
    parts.append(f"decision {d['decision_id']}")
    return "  ".join(parts)


def status_dict(status: Any, stamp: Any) -> dict[str, Any]:
    """A DiagnosticStatus as a JSON-ready dict."""
    level = status.level[0] if isinstance(status.level, bytes) else int(status.level)
    return {
        "stamp": stamp_text(stamp),
        "name": status.name,
        "level": LEVELS.get(level, str(level)),
        "message": status.message,
        "values": {kv.key: kv.value for kv in status.values},
    }


def status_line(d: dict[str, Any]) -> str:
    """``[WARN ] name: message  values: key=value, ...`` (empty values left out)."""
    values = ", ".join(f"{k}={v}" for k, v in d["values"].items() if v != "")
    text = f"[{d['level']:<5}] {d['name']}: {d['message']}"
    return text + (f"  values: {values}" if values else "")


class _Printer:
    """Collects messages from the subscriptions and prints them (one executor thread)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.printed = 0
        self.actions: dict[int, tuple[float, Any]] = {}
        self.reasonings: dict[int, Any] = {}

    def emit(self, item: dict[str, Any], line: str) -> None:
        if self.args.count and self.printed >= self.args.count:
            return
        print(json.dumps(item, ensure_ascii=False) if self.args.json else line, flush=True)
        self.printed += 1

    def on_action(self, msg: Any) -> None:
        self.actions[msg.decision_id] = (time.monotonic(), msg)
        self._pair(msg.decision_id)

    def on_reasoning(self, msg: Any) -> None:
        self.reasonings[msg.decision_id] = msg
        self._pair(msg.decision_id)
        while len(self.reasonings) > 100:  # a Reasoning whose NextAction never came
            self.reasonings.pop(next(iter(self.reasonings)))

    def flush(self) -> None:
        """Print NextActions whose Reasoning did not come within ``PAIR_WAIT_S``."""
        now = time.monotonic()
        for decision_id, (arrived, _msg) in list(self.actions.items()):
            if now - arrived >= PAIR_WAIT_S:
                self._print_decision(decision_id, None)

    def _pair(self, decision_id: int) -> None:
        if decision_id in self.actions and decision_id in self.reasonings:
            self._print_decision(decision_id, self.reasonings.pop(decision_id))

    def _print_decision(self, decision_id: int, reasoning: Any | None) -> None:
        _arrived, action = self.actions.pop(decision_id)
        item = decision_dict(action, reasoning, text=self.args.thinking)
        self.emit(item, decision_line(item))

    def on_alert(self, msg: Any) -> None:
        item = alert_dict(msg)
        self.emit(item, alert_line(item))

    def on_diagnostics(self, msg: Any) -> None:
        prefix = self.args.node.strip("/").rsplit("/", 1)[-1] + ":"
        for status in msg.status:
            if self.args.all or status.name.startswith(prefix):
                item = status_dict(status, msg.header.stamp)
                self.emit(item, status_line(item))

    def done(self) -> bool:
        return bool(self.args.count) and self.printed >= self.args.count


def main(argv: list[str] | None = None) -> int:
    """Console script ``cosmos-reason-watch``. Returns the exit status (module docstring)."""
    args = _parser().parse_args(argv)
    if args.count < 0 or args.timeout < 0 or args.notice < 0:
        print(
            "cosmos-reason-watch: error: --count, --timeout and --notice must be >= 0",
            file=sys.stderr,
        )
        return ExitCode.INPUT
    from diagnostic_msgs.msg import DiagnosticArray

    from cosmos_reason_ros.msg import NextAction, Reasoning
    from cosmos_reason_ros.tools import ros_session

    printer = _Printer(args)
    with ros_session.session("cosmos_reason_watch") as s:
        if args.diagnostics:
            topics = ["/diagnostics"]
            s.node.create_subscription(DiagnosticArray, topics[0], printer.on_diagnostics, 20)
        elif args.alerts:
            from cosmos_reason_ros.msg import Alert
            from cosmos_reason_ros.ros.alerts import ALERTS_QOS

            topics = [ros_session.qualified(args.node, "alerts")]
            s.node.create_subscription(Alert, topics[0], printer.on_alert, ALERTS_QOS)
        else:
            topics = [ros_session.qualified(args.node, n) for n in ("next_action", "reasoning")]
            s.node.create_subscription(NextAction, topics[0], printer.on_action, 20)
            s.node.create_subscription(Reasoning, topics[1], printer.on_reasoning, 20)
            s.node.create_timer(0.2, printer.flush)
        notice = _Notice(s, topics, args.notice)
        s.node.create_timer(0.5, notice.check)
        s.spin_until(printer.done, args.timeout or None)
        if printer.printed or s.stop.is_set() or not args.timeout:
            return ExitCode.OK
        publishers = {t: s.node.count_publishers(t) for t in topics}
        clue = "" if any(publishers.values()) else f"; {ros_session.graph_clue(s.node)}"
        print(
            f"cosmos-reason-watch: nothing within {args.timeout:g} s; publishers: "
            + ", ".join(f"{t}: {n}" for t, n in publishers.items())
            + clue,
            file=sys.stderr,
        )
        return ExitCode.NO_NODE


class _Notice:
    """Says once on stderr when nothing publishes the watched topics after ``after_s``
    seconds (``ros_session.graph_clue``: the domain id and the nodes seen), and once more
    when a publisher appears after that."""

    def __init__(self, s: Any, topics: list[str], after_s: float) -> None:
        self.s, self.topics, self.after_s = s, topics, after_s
        self.start = time.monotonic()
        self.said = False

    def check(self) -> None:
        from cosmos_reason_ros.tools.ros_session import graph_clue

        if not self.after_s or time.monotonic() - self.start < self.after_s:
            return
        published = any(self.s.node.count_publishers(t) for t in self.topics)
        if not self.said and not published:
            self.said = True
            waited = time.monotonic() - self.start
            _say(
                f"nothing publishes on {', '.join(self.topics)} after {waited:.0f} s: "
                f"{graph_clue(self.s.node)}; still waiting (Ctrl-C to stop)"
            )
        elif self.said and published:
            self.said, self.after_s = False, 0.0  # said both: quiet from now on
            _say(f"{', '.join(self.topics)} now published: waiting for what comes")


def _say(text: str) -> None:
    print(f"cosmos-reason-watch: {text}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
