"""What the ROS command-line tools share: one node in a context that stops cleanly on Ctrl-C
or SIGTERM, a spin loop that watches for it, and a clear message when the node is not there."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import rclpy
from rclpy.node import Node

from cosmos_reason_ros.ros import process
from cosmos_reason_ros.ros.process import StopSignals

__all__ = [
    "Session",
    "graph_clue",
    "missing_message",
    "qualified",
    "session",
]


DISCOVERY_SETTLE_S = 0.5
"""Seconds a tool spins after it first sees a server, before its first request."""


class Session:
    """A tool's node and the stop signals; see ``session``."""

    def __init__(self, node: Node, stop: StopSignals) -> None:
        self.node, self.stop = node, stop

    def spin_until(self, done: Callable[[], bool], timeout_s: float | None = None) -> bool:
        """Spin until ``done()``; False on a stop signal, a shutdown or ``timeout_s``."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while not done():
            if self.stop.is_set() or not rclpy.ok(context=self.node.context):
                return False
            if deadline is not None and time.monotonic() >= deadline:
                return False
            rclpy.spin_once(self.node, timeout_sec=process.SPIN_PERIOD_S)
        return True

    def settle(self, seconds: float = DISCOVERY_SETTLE_S) -> None:
        """Spin a moment after a server is seen: ``wait_for_service`` says this client sees the
        server, not that the server has discovered this client's reply reader yet, and a reply
        sent before it has is lost (the first request then waits for nothing)."""
        self.spin_until(lambda: False, seconds)

    def wait(self, ready: Callable[[float], bool], timeout_s: float) -> bool:
        """``ready(timeout)`` (e.g. ``client.wait_for_service``) in short steps, so that a stop
        signal is heard; False on a stop or after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while not self.stop.is_set():
            left = deadline - time.monotonic()
            if ready(max(0.0, min(left, 0.25))):
                return True
            if left <= 0:
                return False
        return False


@contextmanager
def session(name: str) -> Iterator[Session]:
    """rclpy without its signal handlers (``ros.process``) and one node named ``name``."""
    process.init()
    with StopSignals() as stop:
        node = Node(name)
        try:
            yield Session(node, stop)
        finally:
            node.destroy_node()
            rclpy.try_shutdown()


def qualified(node_name: str, suffix: str) -> str:
    """``/cosmos_reason`` + ``ask`` -> ``/cosmos_reason/ask`` (a leading ``/`` is added)."""
    base = "/" + node_name.strip().strip("/")
    return f"{base}/{suffix}"


def graph_clue(node: Node) -> str:
    """Where to look when nothing of the node is seen: the domain id and the nodes ``node``
    sees (itself left out), as one clause."""
    seen = sorted(f"{ns.rstrip('/')}/{name}" for name, ns in node.get_node_names_and_namespaces())
    seen = [n for n in seen if n != node.get_fully_qualified_name()]
    domain = os.environ.get("ROS_DOMAIN_ID", "0")
    return (
        f"is reason_node running, with the same ROS_DOMAIN_ID (here {domain})? "
        f"nodes seen: {', '.join(seen) if seen else 'none'}"
    )


def missing_message(node: Node, what: str, waited_s: float) -> str:
    """Why nothing answered on ``what``, with the nodes this tool can see."""
    return f"nothing answers on {what} after {waited_s:g} s: {graph_clue(node)}"
