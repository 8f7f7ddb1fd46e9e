"""``guarded``: no exception from a callback may end the node's process.

rclpy hands an exception raised in a callback to the executor, which can end ``spin`` and
the process. Every callback the node registers is wrapped: an expected error is logged in one
line, anything else with its traceback, and the callback returns its ``default``.
"""

from __future__ import annotations

import functools
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

from rclpy.impl.rcutils_logger import RcutilsLogger

from cosmos_reason_ros.core.errors import CosmosReasonError

R = TypeVar("R")


def guarded(
    logger: RcutilsLogger, what: str, default: Callable[..., R]
) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """Wrap a callback so that it never raises.

    Args:
        logger: The node's logger.
        what: What the callback does, for the log line (``camera /front``).
        default: Called with the callback's arguments to make its return value on failure.
    """

    def wrap(fn: Callable[..., R]) -> Callable[..., R]:
        @functools.wraps(fn)
        def call(*args: Any, **kwargs: Any) -> R:
            try:
                return fn(*args, **kwargs)
            except CosmosReasonError as exc:
                logger.error(f"{what} failed: {exc}", throttle_duration_sec=5.0)
            except Exception as exc:  # the boundary: log the traceback, keep the node up
                logger.error(f"{what} failed unexpectedly: {exc!r}\n{traceback.format_exc()}")
            return default(*args, **kwargs)

        return call

    return wrap


def nothing(*_args: Any, **_kwargs: Any) -> None:
    """``default`` for callbacks that return nothing."""
    return None
