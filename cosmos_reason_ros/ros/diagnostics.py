"""``/diagnostics``: one DiagnosticArray with a status per camera and one for the reasoner.

Levels mean something: a camera is WARN when it is stale (no usable frame for
``max_frame_age_s``: silent, or sending only frames that cannot be used, and the message says
which kind) or dropped invalid frames since the last report; the reasoner is ERROR without a
loaded model and WARN when decisions failed since the last report.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from diagnostic_msgs.msg import DiagnosticStatus, KeyValue

from cosmos_reason_ros.core.generation import BackendInfo
from cosmos_reason_ros.core.window import WindowStats
from cosmos_reason_ros.core.worker import WorkerStats
from cosmos_reason_ros.ros.cameras import CAUSE_WORDS, CameraStats, stale_reason

OK, WARN, ERROR = DiagnosticStatus.OK, DiagnosticStatus.WARN, DiagnosticStatus.ERROR


@dataclass
class DecisionCounters:
    """Decision counters, updated by the node from several threads under its lock."""

    made: int = 0
    skipped: int = 0
    failed: int = 0
    invalid: int = 0
    latencies_s: deque[float] = field(default_factory=lambda: deque(maxlen=200))

    def p95_s(self) -> float:
        if not self.latencies_s:
            return 0.0
        ordered = sorted(self.latencies_s)
        return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


@dataclass
class _Previous:
    received: dict[str, int] = field(default_factory=dict)
    invalid: dict[str, int] = field(default_factory=dict)
    failed: int = 0


class DiagnosticsReport:
    """Builds DiagnosticArray messages; remembers the previous report to compute rates."""

    def __init__(self, node_name: str) -> None:
        self._name = node_name
        self._prev = _Previous()

    def build(
        self,
        *,
        state: str,
        period_s: float,
        max_frame_age_s: float,
        cameras: Sequence[CameraStats],
        windows: dict[str, WindowStats],
        counters: DecisionCounters,
        worker: WorkerStats | None,
        backend: BackendInfo | None,
        last_error: str = "",
    ) -> list[DiagnosticStatus]:
        """The statuses of one report: one per camera, then the reasoner's."""
        statuses = [
            self._camera(c, windows.get(c.topic), period_s, max_frame_age_s) for c in cameras
        ]
        statuses.append(self._reasoner(state, counters, worker, backend, last_error))
        return statuses

    def _camera(
        self, cam: CameraStats, window: WindowStats | None, period_s: float, max_age_s: float
    ) -> DiagnosticStatus:
        new = cam.received - self._prev.received.get(cam.topic, 0)
        new_invalid = cam.invalid - self._prev.invalid.get(cam.topic, 0)
        self._prev.received[cam.topic] = cam.received
        self._prev.invalid[cam.topic] = cam.invalid
        level, message = OK, "receiving"
        stale = stale_reason(cam, window, max_age_s, cam.usable_age_s)
        if cam.silent_s is None:
            level, message = WARN, "no frames received yet"
        elif stale:
            level, message = WARN, f"stale: {stale}"
        elif new_invalid:
            cause = CAUSE_WORDS.get(cam.last_cause, cam.last_cause)
            level, message = (
                WARN,
                f"{new_invalid} invalid frames dropped ({cause}): {cam.last_error}",
            )
        values = {
            "input_rate_hz": f"{new / period_s:.2f}",
            "received": str(cam.received),
            "invalid": str(cam.invalid),
            **{f"invalid_{cause}": str(n) for cause, n in cam.invalid_by_cause},
            "last_error": cam.last_error,
            "silent_s": "" if cam.silent_s is None else f"{cam.silent_s:.2f}",
            "usable_age_s": "" if cam.usable_age_s is None else f"{cam.usable_age_s:.2f}",
        }
        if window is not None:
            values.update(
                kept=str(window.kept),
                skipped_rate=str(window.skipped_rate),
                out_of_order=str(window.out_of_order),
                duplicate=str(window.duplicate),
                window_fill=f"{window.fill}/{window.capacity}",
            )
        return _status(f"{self._name}: camera {cam.topic}", level, message, values)

    def _reasoner(
        self,
        state: str,
        c: DecisionCounters,
        worker: WorkerStats | None,
        backend: BackendInfo | None,
        last_error: str,
    ) -> DiagnosticStatus:
        new_failed = c.failed - self._prev.failed
        self._prev.failed = c.failed
        if last_error and (backend is None or not backend.loaded):
            level, message = ERROR, f"{state}: {last_error}"
        elif backend is None or not backend.loaded:
            level, message = (
                (ERROR, "no model loaded") if state != "unconfigured" else (OK, "unconfigured")
            )
        elif new_failed:
            level, message = WARN, f"{new_failed} decisions failed since the last report"
        else:
            level, message = OK, state
        values = {
            "state": state,
            "last_error": last_error,
            "decisions_made": str(c.made),
            "decisions_skipped": str(c.skipped),
            "decisions_failed": str(c.failed),
            "decisions_invalid": str(c.invalid),
            "last_latency_s": f"{c.latencies_s[-1]:.3f}" if c.latencies_s else "",
            "p95_latency_s": f"{c.p95_s():.3f}",
        }
        if worker is not None:
            values.update(busy=str(worker.busy), pending=f"{worker.pending}/{worker.max_pending}")
        if backend is not None:
            values.update(
                backend=backend.backend,
                model=backend.model,
                architecture=backend.architecture,
                architecture_source=backend.architecture_source,
                capabilities=backend.capabilities.summary(),
                device=backend.device,
                dtype=backend.dtype,
                quantization=backend.quantization,
                model_loaded=str(backend.loaded),
            )
            if backend.gpu_memory_bytes is not None:
                values["gpu_memory_mb"] = f"{backend.gpu_memory_bytes / 2**20:.0f}"
        return _status(f"{self._name}: reasoner", level, message, values)


def _status(name: str, level: bytes, message: str, values: dict[str, str]) -> DiagnosticStatus:
    return DiagnosticStatus(
        level=level,
        name=name,
        message=message,
        hardware_id="cosmos_reason",
        values=[KeyValue(key=k, value=v) for k, v in values.items()],
    )
