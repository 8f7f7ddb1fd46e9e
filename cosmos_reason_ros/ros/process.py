"""A ROS process that stops cleanly: rclpy without its signal handlers, and our own.

rclpy's default handlers shut the context down on SIGINT/SIGTERM before any of our code runs,
so a last publish or ``Publisher.wait_for_all_acked`` then raises ``RCLError`` (a traceback
on every Ctrl-C). Here rclpy is initialised with ``SignalHandlerOptions.NO`` and the signals
only set an event; the process's loop sees it, finishes what it was doing (drains, closes the
node) and shuts rclpy down itself. The loop must wake up now and then
(``spin_once(timeout_sec=...)``): a Python signal handler runs only when the interpreter does.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Sequence
from types import FrameType, TracebackType
from typing import Any

import rclpy
from rclpy.signals import SignalHandlerOptions

SPIN_PERIOD_S = 0.1
"""Longest a spin loop waits before it looks at the stop event again."""


def init(args: Sequence[str] | None = None, context: Any = None) -> None:
    """``rclpy.init`` without rclpy's signal handlers (see the module docstring)."""
    rclpy.init(
        args=None if args is None else list(args),
        context=context,
        signal_handler_options=SignalHandlerOptions.NO,
    )


class StopSignals:
    """Context manager: SIGINT and SIGTERM set ``event`` instead of ending the process.

    A second SIGINT while stopping raises ``KeyboardInterrupt`` (a way out of a stuck stop).
    The previous handlers come back on exit. Use from the main thread only (Python's rule).

    Attributes:
        event: Set by the first signal.
        signum: The signal that set it (0 while none has).
    """

    def __init__(self) -> None:
        self.event = threading.Event()
        self.signum = 0
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopSignals:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._on_signal)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if self.event.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signum = signum
        self.event.set()

    @property
    def name(self) -> str:
        """``SIGINT`` / ``SIGTERM``, or "" while no signal came."""
        return signal.Signals(self.signum).name if self.signum else ""

    def is_set(self) -> bool:
        return self.event.is_set()
