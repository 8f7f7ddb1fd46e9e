"""``cosmos-reason-ask``: ask the node what to do next and print the decision as JSON.

    cosmos-reason-ask "what should I do next?" [--choices stop,wait] [--node /cosmos_reason]
    cosmos-reason-ask --stream "what now?"     # through the action: the text as it arrives

Works where ``ros2 service call`` is not installed. Without ``--stream`` it calls ``~/ask``;
with it, it sends a goal to the action ``~/reason`` and prints the generated text (the thinking,
then the answer) on stderr as it arrives, the decision on stdout at the end. A node that is up
but not active answers with its state and last error ("node is up but unconfigured: ...").
A goal not answered within ``GOAL_RESEND_S`` is sent again (a node can lose the answer to a
client it has not discovered yet); a copy accepted late is cancelled. The decision's keys are
the message fields (``tools.message_dicts``); ``-v`` adds the thinking, answer and raw text.

Exit status (``tools.exits``, README "Exit status"): 0 with a decision, 1 when the node
answered without one (the message says why), 2 on bad options, 3 when no node answered, 130 on
Ctrl-C (a streamed goal is cancelled first).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from cosmos_reason_ros.exits import ExitCode, exit_epilog
from cosmos_reason_ros.tools.message_dicts import response_dict
from cosmos_reason_ros.tools.options import HelpFormatter, split_list

_EXITS = {
    ExitCode.OK: "with a decision",
    ExitCode.FAILED: "the node answered without one (the message says why)",
    ExitCode.INPUT: "bad options",
    ExitCode.NO_NODE: None,
    ExitCode.INTERRUPTED: "Ctrl-C or SIGTERM (a streamed goal is cancelled first)",
}
GOAL_RESEND_S = 3.0
"""Seconds without a goal response before the goal is sent again (see ``_send_goal``)."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="cosmos-reason-ask",
        description="\n\n".join(__doc__.split("\n\n")[1:3]),
        epilog=exit_epilog(_EXITS),
        formatter_class=HelpFormatter,
    )
    p.add_argument("question", nargs="?", default="", help="(default: the node's question)")
    p.add_argument("--choices", default="", help="comma-separated; the answer must be one")
    p.add_argument("--goal", default="", help="the task's goal (default: the node's goal)")
    p.add_argument("--node", default="/cosmos_reason", help="fully qualified node name")
    p.add_argument("--stream", action="store_true", help="ask through the action ~/reason")
    p.add_argument("--wait", type=float, default=10.0, help="seconds to wait for the node")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the answer")
    p.add_argument(
        "-v", "--verbose", action="store_true", help="also print the thinking, answer and raw text"
    )
    return p


def main(argv: list[str] | None = None) -> int:
    """Console script ``cosmos-reason-ask``. Returns the exit status (module docstring)."""
    args = _parser().parse_args(argv)
    if not (args.wait > 0 and args.timeout > 0):
        print("cosmos-reason-ask: error: --wait and --timeout must be > 0", file=sys.stderr)
        return ExitCode.INPUT
    from cosmos_reason_ros.tools import ros_session

    with ros_session.session("cosmos_reason_ask") as s:
        status = _stream(s, args) if args.stream else _ask(s, args)
        if s.stop.is_set():
            print(f"cosmos-reason-ask: {s.stop.name}: stopped", file=sys.stderr)
            return ExitCode.INTERRUPTED
        return status


def _ask(s: Any, args: argparse.Namespace) -> int:
    from cosmos_reason_ros.srv import AskNextAction
    from cosmos_reason_ros.tools.ros_session import missing_message, qualified

    name = qualified(args.node, "ask")
    client: Any = s.node.create_client(AskNextAction, name)
    if not s.wait(client.wait_for_service, args.wait):
        return _unreachable(s, missing_message(s.node, name, args.wait))
    s.settle()
    request = AskNextAction.Request(
        question=args.question, choices=split_list(args.choices), goal=args.goal
    )
    future = client.call_async(request)
    if not s.spin_until(future.done, args.timeout):
        return _unreachable(s, f"no answer within {args.timeout:g} s")
    return _print(future.result(), args)


