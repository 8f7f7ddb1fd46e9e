"""Parameter overrides the node does not know, warned about by name with the closest known name.

rclpy silently ignores an override (``-p image_topic:=...`` or a params-file entry) for a
parameter that is never declared, so a misspelled name would leave the default in force
without a word. Called once, after the node declared its parameters.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from rclpy.node import Node

ROS_OWN = frozenset({"use_sim_time", "start_type_description_service", "start_parameter_services"})
"""Parameters rclpy itself reads from overrides, declared or not."""
ROS_OWN_PREFIXES = ("qos_overrides.",)


def unknown_overrides(given: Iterable[str], known: Iterable[str]) -> list[tuple[str, str]]:
    """``(name, closest known name or "")`` for each name in ``given`` that is not ``known``.

    Names rclpy reads itself (``use_sim_time``, ``qos_overrides.*``) are never unknown.
    """
    known_names = sorted(set(known))
    out = []
    for name in sorted(set(given)):
        if name in known_names or name in ROS_OWN or name.startswith(ROS_OWN_PREFIXES):
            continue
        close = difflib.get_close_matches(name, known_names, n=1, cutoff=0.6)
        out.append((name, close[0] if close else ""))
    return out


def hint(name: str, closest: str) -> str:
    """One sentence about one unknown parameter."""
    text = f"unknown parameter '{name}' ignored (the node has no parameter of that name)"
    if closest:
        return f"{text}: did you mean '{closest}'?"
    return f"{text}: reason_node --help lists the parameters"


def warn_unknown_overrides(node: Node) -> list[str]:
    """Log a warning for each override ``node`` did not declare; returns the warnings."""
    # rclpy keeps the overrides it was given (command line, params files, constructor) here;
    # it offers no public accessor for them.
    overrides = getattr(node, "_parameter_overrides", {}) or {}
    known = node.list_parameters([], 0).names
    warnings = [hint(n, c) for n, c in unknown_overrides(overrides, known)]
    for text in warnings:
        node.get_logger().warning(text)
    return warnings
