"""Declaring the parameters of ``config.SPECS`` on a node, and vetting changes.

Launch-time-only parameters (``ParamSpec.launch_only``: what code runs, where data goes, which
secret is read) are declared read-only, so rclpy itself refuses any later change, local or
from another node ("Trying to set a read-only parameter: base_url."); overrides from ``-p``, a
params file or the launch file still apply, since they are taken at declaration. ``model``
stays changeable, except while ``trust_remote_code`` is on (docs/security.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.exceptions import (
    InvalidParameterTypeException,
    InvalidParameterValueException,
    ParameterException,
)
from rclpy.node import Node

from cosmos_reason_ros import config as params
from cosmos_reason_ros.config.alert_rules import rule_spec
from cosmos_reason_ros.core.alerts import check_rule_names
from cosmos_reason_ros.core.errors import CosmosReasonError

LAUNCH_ONLY = (
    "launch-time only: set it with -p, a params file or the launch file; "
    "read-only once the node is up"
)


def descriptor(spec: params.ParamSpec) -> ParameterDescriptor:
    """Descriptor with description, choices and range. Typing is checked by ``check_value``
    (dynamic typing on), so a wrong type in a params file never raises at declaration."""
    text = spec.description
    if spec.choices:
        text += f" (one of: {', '.join(spec.choices)})"
    if spec.launch_only:
        text += f" [{LAUNCH_ONLY}]"
    elif not spec.live:
        text += " [change: deactivate, cleanup, set, configure]"
    d = ParameterDescriptor(description=text, dynamic_typing=True, read_only=spec.launch_only)
    if spec.low is not None and spec.high is not None:
        # A family parameter's -1 ("the family's") must pass ROS's range check too.
        low = min(spec.low, -1) if spec.family else spec.low
        if isinstance(spec.default, float):
            d.floating_point_range = [
                FloatingPointRange(from_value=float(low), to_value=float(spec.high), step=0.0)
            ]
        elif isinstance(spec.default, int) and not isinstance(spec.default, bool):
            d.integer_range = [IntegerRange(from_value=int(low), to_value=int(spec.high), step=0)]
    return d


def declare_all(node: Node, specs: Sequence[params.ParamSpec] = params.SPECS) -> dict[str, str]:
    """Declare every parameter of ``specs`` (all of the node's; the alert rules' keys are
    declared apart, ``ros.alerts.declare_rules``). An override of the wrong type or out of range
    does not raise: the default is declared instead and the problem returned (name -> message),
    so that configure can fail with it until the parameter is set again (the process stays up)."""
    errors: dict[str, str] = {}
    for spec in specs:
        d = descriptor(spec)
        try:
            node.declare_parameter(spec.name, spec.default, d)
            params.check_value(spec, node.get_parameter(spec.name).value)
        except (
            InvalidParameterTypeException,
            InvalidParameterValueException,
            ParameterException,
            CosmosReasonError,
        ) as exc:
            errors[spec.name] = f"parameter {spec.name}: {str(exc)[:MAX_REFUSAL_CHARS]}"
            if spec.launch_only:
                errors[spec.name] += " (launch-time only: fix it where the node is launched)"
            node.get_logger().error(f"invalid {errors[spec.name]}")
            if not node.has_parameter(spec.name):
                node.declare_parameter(spec.name, spec.default, d, ignore_override=True)
    return errors


MAX_REFUSAL_CHARS = 500
"""The longest refusal sent back to a caller: a value anyone on the domain may send is quoted
in part only, whatever message quotes it."""


def vet(
    changes: Sequence[Any],
    current: Mapping[str, Any],
    config: params.NodeConfig | None,
    state: str,
) -> tuple[str, params.NodeConfig | None]:
    """Why ``changes`` (to the values ``current``) must be refused, or "" if none (at most
    ``MAX_REFUSAL_CHARS``), and the configuration they give a configured node (``config`` not
    None; built once, here, for the node to apply)."""
    reason, new = _vet(changes, current, config, state)
    if len(reason) > MAX_REFUSAL_CHARS:
        reason = reason[: MAX_REFUSAL_CHARS - 3] + "..."
    return reason, None if reason else new


def _vet(
    changes: Sequence[Any],
    current: Mapping[str, Any],
    config: params.NodeConfig | None,
    state: str,
) -> tuple[str, params.NodeConfig | None]:
    """Each change on its own (``_refusal``), then the whole configuration, built once."""
    values = {**current, **{p.name: p.value for p in changes}}
    reason = _refusal(changes, current, config, state)
    if reason:
        return reason, None
    if config is None and any(p.name == "alerts" or rule_spec(p.name) for p in changes):
        # A rule's keys are declared (one by one) at configure, after alerts names it; configure
        # checks the whole config then, so a rule is not refused for a key not declared yet.
        # The names themselves are checked now.
        try:
            check_rule_names(list(values.get("alerts") or []))
        except CosmosReasonError as exc:
            return str(exc), None
        return "", None
    try:
        new = params.build_config(values, config.architecture if config else None)
    except CosmosReasonError as exc:
        return str(exc), None
    return "", new if config is not None else None


def _refusal(
    changes: Sequence[Any],
    current: Mapping[str, Any],
    config: params.NodeConfig | None,
    state: str,
) -> str:
    """Why one of ``changes`` must be refused on its own (its value, when it may change)."""
    for p in changes:
        spec = params.SPEC_BY_NAME.get(p.name) or rule_spec(p.name)
        if spec is None:
            continue  # e.g. use_sim_time: rclpy's own
        try:
            params.check_value(spec, p.value)
        except CosmosReasonError as exc:
            return str(exc)
        unchanged = p.value == current.get(p.name)
        if spec.launch_only and not unchanged:  # rclpy refuses first (read-only descriptor)
            return f"{p.name} is {LAUNCH_ONLY}"
        if p.name == "model" and not unchanged and current.get("trust_remote_code") is True:
            return (
                "model cannot change at run time while trust_remote_code is true: the new "
                "checkpoint's own Python code would run; set model where the node is launched"
            )
        if config is not None and not spec.live and not unchanged:
            return (
                f"{p.name} cannot change while the node is {state}: deactivate, cleanup, "
                f"set it, then configure"
            )
    return ""
