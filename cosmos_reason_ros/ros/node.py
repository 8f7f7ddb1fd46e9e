"""``ReasonNode``: the ``cosmos_reason`` lifecycle node. A thin shell over the core.

Resources by state: configure = validate parameters, load the model, create publishers;
activate = cameras, windows, the decision worker, the timer; deactivate = stop triggering and
drop them; cleanup = release the model (and GPU memory). The service and the action exist in
every state, so a planner always gets an answer: a decision, or why not (the node's state and
its last error). Inference runs on one worker thread; no callback waits for it, and every
callback is guarded so that no exception ends the process.
"""

from __future__ import annotations

import dataclasses
import gc
import os
import sys
import threading
import time
import traceback
from typing import Any, NoReturn

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import SetParametersResult
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn

from cosmos_reason_ros import config as params
from cosmos_reason_ros.config.loading import load_configured
from cosmos_reason_ros.core.alert_judge import AlertJudge
from cosmos_reason_ros.core.decision import Decision
from cosmos_reason_ros.core.errors import ConfigError, CosmosReasonError
from cosmos_reason_ros.core.generation import Backend, TextCallback
from cosmos_reason_ros.core.reasoner import Reasoner
from cosmos_reason_ros.core.window import WindowSet
from cosmos_reason_ros.core.worker import STOPPING, Job, Reservation
from cosmos_reason_ros.exits import ExitCode
from cosmos_reason_ros.ros import process
from cosmos_reason_ros.ros.alerts import Alerts, declare_rules, rule_values
from cosmos_reason_ros.ros.cameras import Camera, create_cameras
from cosmos_reason_ros.ros.decisions import Decisions
from cosmos_reason_ros.ros.diagnostics import DecisionCounters, DiagnosticsReport
from cosmos_reason_ros.ros.guard import guarded, nothing
from cosmos_reason_ros.ros.memory import freeze_long_lived, thaw, tune_allocator
from cosmos_reason_ros.ros.node_help import node_help, wants_help
from cosmos_reason_ros.ros.outputs import Outputs
from cosmos_reason_ros.ros.param_hints import check_overrides
from cosmos_reason_ros.ros.params_ros import declare_all, vet
from cosmos_reason_ros.ros.rclpy_adapter import lifecycle_state
from cosmos_reason_ros.ros.requests import Outcome, Refused
from cosmos_reason_ros.ros.servers import Request, RequestServers
from cosmos_reason_ros.ros.shm_segments import remove_owned_segments

SUCCESS, FAILURE = TransitionCallbackReturn.SUCCESS, TransitionCallbackReturn.FAILURE


