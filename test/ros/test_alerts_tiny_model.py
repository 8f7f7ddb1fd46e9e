"""Four alert rules on the tiny random-weight model at the node's default parameters, over DDS:
every judgment is valid whatever the weights emit, and asks are still answered (as valid
decisions) while the rules are judged."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("rclpy", reason="rclpy is not importable: run `make setup` / `make test`")
pytest.importorskip(
    "cosmos_reason_ros.msg._alert", reason="interfaces built before msg/Alert: run `make setup`"
)

from harness import FAST, running, streaming_frames
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image
from spin import wait_for

from cosmos_reason_ros.config import SPEC_BY_NAME

RULES = {
    "alerts": ["fall", "smoke", "spill", "blocked"],
    "alerts.fall.condition": "Has a person fallen to the floor?",
    "alerts.smoke.condition": "Is a machine smoking or sparking?",
    "alerts.spill.condition": "Is there liquid spilled on the floor?",
    "alerts.blocked.condition": "Is the aisle blocked?",
}
DEFAULTS = {name: SPEC_BY_NAME[name].default for name in FAST if name != "device"}
"""The harness's fast settings undone: the node's own defaults (the family's -1 included)."""


def _counts(node: Any) -> dict[str, int]:
    alerts = node._alerts
    if alerts is None:
        return {}
    status = alerts.status("cosmos_reason")
    return {v.key: int(v.value) for v in status.values if v.key.startswith("judgments_")}


def test_four_rules_at_default_parameters_judge_validly_while_asks_are_answered(
    ros_context: Any, tiny_model_dir: Any
) -> None:
    overrides = {**DEFAULTS, "decision_period_s": 0.0, **RULES}
    with running(ros_context, tiny_model_dir, **overrides) as (node, listener):
        camera = listener.create_publisher(Image, "/cam/image_raw", qos_profile_sensor_data)
        with streaming_frames(camera, hz=10.0):
            wait_for(lambda: _counts(node).get("judgments_judged", 0) >= 1, 120, what="a judgment")
            asks = [listener.call(timeout_s=120.0) for _ in range(3)]
            wait_for(lambda: _counts(node)["judgments_judged"] >= 4, 120, what="four judgments")
            counts = _counts(node)
    assert all(a.success and a.action.valid for a in asks), [a.message for a in asks]
    assert counts["judgments_invalid"] == 0, counts
    assert counts["judgments_failed"] == 0, counts
