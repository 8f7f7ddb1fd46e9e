"""Alert rules on the live window: the rules' parameters, one judgment of every rule each
``alert_period_s`` on the inference worker, state changes on ``~/alerts`` and the raised rules
in ``/diagnostics``.

A judgment is submitted only while the worker is idle, and never queued: an ask therefore
waits behind at most one judgment (the one running), and a judgment that finds the worker busy
is skipped (counted in diagnostics). Its chain of thought goes to ``~/reasoning`` under the
``decision_id`` its alerts carry.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from diagnostic_msgs.msg import DiagnosticStatus, KeyValue
from rclpy.lifecycle import LifecycleNode
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

from cosmos_reason_ros.config import NodeConfig
from cosmos_reason_ros.config.alert_rules import ALERT_PREFIX, RULE_KEYS, rule_specs
from cosmos_reason_ros.core.alert_judge import AlertJudge, Judgment
from cosmos_reason_ros.core.alerts import (
    AlertEvent,
    AlertTracker,
    ParsedJudgment,
    check_rule_names,
)
from cosmos_reason_ros.core.errors import ConfigError, GenerationCancelled
from cosmos_reason_ros.core.window import WindowSet
from cosmos_reason_ros.core.worker import (
    CancelEvent,
    InferenceWorker,
    QueueFullError,
    WorkerStopped,
)
from cosmos_reason_ros.ros.cameras import Camera, fresh_snapshot
from cosmos_reason_ros.ros.conversions import time_from_ns
from cosmos_reason_ros.ros.guard import guarded, nothing
from cosmos_reason_ros.ros.outputs import Outputs
from cosmos_reason_ros.ros.params_ros import declare_all
from cosmos_reason_ros.ros.rclpy_adapter import parameter_overrides
from cosmos_reason_ros.ros.requests import failure_message

ALERTS_QOS = QoSProfile(
    depth=50,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.TRANSIENT_LOCAL,
)
"""``~/alerts``: a late subscriber still hears the last 50 state changes."""

_LEVELS = {"info": DiagnosticStatus.OK, "warning": DiagnosticStatus.WARN}


def declare_rules(node: LifecycleNode) -> dict[str, str]:
    """Declare ``alerts.<name>.<key>`` for every rule ``alerts`` names and that is not declared
    yet (overrides apply, as for every parameter). Called at start and at each configure.

    Returns:
        Problems (parameter name -> message) for configure to fail with: an override under
        ``alerts.`` that names no rule of ``alerts`` or no rule key, and overrides of the wrong
        type or out of range.
    """
    names = list(node.get_parameter("alerts").value or [])
    try:
        check_rule_names(names)
    except ConfigError:
        return {}  # configure refuses the alerts value itself, naming it
    specs = [s for rule in names for s in rule_specs(rule) if not node.has_parameter(s.name)]
    errors = declare_all(node, specs)
    overrides = parameter_overrides(node)
    for name in overrides:
        if name.startswith(ALERT_PREFIX) and not node.has_parameter(name):
            errors[name] = _unknown_key(name, names)
            node.get_logger().error(errors[name])
    return errors


def _unknown_key(name: str, rules: list[str]) -> str:
    rule, _, key = name[len(ALERT_PREFIX) :].rpartition(".")
    if rule not in rules:
        why = f"'{rule}' is not a rule named in alerts ({', '.join(rules) or 'none'})"
    else:
        why = f"'{key}' is not a rule key (one of: {', '.join(RULE_KEYS)})"
    return f"unknown parameter '{name}': {why}; fix the name and start the node again"


def rule_values(node: LifecycleNode) -> dict[str, Any]:
    """The declared ``alerts.<name>.<key>`` values of the rules ``alerts`` names."""
    names = node.get_parameter("alerts").value or []
    return {
        s.name: node.get_parameter(s.name).value
        for rule in names
        for s in rule_specs(str(rule))
        if node.has_parameter(s.name)
    }


class Alerts:
    """The alert rules of one activation: a timer, the judgments, the publisher. Thread-safe.

    Args:
        node: The node (timer, publisher, clock, logger).
        judge: Judges the rules with the node's backend.
        worker: The node's inference worker (shared with decisions and asks).
        cameras: The cameras feeding ``windows``.
        windows: The frame windows.
        config: The configuration at activation (its ``alert_rules``, ``alert_period_s``).
        next_id: The next ``decision_id`` (shared with decisions: one ``~/reasoning`` sequence).
        outputs: Where the judgment's reasoning is published.
        group: The callback group of the timer.
    """

    def __init__(
        self,
        node: LifecycleNode,
        *,
        judge: AlertJudge,
        worker: InferenceWorker,
        cameras: list[Camera],
        windows: WindowSet,
        config: NodeConfig,
        next_id: Callable[[], int],
        outputs: Outputs,
        group: Any,
    ) -> None:
        self._node = node
        self._judge = judge
        self._worker = worker
        self._cameras = cameras
        self._windows = windows
        self._config = config
        self._next_id = next_id
        self._outputs = outputs
        self._rules = config.alert_rules
        self._tracker = AlertTracker(self._rules)
        self._lock = threading.Lock()  # guards the tracker and the counters
        self._ids = itertools.count(1)
        self._counts = {"judged": 0, "skipped": 0, "failed": 0, "invalid": 0}
        # Imported here: a node without rules runs on interfaces built before Alert existed.
        from cosmos_reason_ros.msg import Alert

        self._alert_type = Alert
        self._pub = node.create_publisher(Alert, "~/alerts", ALERTS_QOS)
        tick = guarded(node.get_logger(), "alert judgment", nothing)(self.tick)
        self._timer = node.create_timer(config.alert_period_s, tick, callback_group=group)

    def stop(self) -> None:
        """End the judgments (the worker's close answers a running one) and the publisher."""
        self._node.destroy_timer(self._timer)
        self._node.destroy_publisher(self._pub)

    def tick(self) -> None:
        """Judge the window now, unless the worker is busy (then count it as skipped)."""
        job = None
        if self._worker.idle():
            try:
                job = self._worker.submit(self._run, timeout_s=self._config.inference_timeout_s)
            except (QueueFullError, WorkerStopped):
                job = None
        if job is None:
            with self._lock:
                self._counts["skipped"] += 1
            return
        job.future.add_done_callback(self._after)

    def _run(self, cancel: CancelEvent) -> Judgment:
        """One judgment (worker thread): judge, publish its reasoning, then its alerts."""
        snapshot = fresh_snapshot(self._cameras, self._windows, self._config.max_frame_age_s)
        judgment = self._judge.judge(
            snapshot, self._rules, decision_id=self._next_id(), cancel=cancel
        )
        if not cancel.claim():  # timed out or cancelled meanwhile: never publish it late
            raise GenerationCancelled(f"judgment {judgment.record.decision_id} finished late")
        self._outputs.publish_reasoning(judgment.record)
        with self._lock:
            self._counts["judged"] += 1
            self._counts["invalid"] += 0 if judgment.parsed.valid else 1
        events = self._observe(judgment.parsed)
        if self._node.context.ok():
            for event in events:
                self._pub.publish(self._message(event, judgment))
        return judgment

    def _observe(self, parsed: ParsedJudgment) -> list[AlertEvent]:
        now_s = self._node.get_clock().now().nanoseconds / 1e9  # sim time where used
        with self._lock:
            return self._tracker.observe(parsed, now_s)

    def _after(self, future: Future[Judgment]) -> None:
        exc = future.exception()  # a failed judgment is an unusable one: it breaks the runs
        if exc is None or isinstance(exc, GenerationCancelled) or not self._node.context.ok():
            return
        with self._lock:
            self._counts["failed"] += 1
        self._observe(ParsedJudgment((), math.nan, False, failure_message(exc)))
        self._node.get_logger().warning(
            f"alert judgment failed: {failure_message(exc)}", throttle_duration_sec=10.0
        )

    def _message(self, event: AlertEvent, judgment: Judgment) -> Any:
        record = judgment.record
        msg = self._alert_type()
        msg.header.stamp = time_from_ns(record.stamp_ns)
        msg.header.frame_id = record.frame_id
        msg.alert_id = next(self._ids)
        msg.rule = event.rule.name
        msg.state = int(event.state)
        msg.severity = event.rule.severity
        msg.confidence = record.confidence if math.isfinite(record.confidence) else math.nan
        msg.evidence = event.verdict.evidence
        msg.window_start = time_from_ns(record.window_start_ns)
        msg.cameras = list(judgment.cameras)
        msg.decision_id = record.decision_id
        return msg

    def status(self, node_name: str) -> DiagnosticStatus:
        """The alerts' diagnostic status: the raised rules at their severity (the most severe
        sets the level), and the judgment counters."""
        with self._lock:
            raised = self._tracker.raised()
            counts = dict(self._counts)
        level = max(
            (_LEVELS.get(r.severity, DiagnosticStatus.ERROR) for r in raised),
            default=DiagnosticStatus.OK,
        )
        message = (
            "raised: " + ", ".join(f"{r.name} ({r.severity})" for r in raised)
            if raised
            else "no alert raised"
        )
        values = {f"rule.{r.name}": "raised" if r in raised else "clear" for r in self._rules}
        values.update({f"judgments_{k}": str(v) for k, v in counts.items()})
        return DiagnosticStatus(
            level=level,
            name=f"{node_name}: alerts",
            message=message,
            hardware_id="cosmos_reason",
            values=[KeyValue(key=k, value=v) for k, v in values.items()],
        )