class ReasonNode(LifecycleNode):
    """Watches cameras, answers "what next?" with a validated NextAction. See module doc."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("cosmos_reason", **kwargs)
        log = self.get_logger()
        self._param_errors = declare_all(self) | declare_rules(self) | check_overrides(self)
        self.add_on_set_parameters_callback(
            guarded(log, "parameter change", _refused_change)(self._on_set_parameters)
        )
        self._lock = threading.Lock()
        self._stopping = False
        self._still_running: Decisions | None = None
        self._last_error = ""
        self._config: params.NodeConfig | None = None
        self._backend: Backend | None = None
        self._reasoner: Reasoner | None = None
        self._outputs: Outputs | None = None
        self._windows: WindowSet | None = None
        self._cameras: list[Camera] = []
        self._decisions: Decisions | None = None
        self._alerts: Alerts | None = None
        self._timer: Any = None
        self._counters = DecisionCounters()
        self._group = ReentrantCallbackGroup()
        self._report = DiagnosticsReport(self.get_name())
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        period = float(self.get_parameter("diagnostics_period_s").value or 1.0)
        self._diag_timer = self.create_timer(
            max(0.1, period), guarded(log, "diagnostics", nothing)(self._publish_diagnostics)
        )
        self._servers = RequestServers(self, self, self._group)

    @property
    def state(self) -> str:
        """The lifecycle state as rclpy's state machine holds it (``active``, …)."""
        return lifecycle_state(self)

    # ----- lifecycle -------------------------------------------------------------------
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            self._param_errors |= declare_rules(self)  # rules named since the start
            if self._param_errors:
                raise ConfigError("; ".join(self._param_errors.values()))
            values = self._values()
            model = str(values["model"])  # quoted in part: a bad value may be megabytes
            model = model if len(model) <= 200 else f"{model[:200]}... ({len(model)} characters)"
            self.get_logger().info(f"loading {values['backend']} model {model}")
            t0 = time.monotonic()
            config, backend = load_configured(values)
        except CosmosReasonError as exc:
            return self._fail(f"configure failed: {exc}")
        except Exception as exc:  # a bug or an unexpected library error: keep the node up
            self.get_logger().error(f"configure failed unexpectedly:\n{traceback.format_exc()}")
            return self._fail(f"configure failed: internal error: {exc!r}")
        info = backend.describe()
        self.get_logger().info(
            f"model loaded: architecture={config.architecture.describe()} "
            f"profile={config.reasoner.profile} device={info.device} dtype={info.dtype} "
            f"load_s={time.monotonic() - t0:.1f}; backend {info.capabilities.summary()}"
        )
        self._config, self._backend = config, backend
        self.get_logger().info(f"gc: {freeze_long_lived()} long-lived objects frozen")
        self._reasoner = Reasoner(backend, config.reasoner)
        self._outputs = Outputs(self)
        self._last_error = ""
        return SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        cfg, reasoner, outputs = self._config, self._reasoner, self._outputs
        if self._stopping:  # a stop that came between autostart's configure and activate
            return self._fail("activate refused: the node is stopping")
        if cfg is None or reasoner is None or outputs is None:
            return self._fail("activate failed: the node is not configured")
        self._windows = WindowSet(cfg.image_topics, cfg.window)
        self._cameras = create_cameras(self, self._windows, cfg.image_qos, cfg.max_input_pixels)
        self._decisions = Decisions(
            self,
            reasoner=reasoner,
            outputs=outputs,
            cameras=self._cameras,
            windows=self._windows,
            config=cfg,
            counters=self._counters,
            lock=self._lock,
        )
        self._timer = self._make_timer(cfg.decision_period_s)
        if cfg.alert_rules and self._backend is not None:
            self._alerts = Alerts(
                self,
                judge=AlertJudge(self._backend, lambda: reasoner.config),
                worker=self._decisions.worker,
                cameras=self._cameras,
                windows=self._windows,
                config=cfg,
                next_id=self._decisions.next_id,
                outputs=outputs,
                group=self._group,
            )
        self.get_logger().info(f"active: watching {', '.join(cfg.image_topics)}")
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_triggers()
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        if not self._release():
            return self._fail(
                "cleanup failed: a decision still runs in the model (a prefill cannot be "
                "interrupted), so the model stays loaded; clean up again once it ends"
            )
        return SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.close()
        return SUCCESS

    def begin_stop(self) -> None:
        """The process is stopping: refuse every new request ("node is stopping"), end the
        periodic decisions and answer every queued and running request now. The servers stay
        up, so requests still arriving are answered too (while the executor spins)."""
        self._stopping = True
        self._servers.touch()
        if self._timer is not None:
            self.destroy_timer(self._timer)
            self._timer = None
        decisions = self._decisions
        if decisions is not None:
            decisions.close()

    def wait_decisions(self, timeout_s: float) -> bool:
        """After ``begin_stop``: wait up to ``timeout_s`` for the running decision to end;
        returns whether none runs any more."""
        decisions = self._decisions
        return decisions is None or decisions.join(timeout_s)

    def requests_quiet_for(self) -> float:
        """Seconds since a request last arrived or was answered."""
        return self._servers.quiet_for()

    def close(self) -> None:
        """Stop triggering and release the model, whatever the state (not while a decision
        that outlived its cancellation still runs in it: then the process exit frees it).
        Idempotent."""
        self._stop_triggers()
        self._release()

    def _fail(self, message: str) -> TransitionCallbackReturn:
        self._last_error = message
        self.get_logger().error(message)
        return FAILURE

    def _stop_triggers(self) -> None:
        if self._timer is not None:
            self.destroy_timer(self._timer)
            self._timer = None
        alerts, self._alerts = self._alerts, None
        decisions, self._decisions = self._decisions, None
        if decisions is not None and not decisions.stop():
            self._still_running = decisions  # its model must not be released under it
        if alerts is not None:  # after the worker: no judgment runs any more
            alerts.stop()
        for cam in self._cameras:
            cam.destroy()
        self._cameras = []

    def _release(self) -> bool:
        """Release the model and the outputs; returns False (releasing nothing) while a
        decision that did not end at its cancellation still runs in the model."""
        running = self._still_running
        if running is not None and not running.join(0):
            return False
        self._still_running = None
        if self._outputs is not None:
            self._outputs.destroy()
            self._outputs = None
        if self._backend is not None:
            self._backend.close()
        self._backend = self._reasoner = self._config = None
        thaw()
        gc.collect()
        return True

    # ----- requests (the servers' Submitter) -------------------------------------------
    def submit(
        self,
        request: Request,
        on_text: TextCallback | None = None,
        reservation: Reservation | None = None,
    ) -> Job[Decision]:
        return self._active().submit(request, on_text, reservation)

    def reserve(self) -> Reservation:
        return self._active().reserve()

    def failed(self, outcome: Outcome) -> None:
        with self._lock:
            self._counters.failed += 1

    def _active(self) -> Decisions:
        if self._stopping:
            raise Refused(STOPPING)
        decisions = self._decisions
        if decisions is None or self.state != "active":
            error = f": {self._last_error}" if self._last_error else ""
            raise Refused(f"node is up but {self.state}{error}")
        return decisions

    def _make_timer(self, period_s: float) -> Any:
        if period_s <= 0 or self._stopping:  # no periodic decisions once the stop began
            return None
        tick = guarded(self.get_logger(), "periodic decision", nothing)(self._tick)
        return self.create_timer(period_s, tick, callback_group=self._group)

    def _tick(self) -> None:
        if self._decisions is not None:
            self._decisions.tick()

    # ----- parameters and diagnostics --------------------------------------------------
    def _values(self) -> dict[str, Any]:
        values = {s.name: self.get_parameter(s.name).value for s in params.SPECS}
        return values | rule_values(self)

    def _on_set_parameters(self, changes: list[Any]) -> SetParametersResult:
        current = self._values()
        reason, new = vet(changes, current, self._config, self.state)
        if reason:
            return SetParametersResult(successful=False, reason=reason)
        for p in changes:
            self._param_errors.pop(p.name, None)
        if new is not None:
            self._apply_live(new)
        return SetParametersResult(successful=True)

    def _apply_live(self, new: params.NodeConfig) -> None:
        old, self._config = self._config, new
        if self._reasoner is not None:
            self._reasoner.reconfigure(new.reasoner)
        if self._decisions is not None:
            self._decisions.update(new)
        if self._decisions is not None and old and old.decision_period_s != new.decision_period_s:
            if self._timer is not None:
                self.destroy_timer(self._timer)
            self._timer = self._make_timer(new.decision_period_s)

    def _publish_diagnostics(self) -> None:
        cfg, windows, decisions = self._config, self._windows, self._decisions
        with self._lock:
            counters = dataclasses.replace(
                self._counters, latencies_s=self._counters.latencies_s.copy()
            )
        statuses = self._report.build(
            state=self.state,
            period_s=float(self.get_parameter("diagnostics_period_s").value),
            max_frame_age_s=cfg.max_frame_age_s if cfg else 0.0,
            cameras=[c.stats() for c in self._cameras],
            windows={s.camera: s for s in windows.stats()} if windows else {},
            counters=counters,
            worker=decisions.worker.stats() if decisions else None,
            backend=self._backend.describe() if self._backend else None,
            last_error=self._last_error,
        )
        alerts = self._alerts
        if alerts is not None:
            statuses.append(alerts.status(self.get_name()))
        msg = DiagnosticArray(status=statuses)
        msg.header.stamp = self.get_clock().now().to_msg()
        self._diag_pub.publish(msg)


