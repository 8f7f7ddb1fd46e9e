"""DDS helpers the tool tests share: a node spun on its own thread, and a publisher node in its
own context (its own DDS participant), as another process would have."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node


@contextmanager
def spinning(context: Context, node: Node) -> Iterator[None]:
    """Spin ``node`` on a thread of its own until the block ends."""
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    thread = threading.Thread(target=executor.spin, daemon=True)
    thread.start()
    try:
        yield
    finally:
        executor.shutdown(timeout_sec=5.0)
        thread.join(timeout=5.0)


@contextmanager
def publisher_node(name: str) -> Iterator[Node]:
    """A node named ``name`` in its own context (its own DDS participant)."""
    context = Context()
    rclpy.init(context=context)
    node = Node(name, context=context)
    try:
        yield node
    finally:
        node.destroy_node()
        rclpy.shutdown(context=context)
