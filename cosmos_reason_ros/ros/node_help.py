"""``reason_node --help``: how to start the node, its main parameters and the keys of an alert
rule, from the parameter tables. Printing it initialises nothing (no rclpy context, no model)."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

from cosmos_reason_ros.config import FALLBACK_RULE, SPEC_BY_NAME, SPECS
from cosmos_reason_ros.config.alert_rules import rule_specs

MAIN_PARAMETERS = (
    "model",
    "backend",
    "device",
    "image_topics",
    "actions",
    "fallback_action",
    "question",
    "goal",
    "decision_period_s",
    "window_s",
    "sample_fps",
    "max_frame_age_s",
    "max_thinking_tokens",
    "autostart",
)
"""The parameters ``--help`` describes one by one (those of them that exist)."""

USAGE = """\
usage: reason_node [-h] [--ros-args (-p NAME:=VALUE | --params-file FILE) ...]

The cosmos_reason node: watches camera topics, asks a Cosmos-Reason model what the robot should
do next, and publishes a validated decision on ~/next_action and ~/reasoning, with /diagnostics.
Serves ~/ask (AskNextAction) and the streaming action ~/reason (Reason) in every lifecycle state:
a request gets a decision or the reason why not ("node is up but unconfigured: <error>").

Start it on a local checkpoint folder (nothing is downloaded):
  reason_node --ros-args -p model:=/models/Cosmos-Reason1-7B \\
      -p image_topics:="['/camera/image_raw']"
  reason_node --ros-args --params-file my_reason.yaml   (copy of config/reason.yaml)
A hub id (model:=nvidia/Cosmos-Reason1-7B) loads from the Hugging Face cache without network;
one that is not cached is downloaded, or fails within seconds when the hub cannot be reached.

Watch and ask without ros2 (any ROS 2 machine, or scripts/with-env on one without):
  cosmos-reason-watch                  decisions as they are published (--json: one per line)
  cosmos-reason-watch --diagnostics    the node's /diagnostics
  cosmos-reason-ask "what now?"        ask once (--stream: the thinking as it arrives)
"""


def wants_help(argv: Sequence[str]) -> bool:
    """Whether ``argv`` (without the program name) asks for help before any ROS arguments."""
    for arg in argv:
        if arg == "--ros-args":
            return False
        if arg in ("-h", "--help"):
            return True
    return False


def node_help(width: int = 99) -> str:
    """The text ``reason_node --help`` prints."""
    lines = [USAGE, "Main parameters (default):"]
    for name in MAIN_PARAMETERS:
        spec = SPEC_BY_NAME.get(name)
        if spec is None:
            continue
        lines.append(f"  {name} (default: {_show(spec.default)})")
        text = spec.description + (f" (one of: {', '.join(spec.choices)})" if spec.choices else "")
        lines += textwrap.wrap(text, width, initial_indent=" " * 6, subsequent_indent=" " * 6)
    lines += ["", "Fallback rule:"]
    lines += textwrap.wrap(FALLBACK_RULE + ".", width, initial_indent="  ", subsequent_indent="  ")
    lines += ["", "Alert rules: for each name in alerts, these parameters (default):"]
    for spec in rule_specs("<name>"):
        lines.append(f"  {spec.name} (default: {_show(spec.default)})")
        text = spec.description + (f" (one of: {', '.join(spec.choices)})" if spec.choices else "")
        lines += textwrap.wrap(text, width, initial_indent=" " * 6, subsequent_indent=" " * 6)
    others = [s.name for s in SPECS if s.name not in MAIN_PARAMETERS]
    lines += ["", "Every other parameter (defaults and ranges: config/reason.yaml):"]
    lines += textwrap.wrap(", ".join(others), width, initial_indent="  ", subsequent_indent="  ")
    lines.append(
        "\nA parameter name one letter from a known one (modle, image_topic) stops configure, "
        "naming both;\nany other name the node does not know is warned about at start."
    )
    return "\n".join(lines)


def _show(value: object) -> str:
    if isinstance(value, list):
        names = [str(v).split(":", 1)[0] for v in value]
        return "[" + ", ".join(names) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return '""' if value == "" else str(value)