def _refused_change(_changes: Any) -> SetParametersResult:
    return SetParametersResult(successful=False, reason="internal error: see the node's log")


STOP_GRACE_S = 10.0
"""Longest a stopping process waits for the running decision to notice its cancellation (a
decision ends at its next token; a prefill cannot be interrupted). Past it the process exits
without releasing the model under the decision (``_exit_now``)."""

DRAIN_QUIET_S = 0.5
"""A stopping process keeps answering requests ("node is stopping") until none has arrived or
been answered for this long, so callers whose requests were still in flight hear it too."""

DRAIN_MAX_S = STOP_GRACE_S + 5.0
"""Longest a stopping process keeps answering, even if requests keep coming."""


def main(args: list[str] | None = None) -> int:
    """Entry point of ``reason_node``: ``--help`` initialises nothing; otherwise spin until
    SIGINT/SIGTERM, answer every caller, close the node, return ``ExitCode.OK``. Autostart runs
    on a thread while the node spins: ``~/ask`` answers during a long load ("node is up but
    configuring"), signals act at once. The process never aborts, whatever runs when the signal
    comes (``_stop``); a second SIGINT skips the waits."""
    if wants_help(sys.argv[1:] if args is None else args):
        print(node_help())
        return ExitCode.OK
    allocator = tune_allocator()
    process.init(args)
    with process.StopSignals() as stop:
        node = ReasonNode()
        node.get_logger().info(f"allocator: {allocator}")
        executor = MultiThreadedExecutor(num_threads=8)
        executor.add_node(node)
        loader = None
        if node.get_parameter("autostart").value:
            loader = threading.Thread(target=_autostart, args=(node, stop), daemon=True)
            loader.start()
        try:
            while not stop.is_set() and rclpy.ok():
                executor.spin_once(timeout_sec=process.SPIN_PERIOD_S)
        except ExternalShutdownException:
            pass
        finally:
            if stop.is_set():
                node.get_logger().info(f"{stop.name}: stopping")
            _shut_down(node, executor, loader)
    return ExitCode.OK


