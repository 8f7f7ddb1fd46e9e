"""The one place that uses rclpy's internals, for four things its public API does not offer.

Checked against rclpy 9.1.2 (ROS 2 Kilted); the same code has served since Humble.
``test/ros/test_rclpy_adapter.py`` pins each behaviour relied on here with real rclpy and DDS,
so a distro whose rclpy changes one of them fails there first, not in the node.

- ``lifecycle_state``: ``LifecycleNode`` keeps its state in ``_state_machine`` and offers no
  getter; its own ``trigger_shutdown`` reads it the same way. The public way, the node's
  ``~/get_state`` service, needs the executor and a round trip over DDS.
- ``SubscriptionWaitSet``: rclpy's Python API has no wait set; only its executors (and
  ``rclpy.wait_for_message``, which builds one wait set per message and deserializes it) use
  ``_rclpy.WaitSet``. The camera reader needs to wait on one subscription without the executor
  and take its messages still serialized (``camera_reader``'s module docstring says why).
- ``CONTEXT_DOWN_ERRORS``: a node used after its context shut down raises ``InvalidHandle``
  (public, ``rclpy.exceptions``: rclpy 9 destroys a context's nodes on shutdown), and a
  call already inside rcl when it shuts down raises ``RCLError``, which rclpy exports only from
  its C extension.
- ``parameter_overrides``: the overrides a node was started with (``-p``, params files, the
  constructor) sit in ``Node._parameter_overrides``; rclpy offers no accessor, and the node
  needs them to name a parameter it does not know (``param_hints``).
- ``replace_send_response``: a service callback must return the response, but the node answers
  ``~/ask`` when the model is done, without holding an executor thread. The executor passes
  whatever the callback returned, with the request's header, to the service's
  ``send_response`` (looked up on the instance, since Humble); replacing that attribute is the
  only hook. rclpy has no deferred-response API.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rclpy.exceptions import InvalidHandle
from rclpy.impl.implementation_singleton import rclpy_implementation as _rclpy

if TYPE_CHECKING:
    from rclpy.context import Context
    from rclpy.guard_condition import GuardCondition
    from rclpy.lifecycle import LifecycleNode
    from rclpy.service import Service
    from rclpy.subscription import Subscription

__all__ = [
    "CONTEXT_DOWN_ERRORS",
    "SendResponse",
    "SubscriptionWaitSet",
    "lifecycle_state",
    "parameter_overrides",
    "replace_send_response",
]

CONTEXT_DOWN_ERRORS: tuple[type[Exception], ...] = (_rclpy.RCLError, InvalidHandle)
"""What a node's graph queries and ``Publisher.wait_for_all_acked`` raise when the context
shuts down before (``InvalidHandle``) or during (``RCLError``) the call."""

SendResponse = Callable[[Any, Any], None]
"""``Service.send_response(response, header)``."""


def lifecycle_state(node: LifecycleNode) -> str:
    """The node's lifecycle state label as rclpy's state machine holds it now.

    Args:
        node: The lifecycle node.

    Returns:
        ``unconfigured``, ``inactive``, ``active``, ``finalized`` or a transition state
        (``configuring``, …) while a transition runs: the labels of ``lifecycle_msgs/State``.
    """
    return str(node._state_machine.current_state[1])


class SubscriptionWaitSet:
    """A wait set of one subscription and one guard condition that takes messages serialized.

    The GIL is released while waiting. Use from one thread only (rcl wait sets are not
    thread-safe); the guard condition may be triggered from any thread to wake the wait.

    Args:
        subscription: The subscription to take from (created with ``raw=True`` or not: messages
            are taken serialized either way).
        wake: Triggering it ends a wait early.
        context: The context both belong to.

    Raises:
        InvalidHandle: The context is not initialized.
    """

    def __init__(
        self, subscription: Subscription[Any], wake: GuardCondition, context: Context
    ) -> None:
        self._sub = subscription
        self._wake = wake
        handle = context.handle
        if handle is None:
            raise InvalidHandle("the context is not initialized")
        self._wait_set = _rclpy.WaitSet(1, 1, 0, 0, 0, 0, handle)

    def take_serialized(self, timeout_ns: int) -> bytes | None:
        """Wait up to ``timeout_ns`` for a message and take it, still serialized.

        Returns:
            The message's CDR bytes; None where the wait timed out or was woken by the guard
            condition (or the middleware had nothing to take after all).

        Raises:
            RCLError, InvalidHandle: rcl failed, e.g. the context or an entity went away.
        """
        sub = self._sub
        with sub.handle, self._wake.handle:
            self._wait_set.clear_entities()
            self._wait_set.add_subscription(sub.handle)
            self._wait_set.add_guard_condition(self._wake.handle)
            self._wait_set.wait(timeout_ns)
            if sub.handle.pointer not in self._wait_set.get_ready_entities("subscription"):
                return None
            taken = sub.handle.take_message(sub.msg_type, True)
        return None if taken is None else bytes(taken[0])


def parameter_overrides(node: Any) -> dict[str, Any]:
    """The parameter overrides ``node`` was started with, by name (values are rclpy
    ``Parameter`` objects); {} where rclpy keeps none."""
    return dict(getattr(node, "_parameter_overrides", None) or {})


def replace_send_response(
    service: Service[Any, Any], send: Callable[[SendResponse, Any, Any], None]
) -> None:
    """Have the executor answer the service's requests through ``send``.

    For each request the executor calls ``send(original_send_response, returned, header)``
    with whatever the service callback returned (not necessarily a response) and the request's
    header; ``send`` sends the real response, now or later and from any thread, by calling
    ``original_send_response(response, header)``.

    Args:
        service: The service, before the executor serves a request of it.
        send: Sends the answer to one request (see above).
    """
    original = service.send_response
    service.send_response = functools.partial(send, original)  # type: ignore[method-assign]
