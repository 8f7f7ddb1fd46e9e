"""Parameter overrides the node does not know: a near miss of a known name stops configure, any
other unknown name is warned about.

rclpy silently ignores an override (``-p image_topic:=...`` or a params-file entry) for a
parameter that is never declared, so a misspelled name would leave the default in force
without a word: ``-p modle:=/my/ckpt`` would load the default hub model (a multi-GB download
on a connected robot). A name one edit from a known one (a letter added, dropped, changed, or
two swapped) is taken for a typo and refused, naming both. Names further from every known one
stay a warning, so a shared ``/**`` params file that also configures other nodes still works.
Called once, after the node declared its parameters.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from rclpy.node import Node

from cosmos_reason_ros.ros.rclpy_adapter import parameter_overrides

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


def one_typo_apart(a: str, b: str) -> bool:
    """Whether ``a`` becomes ``b`` by one edit: a character inserted, deleted or replaced, or
    two neighbours swapped (``image_topic``/``image_topics``, ``modle``/``model``)."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
        if len(diff) == 1:
            return True
        i = diff[0]
        return len(diff) == 2 and diff[1] == i + 1 and a[i] == b[i + 1] and a[i + 1] == b[i]
    short, long = (a, b) if len(a) < len(b) else (b, a)
    i = next((k for k, (x, y) in enumerate(zip(short, long, strict=False)) if x != y), len(short))
    return short[i:] == long[i + 1 :]


def typo_of(name: str, known: Iterable[str]) -> str:
    """The known name ``name`` is one typo from ("" if none); the closest wins a tie."""
    near = [k for k in known if one_typo_apart(name, k)]
    if not near:
        return ""
    return difflib.get_close_matches(name, near, n=1, cutoff=0.0)[0]


def hint(name: str, closest: str) -> str:
    """One sentence about one unknown parameter that stays a warning."""
    text = f"unknown parameter '{name}' ignored (the node has no parameter of that name)"
    if closest:
        return f"{text}: did you mean '{closest}'?"
    return f"{text}: reason_node --help lists the parameters"


def typo_error(name: str, known: str) -> str:
    """One sentence about an unknown parameter one typo from ``known``: configure refuses it."""
    return (
        f"unknown parameter '{name}' (did you mean '{known}'?) refused, so that '{known}' does "
        "not silently keep its default: fix the name and start the node again"
    )


def check_overrides(node: Node) -> dict[str, str]:
    """Check the overrides ``node`` was given against what it declared.

    Logs an error for each name one typo from a known one and returns those errors
    (name -> message) for configure to fail with; logs a warning for every other unknown name.
    """
    overrides = parameter_overrides(node)
    known = node.list_parameters([], 0).names
    errors: dict[str, str] = {}
    for name, closest in unknown_overrides(overrides, known):
        typo = typo_of(name, known)
        if typo:
            errors[name] = typo_error(name, typo)
            node.get_logger().error(errors[name])
        else:
            node.get_logger().warning(hint(name, closest))
    return errors
