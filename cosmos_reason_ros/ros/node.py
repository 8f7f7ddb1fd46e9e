"""``ReasonNode``: the ``cosmos_reason`` lifecycle node. A thin shell over the core.

Resources by state: configure = validate parameters, load the model, create publishers;
activate = cameras, window, worker, service, action, timer; deactivate = stop triggering and
drop them; cleanup = release the model (and GPU memory). Inference runs on one worker thread,
never in an executor callback; callbacks only decode frames, queue requests or wait.
"""

from __future__ import annotations

import dataclasses
import gc
import itertools
import threading
import time
from typing import Any

import rclpy
from rcl_interfaces.msg import SetParametersResult
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn

from cosmos_reason_ros.backends import Backend, create_backend
from cosmos_reason_ros.core.decision import Decision
from cosmos_reason_ros.core.errors import (
    BackendError,
    ConfigError,
    GenerationCancelled,
    InputError,
)
from cosmos_reason_ros.core.prompts import profile_for
from cosmos_reason_ros.core.reasoner import Reasoner
from cosmos_reason_ros.core.types import WindowSnapshot
from cosmos_reason_ros.core.window import WindowSet
from cosmos_reason_ros.core.worker import InferenceWorker
from cosmos_reason_ros.ros import parameters as params
from cosmos_reason_ros.ros.cameras import Camera, create_cameras, fresh_snapshot
from cosmos_reason_ros.ros.diagnostics import DecisionCounters, DiagnosticsReport
from cosmos_reason_ros.ros.outputs import Outputs
from cosmos_reason_ros.ros.params_ros import declare_all, rejection
from cosmos_reason_ros.ros.requests import Outcome, failure_message, validated_request, wait_for
from cosmos_reason_ros.ros.servers import RequestServers

from diagnostic_msgs.msg import DiagnosticArray  # isort: skip

SUCCESS, FAILURE = TransitionCallbackReturn.SUCCESS, TransitionCallbackReturn.FAILURE


