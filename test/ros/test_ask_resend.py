"""``cosmos-reason-ask --stream`` when a goal response does not come: the tool sends the goal
again, takes the first answer, and cancels a copy accepted later.

A goal response is lost when the node sends it before its DDS participant has discovered the
new client's reply reader (rclpy then drops the goal); that race cannot be produced on demand,
so this test uses what it can produce over real DDS: an action server of the node's name and
type, in this process, whose first goal is answered only after the tool has sent it again.
The tool runs as users run it, a process of its own.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from typing import Any

import pytest

pytest.importorskip("rclpy", reason="rclpy is not importable: run `make setup`")

from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node
from spin import spinning, wait_for

from cosmos_reason_ros.action import Reason
from cosmos_reason_ros.tools.ask import GOAL_RESEND_S


class SlowFirstGoal(Node):
    """``/cosmos_reason/reason``: the first goal's response comes ``GOAL_RESEND_S`` + 2 s late;
    each executed goal streams its number and succeeds unless cancelled."""

    def __init__(self, context: Any) -> None:
        super().__init__("cosmos_reason", context=context)
        self.goals = 0
        self.cancelled: list[int] = []
        self.executed: list[int] = []
        self._lock = threading.Lock()
        self._server = ActionServer(
            self,
            Reason,
            "/cosmos_reason/reason",
            execute_callback=self._execute,
            goal_callback=self._on_goal,
            cancel_callback=lambda _handle: CancelResponse.ACCEPT,
            callback_group=ReentrantCallbackGroup(),
        )

    def _on_goal(self, _goal: Any) -> GoalResponse:
        with self._lock:
            self.goals += 1
            first = self.goals == 1
        if first:
            time.sleep(GOAL_RESEND_S + 2.0)
        return GoalResponse.ACCEPT

    def _execute(self, handle: Any) -> Reason.Result:
        with self._lock:
            number = len(self.executed) + 1
            self.executed.append(number)
        for _ in range(40):  # 4 s, time for a late copy's cancel to arrive
            if handle.is_cancel_requested:
                with self._lock:
                    self.cancelled.append(number)
                handle.canceled()
                return Reason.Result(success=False, message="cancelled")
            handle.publish_feedback(Reason.Feedback(text_delta=f"<{number}>", generated_tokens=1))
            time.sleep(0.1)
        handle.succeed()
        result = Reason.Result(success=True, message="")
        result.action.action = "stop"
        return result


def test_a_late_goal_response_is_sent_again_and_the_late_copy_cancelled(
    ros_context: Any,
) -> None:
    server = SlowFirstGoal(ros_context)
    with spinning(ros_context, server, threads=4):
        done = subprocess.run(
            [sys.executable, "-m", "cosmos_reason_ros.tools.ask", "--stream", "--wait", "30"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        wait_for(lambda: len(server.executed) == 2, 20, what="the late first goal to run")
        wait_for(lambda: len(server.cancelled) == 1, 20, what="the late copy's cancel")
    server.destroy_node()
    assert done.returncode == 0, done.stderr
    assert server.goals == 2
    assert json.loads(done.stdout)["success"] is True
    streamed = re.findall(r"<(\d+)>", done.stderr)
    assert streamed and len(set(streamed)) == 1, f"feedback of one goal only: {done.stderr!r}"