def _shut_down(
    node: ReasonNode, executor: MultiThreadedExecutor, loader: threading.Thread | None
) -> None:
    """Answer every caller, then release everything; or, where a thread is still inside the
    model (a prefill, a load) after ``STOP_GRACE_S``, or a second SIGINT comes, exit at once
    (``_exit_now``)."""
    try:
        decided = _stop(node, executor)
        if loader is not None and loader.is_alive():
            _exit_now(node, "the model is still loading (a load cannot be interrupted)")
        if not decided:
            _exit_now(
                node,
                f"a decision still runs in the model {STOP_GRACE_S:g} s after the stop (a "
                "prefill cannot be interrupted)",
            )
        executor.shutdown(timeout_sec=5.0)
        node.close()
        node.destroy_node()
        rclpy.try_shutdown()
    except KeyboardInterrupt:
        _exit_now(node, "a second SIGINT")


def _stop(node: ReasonNode, executor: MultiThreadedExecutor) -> bool:
    """Answer every caller ("node is stopping"), those whose requests still arrive included,
    and wait up to ``STOP_GRACE_S`` for the running decision; returns whether it ended."""
    node.begin_stop()
    started = time.monotonic()
    ended = False
    while rclpy.ok():
        elapsed = time.monotonic() - started
        ended = ended or node.wait_decisions(0.0)
        quiet = node.requests_quiet_for() >= DRAIN_QUIET_S
        if (quiet and (ended or elapsed > STOP_GRACE_S)) or elapsed > DRAIN_MAX_S:
            break
        executor.spin_once(timeout_sec=0.05)
    return ended or node.wait_decisions(0.0)


def _exit_now(node: ReasonNode, why: str) -> NoReturn:
    """End the process at once with ``ExitCode.OK``: every caller has been answered, and a
    thread may still be inside the model, which must not be released under it. Python's
    normal exit would end that thread with ``pthread_exit``, which unwinds through C++ and
    aborts ("terminate called without an active exception")."""
    node.get_logger().warning(f"{why}; every caller was answered: exiting now")
    # The DDS participant is never destroyed: unlink its shared-memory files (shm_segments).
    remove_owned_segments()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(ExitCode.OK)


def _autostart(node: ReasonNode, stop: process.StopSignals) -> None:
    """configure, then activate, unless the process is stopping meanwhile."""
    try:
        if node.trigger_configure() == SUCCESS and not stop.is_set():
            node.trigger_activate()
    except Exception:  # the process stopped under it (the node or context is gone)
        if not stop.is_set():
            node.get_logger().error(f"autostart failed:\n{traceback.format_exc()}")