class ReasonNode(LifecycleNode):
    """Watches cameras, answers "what next?" with a validated NextAction. See module doc."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("cosmos_reason", **kwargs)
        self._param_errors = declare_all(self)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self._lock = threading.Lock()
        self._state = "unconfigured"
        self._config: params.NodeConfig | None = None
        self._backend: Backend | None = None
        self._reasoner: Reasoner | None = None
        self._windows: WindowSet | None = None
        self._cameras: list[Camera] = []
        self._worker: InferenceWorker | None = None
        self._servers: RequestServers | None = None
        self._ids = itertools.count(1)
        self._counters = DecisionCounters()
        self._group = ReentrantCallbackGroup()
        self._report = DiagnosticsReport(self.get_name())
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        period = float(self.get_parameter("diagnostics_period_s").value or 1.0)
        self._diag_timer = self.create_timer(max(0.1, period), self._publish_diagnostics)

    # ----- lifecycle -------------------------------------------------------------------
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            if self._param_errors:
                raise ConfigError("; ".join(self._param_errors.values()))
            config = params.build_config(self._values())
            t0 = time.monotonic()
            self.get_logger().info(
                f"loading {config.backend.backend} model {config.backend.model}"
            )
            backend = create_backend(config.backend)
            backend.load()
            info = backend.describe()
            profile = profile_for(config.reasoner.profile, info.architecture)
            config = params.build_config(self._values(), patch_multiple=profile.patch_multiple)
        except (ConfigError, BackendError) as exc:
            self.get_logger().error(f"configure failed: {exc}")
            return FAILURE
        self.get_logger().info(
            f"model loaded: architecture={info.architecture} profile={profile.name} "
            f"device={info.device} dtype={info.dtype} load_s={time.monotonic() - t0:.1f}"
        )
        self._config, self._backend = config, backend
        self._reasoner = Reasoner(backend, config.reasoner)
        self._outputs = Outputs(self)
        self._state = "inactive"
        return SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        cfg = self._require_config()
        self._windows = WindowSet(cfg.image_topics, cfg.window)
        self._cameras = create_cameras(self, self._windows, cfg.image_qos, cfg.max_input_pixels)
        self._worker = InferenceWorker(cfg.max_pending)
        self._servers = RequestServers(self, self._request, self._group)
        self._timer = self._make_timer(cfg.decision_period_s)
        self._state = "active"
        self.get_logger().info(f"active: watching {', '.join(cfg.image_topics)}")
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._state = "inactive"
        self._stop_triggers()
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release()
        self._state = "unconfigured"
        return SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.close()
        return SUCCESS

    def close(self) -> None:
        """Stop triggering and release the model, whatever the state. Idempotent."""
        self._stop_triggers()
        self._release()
        self._state = "finalized"

    def _stop_triggers(self) -> None:
        if self._timer is not None:
            self.destroy_timer(self._timer)
            self._timer = None
        if self._servers is not None:
            self._servers.destroy()
            self._servers = None
        for cam in self._cameras:
            cam.destroy()
        self._cameras = []
        if self._worker is not None:
            self._worker.stop()
            self._worker = None

    def _release(self) -> None:
        if self._outputs is not None:
            self._outputs.destroy()
            self._outputs = None
        if self._backend is not None:
            self._backend.close()
        self._backend = self._reasoner = self._config = None
        gc.collect()

    _timer: Any = None
    _outputs: Outputs | None = None

    # ----- triggers --------------------------------------------------------------------
    def _request(
        self,
        question: str,
        choices: list[str],
        on_text: Any = None,
        cancel_requested: Any = lambda: False,
    ) -> Outcome:
        worker, reasoner, cfg = self._worker, self._reasoner, self._config
        if self._state != "active" or worker is None or reasoner is None or cfg is None:
            return Outcome(False, f"node is not active (state: {self._state})")
        try:
            question, choices_t = validated_request(reasoner, question, choices)
            job = worker.submit(
                lambda cancel: self._decide(question, choices_t, on_text, cancel),
                timeout_s=cfg.inference_timeout_s,
            )
        except Exception as exc:  # InputError, QueueFullError: one message either way
            return Outcome(False, failure_message(exc))
        outcome = wait_for(job, cancel_requested)
        if not outcome.success:
            with self._lock:
                self._counters.failed += 1
        return outcome

    def _on_tick(self) -> None:
        worker, cfg = self._worker, self._config
        if worker is None or cfg is None:
            return
        if not worker.idle():
            with self._lock:
                self._counters.skipped += 1
            return
        job = worker.submit(
            lambda cancel: self._decide("", (), None, cancel), timeout_s=cfg.inference_timeout_s
        )
        job.future.add_done_callback(self._after_tick)

    def _after_tick(self, future: Any) -> None:
        exc = future.exception()
        if exc is None or isinstance(exc, GenerationCancelled) or not self.context.ok():
            return  # cancelled: the node is deactivating or shutting down; nothing to report
        message = failure_message(exc)
        with self._lock:
            self._counters.failed += 1
        self.get_logger().warning(f"periodic decision failed: {message}", throttle_duration_sec=10)
        reasoner, cfg = self._reasoner, self._config
        if reasoner is not None and cfg is not None and cfg.publish_on_failure:
            decision = reasoner.fallback(next(self._ids), message)
            now_ns = self.get_clock().now().nanoseconds
            self._publish(dataclasses.replace(decision, stamp_ns=now_ns), None)

    # ----- the job (worker thread) -----------------------------------------------------
    def _decide(
        self, question: str, choices: tuple[str, ...], on_text: Any, cancel: threading.Event
    ) -> Decision:
        reasoner = self._reasoner
        if reasoner is None:
            raise InputError("the model was released")
        t0 = time.monotonic()
        snapshot = self._fresh_snapshot()
        decision = reasoner.decide(
            snapshot,
            decision_id=next(self._ids),
            question=question,
            choices=choices,
            on_text=on_text,
            cancel=cancel,
            snapshot_s=time.monotonic() - t0,
        )
        if cancel.is_set():  # timed out or cancelled meanwhile: never publish a late decision
            raise GenerationCancelled(f"decision {decision.decision_id} finished too late")
        self._publish(decision, snapshot)
        with self._lock:
            self._counters.made += 1
            self._counters.invalid += 0 if decision.valid else 1
            self._counters.latencies_s.append(decision.timings.latency_s)
        return decision

    def _fresh_snapshot(self) -> WindowSnapshot:
        cfg, windows = self._require_config(), self._windows
        if windows is None:
            raise InputError("the node is not active")
        return fresh_snapshot(self._cameras, windows, cfg.max_frame_age_s)

    def _publish(self, decision: Decision, snapshot: WindowSnapshot | None) -> None:
        outputs, cfg = self._outputs, self._config
        if outputs is not None:
            outputs.publish(decision, snapshot, debug=bool(cfg and cfg.debug_image))

    # ----- parameters and diagnostics --------------------------------------------------
    def _values(self) -> dict[str, Any]:
        return {s.name: self.get_parameter(s.name).value for s in params.SPECS}

    def _require_config(self) -> params.NodeConfig:
        if self._config is None:
            raise InputError("the node is not configured")
        return self._config

    def _make_timer(self, period_s: float) -> Any:
        if period_s <= 0:
            return None
        return self.create_timer(period_s, self._on_tick, callback_group=self._group)

    def _on_set_parameters(self, changes: list[Any]) -> SetParametersResult:
        current = self._values()
        reason = rejection(changes, current, self._config, self._state)
        if reason:
            return SetParametersResult(successful=False, reason=reason)
        values = {**current, **{p.name: p.value for p in changes}}
        for p in changes:
            self._param_errors.pop(p.name, None)
        if self._config is not None:
            new = params.build_config(values, patch_multiple=self._config.window.patch_multiple)
            self._apply_live(new)
        return SetParametersResult(successful=True)

    def _apply_live(self, new: params.NodeConfig) -> None:
        old, self._config = self._config, new
        if self._reasoner is not None:
            self._reasoner.reconfigure(new.reasoner)
        if self._worker is not None:
            self._worker.max_pending = new.max_pending
        if self._state == "active" and old and old.decision_period_s != new.decision_period_s:
            if self._timer is not None:
                self.destroy_timer(self._timer)
            self._timer = self._make_timer(new.decision_period_s)

    def _publish_diagnostics(self) -> None:
        cfg = self._config
        with self._lock:
            counters = dataclasses.replace(
                self._counters, latencies_s=self._counters.latencies_s.copy()
            )
        windows = self._windows
        statuses = self._report.build(
            state=self._state,
            period_s=float(self.get_parameter("diagnostics_period_s").value),
            max_frame_age_s=cfg.max_frame_age_s if cfg else 0.0,
            cameras=[c.stats() for c in self._cameras],
            windows={s.camera: s for s in windows.stats()} if windows else {},
            counters=counters,
            worker=self._worker.stats() if self._worker else None,
            backend=self._backend.describe() if self._backend else None,
        )
        msg = DiagnosticArray(status=statuses)
        msg.header.stamp = self.get_clock().now().to_msg()
        self._diag_pub.publish(msg)


def main(args: list[str] | None = None) -> int:
    """Entry point of ``reason_node`` (and ``python -m cosmos_reason_ros.node``)."""
    rclpy.init(args=args)
    node = ReasonNode()
    executor = MultiThreadedExecutor(num_threads=8)
    executor.add_node(node)
    try:
        if node.get_parameter("autostart").value and (node.trigger_configure() == SUCCESS):
            node.trigger_activate()
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.close()
        node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
    return 0
