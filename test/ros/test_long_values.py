"""Megabyte values from anyone on the domain: every refusal says the real cause in one short
sentence and quotes only an excerpt of the value. Real rclpy nodes over real DDS; the node is the
real ``ReasonNode``."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("rclpy", reason="rclpy is not importable: run `make setup`")

from harness import Listener, make_node
from rcl_interfaces.msg import Log
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from spin import spinning, wait_for

from cosmos_reason_ros import config as params
from cosmos_reason_ros.ros.node import FAILURE

BIG = "x" * 1_000_000
SHORT = 600  # the longest message a refusal here may be


def _big_value(spec: params.ParamSpec) -> Any:
    return [BIG] if isinstance(spec.default, list) else BIG


def test_a_megabyte_value_for_any_parameter_is_refused_in_a_short_message(
    ros_context: Any, tiny_model_dir: Any
) -> None:
    node = make_node(ros_context, tiny_model_dir, autostart=False)
    results = {}
    with spinning(ros_context, node):
        for spec in params.SPECS:
            if spec.launch_only:
                continue  # read-only: rclpy refuses it before any of our code
            change = Parameter(spec.name, value=_big_value(spec))
            results[spec.name] = node.set_parameters([change])[0]
    node.destroy_node()
    accepted = {name for name, r in results.items() if r.successful}
    long = {name: len(r.reason) for name, r in results.items() if len(r.reason) > SHORT}
    # Not refused at set time (no length check yet): a topic name and a camera label.
    assert accepted <= {"image_topics", "camera_names"}
    assert long == {}
    model = results["model"].reason
    assert model.startswith("model is 1000000 characters ('xxxx"), model
    assert "longer than any checkpoint folder path or model id" in model


def test_a_megabyte_model_at_launch_fails_configure_saying_why_and_asks_say_it_briefly(
    ros_context: Any, tiny_model_dir: Any
) -> None:
    node = make_node(ros_context, tiny_model_dir, autostart=False, model=BIG)
    listener = Listener(ros_context)
    logs: list[Log] = []
    qos = QoSProfile(
        depth=100,
        reliability=ReliabilityPolicy.RELIABLE,
        durability=DurabilityPolicy.TRANSIENT_LOCAL,
    )
    listener.create_subscription(Log, "/rosout", logs.append, qos)
    with spinning(ros_context, node, listener):
        configured = node.trigger_configure()
        asked = [listener.call(), listener.call()]
        wait_for(lambda: any("configure failed" in m.msg for m in logs), what="the error log")
    node.destroy_node()
    listener.destroy_node()
    assert configured == FAILURE
    for answer in asked:
        assert not answer.success
        assert "configure failed: model is 1000000 characters" in answer.message
        assert len(answer.message) < SHORT
    texts = [m.msg for m in logs if m.name == "cosmos_reason"]
    assert all(len(t) < 2 * SHORT for t in texts), max(len(t) for t in texts)
    assert not any("Traceback" in t or "internal error" in t for t in texts), texts