def _stream(s: Any, args: argparse.Namespace) -> int:
    from rclpy.action.client import ActionClient

    from cosmos_reason_ros.action import Reason
    from cosmos_reason_ros.tools.ros_session import missing_message, qualified

    name = qualified(args.node, "reason")
    client: Any = ActionClient(s.node, Reason, name)
    if not s.wait(client.wait_for_server, args.wait):
        return _unreachable(s, missing_message(s.node, name, args.wait))
    s.settle()

    stream = _Stream()
    goal = Reason.Goal(question=args.question, choices=split_list(args.choices), goal=args.goal)
    sent = _send_goal(s, client, goal, stream.on_feedback, args.wait)
    if sent is None:
        return _unreachable(s, f"no goal response within {args.wait:g} s")
    handle: Any = sent.result()
    stream.follow(bytes(handle.goal_id.uuid))
    if not handle.accepted:
        print(f"cosmos-reason-ask: {name} rejected the goal: {_why(s, args)}", file=sys.stderr)
        return ExitCode.FAILED
    result = handle.get_result_async()
    if not s.spin_until(result.done, args.timeout):
        if s.stop.is_set():  # Ctrl-C: cancel the goal, so the node stops generating
            cancel = handle.cancel_goal_async()
            s.stop.event.clear()
            s.spin_until(cancel.done, 2.0)
            s.stop.event.set()
            return ExitCode.INTERRUPTED
        return _unreachable(s, f"no result within {args.timeout:g} s")
    sys.stderr.write("\n")
    answer: Any = result.result()
    return _print(answer.result, args)


class _Stream:
    """The streamed text of one goal, on stderr. Feedback can arrive before its goal's
    response, and from a copy of the goal (see ``_send_goal``): text is held per goal until
    the answered one is known, then only that goal's text is written."""

    def __init__(self) -> None:
        self._held: dict[bytes, list[str]] = {}
        self._goal: bytes | None = None

    def on_feedback(self, msg: Any) -> None:
        key = bytes(msg.goal_id.uuid)
        if self._goal is None:
            self._held.setdefault(key, []).append(msg.feedback.text_delta)
        elif key == self._goal:
            self._write(msg.feedback.text_delta)

    def follow(self, goal: bytes) -> None:
        self._goal = goal
        self._write("".join(self._held.pop(goal, [])))
        self._held.clear()

    @staticmethod
    def _write(text: str) -> None:
        sys.stderr.write(text)
        sys.stderr.flush()


def _send_goal(s: Any, client: Any, goal: Any, on_feedback: Any, wait_s: float) -> Any | None:
    """Send ``goal``; the first goal response's future, or None on a stop or after ``wait_s``.

    A goal response can be lost: the node sends it before its DDS participant has discovered
    this new client's reply reader, and rclpy then drops the goal without running it. So the
    goal goes again every ``GOAL_RESEND_S`` until one is answered; a copy accepted later than
    the first answer is cancelled, so the node makes one decision.
    """
    deadline = time.monotonic() + wait_s
    sent = [client.send_goal_async(goal, feedback_callback=on_feedback)]
    while not s.spin_until(
        lambda: any(f.done() for f in sent),
        min(GOAL_RESEND_S, max(0.0, deadline - time.monotonic())),
    ):
        if s.stop.is_set() or time.monotonic() >= deadline:
            return None
        sent.append(client.send_goal_async(goal, feedback_callback=on_feedback))
    answered = next(f for f in sent if f.done())
    for extra in sent:
        if extra is not answered:
            extra.add_done_callback(_cancel_if_accepted)
    return answered


def _cancel_if_accepted(future: Any) -> None:
    handle = future.result()
    if handle is not None and handle.accepted:
        handle.cancel_goal_async()


def _why(s: Any, args: argparse.Namespace) -> str:
    """Why a goal was rejected, from the node's reasoner status on /diagnostics."""
    from diagnostic_msgs.msg import DiagnosticArray

    base = "/" + args.node.strip("/").rsplit("/", 1)[-1]
    found: list[str] = []

    def on_diagnostics(msg: Any) -> None:
        for status in msg.status:
            if status.name == f"{base.lstrip('/')}: reasoner":
                found.append(status.message)

    sub = s.node.create_subscription(DiagnosticArray, "/diagnostics", on_diagnostics, 10)
    s.spin_until(lambda: bool(found), 3.0)
    s.node.destroy_subscription(sub)
    state = found[-1] if found else "active"
    if state.startswith("active") or "decisions failed" in state:
        return "it is busy: max_pending requests already wait (see the node's /diagnostics)"
    return f"node is up but {state}"


def _print(res: Any, args: argparse.Namespace) -> int:
    print(json.dumps(response_dict(res, text=args.verbose), ensure_ascii=False, indent=2))
    if not res.success:
        print(f"cosmos-reason-ask: {args.node} answered: {res.message}", file=sys.stderr)
        return ExitCode.FAILED
    return ExitCode.OK


def _unreachable(s: Any, message: str) -> int:
    """``ExitCode.NO_NODE`` with ``message``; ``INTERRUPTED`` if a stop signal ended the wait."""
    if s.stop.is_set():
        return ExitCode.INTERRUPTED
    print(f"cosmos-reason-ask: error: {message}", file=sys.stderr)
    return ExitCode.NO_NODE


if __name__ == "__main__":
    sys.exit(main())
