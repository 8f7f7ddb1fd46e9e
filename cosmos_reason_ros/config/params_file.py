"""``config/reason.yaml``: every parameter with its default and what its declaration says,
as a ROS 2 parameters file (written by ``scripts/gen_reason_yaml.py``)."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterable

from cosmos_reason_ros.config.alert_rules import rule_specs
from cosmos_reason_ros.config.specs import ParamSpec

__all__ = ["params_yaml"]

_HEADER = """\
# cosmos_reason node parameters: every parameter with its default.
# Generated from the parameter declarations (see cosmos_reason_ros/core/params.py)
# by scripts/gen_reason_yaml.py; copy it and edit the copy (launch with params_file:=...).
# [live]: may change at run time (ros2 param set); others change through
# deactivate -> cleanup -> set -> configure.
# [launch-time only]: set here, with -p or in the launch file; read-only once the
# node is up, because it decides what code runs, where data goes or which secret is
# read (docs/security.md).
/**:
  ros__parameters:
"""


def params_yaml(specs: Iterable[ParamSpec]) -> str:
    """The parameters file of ``specs``: each one's description as a comment, then its
    default."""
    lines = [_HEADER.rstrip("\n")]
    for spec in specs:
        lines += [f"    # {line}" for line in textwrap.wrap(_described(spec), 90)]
        lines.append(f"    {spec.name}: {_value(spec.default)}")
        if spec.name == "alerts":
            lines += _rule_keys()
    return "\n".join(lines) + "\n"


def _described(spec: ParamSpec) -> str:
    text = spec.description
    if spec.choices:
        text += f" (one of: {', '.join(spec.choices)})"
    if spec.low is not None and spec.high is not None:
        text += f" [range {spec.low:g} .. {spec.high:g}]"
    if spec.live:
        text += " [live]"
    if spec.launch_only:
        text += " [launch-time only]"
    return text


def _rule_keys() -> list[str]:
    """The keys of each rule named in ``alerts`` (``AlertRule``'s declarations), commented
    out: they exist only for the names listed."""
    lines = ["    # Each rule named in alerts has these keys (uncomment, with <name> replaced):"]
    for spec in rule_specs("<name>"):
        lines += [f"    #   # {line}" for line in textwrap.wrap(_described(spec), 86)]
        lines.append(f"    #   {spec.name}: {_value(spec.default)}")
    return lines


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list) and not value:
        return "[]"
    if isinstance(value, list):
        return "\n" + "\n".join(f"      - {json.dumps(v)}" for v in value)
    if isinstance(value, str):
        return json.dumps(value)
    return repr(value)
