"""The parameters of alert rules: ``alerts.<name>.<key>`` for every name in ``alerts``.

A rule's keys are declared once, as the ``param`` fields of ``core.alerts.AlertRule``; here
they get the ``alerts.<name>.`` prefix (``rule_specs``), are looked up by full name
(``rule_spec``, for vetting a change) and build the typed rules (``build_rules``). They are
dynamic: which exist follows from the ``alerts`` value, so the node declares them after
reading it; the docs list them once under the ``alerts.<name>.`` pattern.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from cosmos_reason_ros.config.specs import ParamSpec, specs_of
from cosmos_reason_ros.core.alerts import AlertRule, check_rule_names

__all__ = ["ALERT_PREFIX", "RULE_KEYS", "build_rules", "rule_spec", "rule_specs"]

ALERT_PREFIX = "alerts."

_KEY_SPECS: tuple[ParamSpec, ...] = specs_of(AlertRule)

RULE_KEYS: tuple[str, ...] = tuple(s.name for s in _KEY_SPECS)
"""The keys of one rule: ``condition``, ``severity``, ``cooldown_s``, ``min_consecutive``,
``clear_after``."""


def rule_specs(rule: str) -> tuple[ParamSpec, ...]:
    """The parameters of rule ``rule``: ``alerts.<rule>.<key>`` for each of ``RULE_KEYS``."""
    return tuple(
        dataclasses.replace(s, name=f"{ALERT_PREFIX}{rule}.{s.name}", to=s.to) for s in _KEY_SPECS
    )


def rule_spec(name: str) -> ParamSpec | None:
    """The spec of parameter ``name`` if it is a rule key (``alerts.<rule>.<key>``)."""
    if not name.startswith(ALERT_PREFIX):
        return None
    rule, dot, key = name[len(ALERT_PREFIX) :].rpartition(".")
    if not dot or not rule or key not in RULE_KEYS:
        return None
    return next(s for s in rule_specs(rule) if s.name == name)


def build_rules(names: Sequence[str], values: Mapping[str, Any]) -> tuple[AlertRule, ...]:
    """The rules ``names`` (the ``alerts`` value), each key from ``values`` (by its full name)
    or its default; ``AlertRule`` checks every value (``core.params.check_fields``).

    Raises:
        ConfigError: A name or value is unusable; the message names the parameter.
    """
    check_rule_names(names)
    rules = []
    for rule in names:
        fields: dict[str, Any] = {}
        for spec in rule_specs(rule):
            value = values.get(spec.name, spec.default)
            if isinstance(spec.default, float) and type(value) is int:
                value = float(value)  # ROS carries 30 for 30.0
            fields[spec.to] = value
        rules.append(AlertRule(name=rule, **fields))
    return tuple(rules)
