"""Alert rules over DDS, with ``backend:=openai`` against the loopback chat-completions server,
whose verdicts the test controls (it stands in for trtllm-serve / vLLM / NIM, which cannot run
here): each rule is RAISED once, CLEARED once, and RAISED again only once its cooldown since the
last RAISED has passed, with no message for a rule in between."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest

pytest.importorskip("rclpy", reason="rclpy is not importable: run `make setup` / `make test`")
pytest.importorskip(
    "cosmos_reason_ros.msg._alert", reason="interfaces built before msg/Alert: run `make setup`"
)

from harness import PERIOD_NS, T0_NS, attach_camera, frame, image_msg, running
from rclpy.node import Node
from spin import wait_for

from cosmos_reason_ros.msg import Alert
from cosmos_reason_ros.ros.alerts import ALERTS_QOS
from cosmos_reason_ros.ros.conversions import ns_from_time
from cosmos_reason_ros.testing.openai_server import ChatCompletionsServer, Reply

COOLDOWN_S = 2.0
RULES = {
    "alerts": ["fall", "smoke"],
    "alerts.fall.condition": "Has a person fallen to the floor?",
    "alerts.smoke.condition": "Is a machine smoking or sparking?",
    "alerts.smoke.severity": "error",
    "alerts.fall.cooldown_s": COOLDOWN_S,
    "alerts.smoke.cooldown_s": COOLDOWN_S,
    "alert_period_s": 0.1,
}


class Verdicts:
    """What the server answers to every judgment: one verdict for both rules, set by the test."""

    def __init__(self) -> None:
        self.positive = True
        self.judged = 0
        self._lock = threading.Lock()

    def __call__(self, body: dict[str, Any]) -> Reply | None:
        if "Rules:" not in json.dumps(body.get("messages")):
            return None  # not a judgment
        with self._lock:
            self.judged += 1
            positive = self.positive
        word = "visible" if positive else "absent"
        answer = {
            "rules": {
                name: {"verdict": positive, "evidence": f"{name} {word}"}
                for name in ("fall", "smoke")
            },
            "confidence": 0.9,
        }
        return Reply.decision(answer, thinking="looked at the floor and the machine")

    def set(self, positive: bool) -> None:
        with self._lock:
            self.positive = positive


class AlertListener(Node):
    """Subscribes to ~/alerts as a late-joining monitor would (reliable, transient local)."""

    def __init__(self, context: Any) -> None:
        super().__init__("test_alert_listener", context=context)
        self.received: list[tuple[float, Alert]] = []
        self.create_subscription(Alert, "/cosmos_reason/alerts", self._on_alert, ALERTS_QOS)

    def _on_alert(self, msg: Alert) -> None:
        self.received.append((time.monotonic(), msg))

    def states(self, rule: str) -> list[int]:
        return [m.state for _, m in self.received if m.rule == rule]


def test_two_rules_raise_once_clear_once_and_raise_again_only_after_the_cooldown(
    ros_context: Any,
) -> None:
    verdicts = Verdicts()
    with ChatCompletionsServer(responder=verdicts) as srv:
        overrides = {
            "backend": "openai",
            "base_url": srv.base_url,
            "max_retries": 0,
            "timeout_s": 5.0,
            "model": "test-model",
            **RULES,
        }
        with running(ros_context, "unused", **overrides) as (node, listener):
            alerts = AlertListener(ros_context)
            node.executor.add_node(alerts)
            cam = attach_camera(node, "/cam/image_raw")
            cam.wait_matched()
            cam.send([image_msg(frame(seed=i), T0_NS + i * PERIOD_NS, "rgb8") for i in range(3)])

            def both(state: int, count: int) -> bool:
                return all(alerts.states(r).count(state) >= count for r in ("fall", "smoke"))

            wait_for(lambda: both(Alert.RAISED, 1), 15.0, what="both rules RAISED")
            first_raised = max(t for t, m in alerts.received if m.state == Alert.RAISED)
            status = node._alerts.status("cosmos_reason") if node._alerts else None
            judged = verdicts.judged
            asked = listener.call(timeout_s=10.0)  # asks are still answered while rules run
            wait_for(lambda: verdicts.judged >= judged + 5, 10.0, what="more judgments")
            assert len(alerts.received) == 2  # still positive: nothing more while raised

            verdicts.set(False)
            wait_for(lambda: both(Alert.CLEARED, 1), 10.0, what="both rules CLEARED")
            verdicts.set(True)  # positive again, well inside the cooldown
            wait_for(lambda: both(Alert.RAISED, 2), 15.0, what="both rules RAISED again")
            judged = verdicts.judged
            wait_for(lambda: verdicts.judged >= judged + 5, 10.0, what="more judgments")
            received = list(alerts.received)
            reasonings = {r.decision_id: r for r in listener.reasonings}
            node.executor.remove_node(alerts)
            alerts.destroy_node()
            cam.destroy_node()
    assert asked.success, asked.message
    assert status is not None and status.message == "raised: fall (warning), smoke (error)"
    for rule, severity in (("fall", "warning"), ("smoke", "error")):
        mine = [(t, m) for t, m in received if m.rule == rule]
        assert [m.state for _, m in mine] == [Alert.RAISED, Alert.CLEARED, Alert.RAISED]
        raised = [t for t, m in mine if m.state == Alert.RAISED]
        assert raised[1] - raised[0] >= COOLDOWN_S - 0.05  # not before the cooldown passed
        assert raised[1] - raised[0] < COOLDOWN_S + 2.0  # but as soon as it had
        for _, msg in mine:
            assert msg.severity == severity
            assert msg.cameras == ["cam"]
            assert msg.confidence == pytest.approx(0.9)
            assert ns_from_time(msg.header.stamp) == T0_NS + 2 * PERIOD_NS
            assert ns_from_time(msg.window_start) == T0_NS + PERIOD_NS  # 2 of the 3 frames (even)
            assert msg.decision_id in reasonings  # its judgment's chain of thought
        assert [m.evidence for _, m in mine] == [
            f"{rule} {w}" for w in ("visible", "absent", "visible")
        ]
    assert len({m.alert_id for _, m in received}) == len(received) == 6
    assert first_raised <= raised[1]
    judgment = reasonings[received[0][1].decision_id]
    assert "Rules:" in judgment.question and "- fall: Has a person fallen" in judgment.question
