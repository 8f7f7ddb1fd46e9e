"""The rclpy internals the node relies on (``ros.rclpy_adapter``), pinned with real rclpy.

One test per behaviour: if a distro's rclpy changes one of them, it fails here first, with the
adapter function named, rather than somewhere inside the node.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("rclpy", reason="rclpy is not importable: run `make setup` / `make test`")

import rclpy
from lifecycle_msgs.srv import GetState
from rclpy.context import Context
from rclpy.duration import Duration
from rclpy.guard_condition import GuardCondition
from rclpy.impl.implementation_singleton import rclpy_implementation as _rclpy
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rclpy.serialization import deserialize_message
from spin import spinning, wait_for
from std_msgs.msg import String

import cosmos_reason_ros
from cosmos_reason_ros.ros.rclpy_adapter import (
    CONTEXT_DOWN_ERRORS,
    SendResponse,
    SubscriptionWaitSet,
    lifecycle_state,
    replace_send_response,
)
from cosmos_reason_ros.ros.topic_hints import silent_camera_hint

SUCCESS = TransitionCallbackReturn.SUCCESS
# rclpy's C extension, a lifecycle node's private state machine, an entity's pybind handle,
# a replaced service method: what only the adapter may touch.
INTERNALS = re.compile(
    r"implementation_singleton|\b_rclpy\b|_state_machine|_parameter_overrides|\.handle\b"
    r"|\.send_response\s*="
)
RELIABLE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)


class _Recording(LifecycleNode):
    """Records ``lifecycle_state`` as seen from inside its configure and activate callbacks."""

    def __init__(self, context: Context) -> None:
        super().__init__("adapter_lifecycle", context=context)
        self.inside: list[str] = []

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.inside.append(lifecycle_state(self))
        return SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.inside.append(lifecycle_state(self))
        return SUCCESS


def test_lifecycle_state_agrees_with_get_state_after_every_public_transition(
    ros_context: Context,
) -> None:
    """Read after each ``trigger_*``: the label the node's public ``~/get_state`` service
    answers over DDS; read inside a transition callback: the transition state."""
    node = _Recording(ros_context)
    asker = Node("adapter_lifecycle_asker", context=ros_context)
    get_state = asker.create_client(GetState, "/adapter_lifecycle/get_state")
    steps = [
        (node.trigger_configure, "inactive"),
        (node.trigger_activate, "active"),
        (node.trigger_deactivate, "inactive"),
        (node.trigger_cleanup, "unconfigured"),
        (node.trigger_shutdown, "finalized"),
    ]

    def both() -> tuple[str, str]:
        answer = get_state.call(GetState.Request(), timeout_sec=10.0)
        assert answer is not None, "no answer from ~/get_state"
        return lifecycle_state(node), answer.current_state.label

    try:
        with spinning(ros_context, node, asker):
            assert get_state.wait_for_service(timeout_sec=10.0)
            assert both() == ("unconfigured", "unconfigured")
            for trigger, expected in steps:
                assert trigger() == SUCCESS
                assert both() == (expected, expected)
    finally:
        asker.destroy_node()
        node.destroy_node()
    assert node.inside == ["configuring", "activating"]


@pytest.fixture
def waiting(ros_context: Context) -> Iterator[tuple[SubscriptionWaitSet, GuardCondition, Any]]:
    """A wait set on a raw subscription of ``/adapter_wait`` (as the camera reader makes one),
    its wake-up guard, and a publisher on the topic."""
    node = Node("adapter_wait", context=ros_context)
    sub = node.create_subscription(String, "/adapter_wait", lambda _m: None, RELIABLE, raw=True)
    pub = node.create_publisher(String, "/adapter_wait", RELIABLE)
    guard = GuardCondition(None, None, context=ros_context)
    try:
        yield SubscriptionWaitSet(sub, guard, ros_context), guard, pub
    finally:
        guard.destroy()
        node.destroy_node()


def test_wait_set_takes_published_messages_serialized_and_in_order(
    waiting: tuple[SubscriptionWaitSet, GuardCondition, Any],
) -> None:
    wait_set, _guard, pub = waiting
    wait_for(lambda: pub.get_subscription_count() > 0, what="the subscription to match")
    for text in ("one", "two", "three"):
        pub.publish(String(data=text))
    taken = [wait_set.take_serialized(5_000_000_000) for _ in range(3)]
    assert all(isinstance(raw, bytes) for raw in taken)
    assert [deserialize_message(raw, String).data for raw in taken] == ["one", "two", "three"]


def test_wait_set_returns_none_once_its_timeout_passes_with_nothing_to_take(
    waiting: tuple[SubscriptionWaitSet, GuardCondition, Any],
) -> None:
    wait_set, _guard, _pub = waiting
    started = time.monotonic()
    assert wait_set.take_serialized(200_000_000) is None
    assert 0.15 < time.monotonic() - started < 2.0


def test_wait_set_wakes_at_once_when_its_guard_is_triggered_before_or_during_the_wait(
    waiting: tuple[SubscriptionWaitSet, GuardCondition, Any],
) -> None:
    """The camera reader's stop: a trigger from another thread ends a wait in progress, and a
    trigger that came before the wait makes the next wait return at once."""
    wait_set, guard, _pub = waiting
    timer = threading.Timer(0.1, guard.trigger)
    started = time.monotonic()
    timer.start()
    assert wait_set.take_serialized(10_000_000_000) is None
    during_s = time.monotonic() - started
    timer.join()
    guard.trigger()
    started = time.monotonic()
    assert wait_set.take_serialized(10_000_000_000) is None
    before_s = time.monotonic() - started
    assert during_s < 2.0 and before_s < 0.5


def test_a_node_used_after_its_context_shut_down_raises_an_error_we_catch(
    ros_context: Context,
) -> None:
    """What the topic hint and replay's drain call, after ``rclpy.shutdown``."""
    node = Node("adapter_shut_down", context=ros_context)
    pub = node.create_publisher(String, "/adapter_shut_down", RELIABLE)
    rclpy.shutdown(context=ros_context)
    calls = {
        "resolve_topic_name": lambda: node.resolve_topic_name("image"),
        "get_topic_names_and_types": node.get_topic_names_and_types,
        "count_publishers": lambda: node.count_publishers("/adapter_shut_down"),
        "wait_for_all_acked": lambda: pub.wait_for_all_acked(Duration(seconds=1)),
    }
    for name, call in calls.items():
        with pytest.raises(CONTEXT_DOWN_ERRORS):
            call()
            pytest.fail(f"{name} did not raise")
    assert silent_camera_hint(node, "image") == ""


