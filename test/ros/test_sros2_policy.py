"""The shipped SROS2 policy (config/sros2/cosmos_reason.policy.xml) names exactly what the node
has on the graph, and gives planners no way to change the node.

A secured run cannot be tested here: the pip-installed Fast DDS is built without DDS-Security
("This Fast DDS version doesn't have the security libraries"). What can be checked is that the
policy matches the node's live graph (real node, real DDS, read by a second node), so the
permissions it generates neither lock the node out of its own names nor allow more.
"""

from __future__ import annotations

import os
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("rclpy", reason="rclpy is not importable: run `make setup`")

import rclpy
from rclpy.context import Context
from rclpy.node import Node
from rclpy.parameter import Parameter
from spin import spinning, wait_for

from cosmos_reason_ros.ros.node import SUCCESS, ReasonNode
from cosmos_reason_ros.testing.openai_server import ChatCompletionsServer

POLICY = Path(__file__).resolve().parents[2] / "config" / "sros2" / "cosmos_reason.policy.xml"
NODE = "/cosmos_reason"
ONLY_WITH_SIM_TIME = {"/clock"}


def _profile(enclave: str) -> dict[str, set[str]]:
    """``{"publish": {...}, "subscribe": ..., "reply": ..., "request": ..., "execute": ...,
    "call": ...}`` of the enclave's one profile, ``~`` expanded to the node's name."""
    root = ET.parse(POLICY).getroot()
    found = root.findall(f"./enclaves/enclave[@path='{enclave}']/profiles/profile")
    assert len(found) == 1, f"{enclave}: expected one profile"
    profile = found[0]
    node = "/" + profile.attrib["node"]
    rules: dict[str, set[str]] = {}
    for group in profile:
        for kind, allowed in group.attrib.items():
            assert allowed == "ALLOW", f"{enclave}: {kind}={allowed}"
            names = {(e.text or "").strip().replace("~", node, 1) for e in group}
            rules.setdefault(kind, set()).update(names)
    return rules


def _with_action(names: set[str], actions: set[str], parts: tuple[str, ...]) -> set[str]:
    return names | {f"{a}/_action/{p}" for a in actions for p in parts}


def _settled(read: Any, quiet_s: float = 1.0, timeout_s: float = 20.0) -> Any:
    """``read()`` once it has not changed for ``quiet_s``: discovery delivers a node's names
    one by one, so the first view can be partial."""
    last, since, deadline = read(), time.monotonic(), time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now = read()
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            break
    return last


def _live_graph(context: Any) -> tuple[set[str], set[str], set[str]]:
    """Publishers, subscriptions and services of an active node (openai backend on loopback)."""
    with ChatCompletionsServer() as server:
        overrides = {
            "backend": "openai",
            "model": "test-model",
            "base_url": server.base_url,
            "profile": "reason1",
            "autostart": False,
        }
        node = ReasonNode(
            context=context,
            parameter_overrides=[Parameter(k, value=v) for k, v in overrides.items()],
        )
        probe = Node("probe", context=context)
        with spinning(context, node, probe):
            assert node.trigger_configure() == SUCCESS
            assert node.trigger_activate() == SUCCESS

            def names(kind: str) -> set[str]:
                method = getattr(probe, f"get_{kind}_names_and_types_by_node")
                return {name for name, _ in method("cosmos_reason", "/")}

            # Generous: the graph is read through discovery, slow on a loaded 2-core machine.
            wait_for(
                lambda: f"{NODE}/next_action" in names("publisher"), 60, what="the node's names"
            )
            graph = _settled(lambda: (names("publisher"), names("subscriber"), names("service")))
        node.close()
        node.destroy_node()
        probe.destroy_node()
    return graph


def test_the_node_profile_allows_exactly_the_names_the_node_has() -> None:
    # A domain of its own: a node named cosmos_reason that an earlier test's child process left
    # in discovery (killed, so never announced its exit) would answer the graph query instead.
    domain = int(os.environ.get("ROS_DOMAIN_ID", "0")) % 100 + 1
    context = Context()
    rclpy.init(context=context, domain_id=domain)
    try:
        publishers, subscriptions, services = _live_graph(context)
    finally:
        rclpy.shutdown(context=context)
    rules = _profile("/cosmos/cosmos_reason")
    actions = rules["execute"]
    assert actions == {f"{NODE}/reason"}
    assert _with_action(rules["publish"], actions, ("feedback", "status")) == publishers
    assert rules["subscribe"] - ONLY_WITH_SIM_TIME == subscriptions
    assert _with_action(rules["reply"], actions, ("send_goal", "cancel_goal", "get_result")) == (
        services
    )
    assert set(rules) == {"publish", "subscribe", "reply", "execute"}


def test_planners_may_ask_and_listen_but_not_drive_the_lifecycle_or_set_parameters() -> None:
    planner = _profile("/cosmos/planner")
    operator = _profile("/cosmos/operator")
    assert planner["request"] == {f"{NODE}/ask"}
    assert planner["call"] == {f"{NODE}/reason"}
    assert {f"{NODE}/next_action", f"{NODE}/reasoning"} <= planner["subscribe"]
    assert f"{NODE}/change_state" in operator["request"]
    assert f"{NODE}/set_parameters" in operator["request"]
    assert f"{NODE}/ask" not in operator["request"]
