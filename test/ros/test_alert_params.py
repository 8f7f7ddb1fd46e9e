"""Alert rules as parameters on a real node: ``alerts.<name>.<key>`` declared once ``alerts``
names the rule, with descriptors from ``AlertRule``'s declarations; a misspelled rule key, or a
key of a rule ``alerts`` does not name, stops configure naming it; a rule without its condition
is refused at configure; and a rule's keys change only through the lifecycle, like ``alerts``."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("rclpy", reason="rclpy is not importable: run `make setup` / `make test`")

from harness import make_node
from rclpy.parameter import Parameter

from cosmos_reason_ros.ros.node import FAILURE, SUCCESS
from cosmos_reason_ros.testing.openai_server import ChatCompletionsServer

FALL = {"alerts": ["fall"], "alerts.fall.condition": "Has a person fallen to the floor?"}


def _openai(srv: ChatCompletionsServer) -> dict[str, Any]:
    return {"backend": "openai", "base_url": srv.base_url, "max_retries": 0, "model": "test-model"}


def test_a_rules_keys_are_declared_with_their_defaults_and_descriptions(
    ros_context: Any,
) -> None:
    node = make_node(ros_context, "unused", **FALL, **{"alerts.fall.severity": "error"})
    try:
        values = {
            k: node.get_parameter(f"alerts.fall.{k}").value
            for k in ("condition", "severity", "cooldown_s", "min_consecutive", "clear_after")
        }
        described = node.describe_parameter("alerts.fall.severity").description
    finally:
        node.destroy_node()
    assert values == {
        "condition": "Has a person fallen to the floor?",
        "severity": "error",
        "cooldown_s": 30.0,
        "min_consecutive": 2,
        "clear_after": 2,
    }
    assert "one of: info, warning, error" in described
    assert "[change: deactivate, cleanup, set, configure]" in described


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("alerts.fall.condtion", "'condtion' is not a rule key (one of: condition, severity"),
        ("alerts.fal.condition", "'fal' is not a rule named in alerts (fall)"),
    ],
)
def test_a_misspelled_rule_key_stops_configure_naming_it(
    ros_context: Any, key: str, message: str
) -> None:
    node = make_node(ros_context, "unused", **FALL, **{key: "Is it on fire?"})
    try:
        assert node.trigger_configure() == FAILURE
        error = node._last_error
    finally:
        node.destroy_node()
    assert f"unknown parameter '{key}'" in error
    assert message in error


def test_a_rule_without_its_condition_is_refused_at_configure(ros_context: Any) -> None:
    with ChatCompletionsServer() as srv:
        node = make_node(ros_context, "unused", alerts=["fall"], **_openai(srv))
        try:
            assert node.trigger_configure() == FAILURE
            error = node._last_error
        finally:
            node.destroy_node()
    assert "alerts.fall.condition must be set" in error


def test_rules_change_through_the_lifecycle_only(ros_context: Any) -> None:
    with ChatCompletionsServer() as srv:
        node = make_node(ros_context, "unused", **_openai(srv))
        try:
            # Unconfigured: a new rule may be named; its keys are declared at configure.
            assert node.set_parameters([Parameter("alerts", value=["smoke"])])[0].successful
            assert node.trigger_configure() == FAILURE  # its condition is not set yet
            assert "alerts.smoke.condition must be set" in node._last_error
            condition = Parameter("alerts.smoke.condition", value="Is a machine smoking?")
            assert node.set_parameters([condition])[0].successful
            assert node.trigger_configure() == SUCCESS
            assert [r.name for r in node._config.alert_rules] == ["smoke"]  # type: ignore[union-attr]
            refused = node.set_parameters([Parameter("alerts.smoke.cooldown_s", value=5.0)])[0]
            bad = node.set_parameters([Parameter("alerts.smoke.severity", value="fatal")])[0]
        finally:
            node.close()
            node.destroy_node()
    assert not refused.successful
    assert "alerts.smoke.cooldown_s cannot change while the node is inactive" in refused.reason
    assert not bad.successful and "alerts.smoke.severity must be one of" in bad.reason