def test_a_graph_read_in_flight_when_the_context_shuts_down_raises_an_error_we_catch(
    ros_context: Context,
) -> None:
    """Holding the node's handle is what ``Node.get_topic_names_and_types`` does around its
    rcl call; the shutdown comes between the two."""
    node = Node("adapter_in_flight", context=ros_context)
    with node.handle, pytest.raises(CONTEXT_DOWN_ERRORS) as raised:
        rclpy.shutdown(context=ros_context)
        _rclpy.rclpy_get_topic_names_and_types(node.handle, False)
    assert isinstance(raised.value, _rclpy.RCLError), raised.value


def test_replaced_send_response_gets_what_the_callback_returned_and_answers_later_over_dds(
    ros_context: Context,
) -> None:
    """Two nodes in two contexts (two DDS participants): the server's callback returns a
    placeholder, the executor hands it with the request's header to the replacement, and the
    original ``send_response`` called later from another thread reaches the client."""
    placeholder = object()
    handed: list[object] = []
    server = Node("adapter_server", context=ros_context)
    service = server.create_service(
        GetState, "/adapter_deferred", lambda _request, _response: placeholder
    )

    def send_later(send: SendResponse, returned: object, header: Any) -> None:
        handed.append(returned)
        answer = GetState.Response()
        answer.current_state.label = "answered later"
        threading.Timer(0.2, send, (answer, header)).start()

    replace_send_response(service, send_later)
    client_context = Context()
    rclpy.init(context=client_context)
    asker = Node("adapter_asker", context=client_context)
    client = asker.create_client(GetState, "/adapter_deferred")
    try:
        with spinning(ros_context, server), spinning(client_context, asker):
            assert client.wait_for_service(timeout_sec=10.0)
            future = client.call_async(GetState.Request())
            wait_for(future.done, what="the deferred answer")
    finally:
        asker.destroy_node()
        server.destroy_node()
        rclpy.shutdown(context=client_context)
    assert handed == [placeholder]
    result = future.result()
    assert result is not None and result.current_state.label == "answered later"


def test_no_module_but_the_adapter_touches_rclpy_internals() -> None:
    package = Path(cosmos_reason_ros.__file__).parent
    touching = sorted(
        f"{path.relative_to(package)}:{number}: {line.strip()}"
        for path in package.rglob("*.py")
        if path.name != "rclpy_adapter.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if INTERNALS.search(line)
    )
    assert touching == []
