"""Offline evaluation: run the reasoning engine over a bag's timeline, without a ROS graph.

Frames are read in bag order. Each frame is judged by its header stamp with the window's
``accept`` before it is decoded (most frames are never decoded), then pushed into a
``WindowSet``, exactly as the node's image callback does. Every ``every_s`` seconds of bag time
(by default the node's ``decision_period_s``) each question is asked through the ``Reasoner``
about the frames held at that instant.

Outputs in ``out_dir``:

* ``decisions.jsonl``: ``Decision.to_dict()``, one per line, in decision order;
* ``summary.json``: counts, validity rate, latency percentiles and, given labels, the scores
  before and after the event (``report.PHASE_RULE``: false alarms before it, misses after it,
  overall accuracy, ``accuracy_valid`` counting only valid decisions as correct) and a
  confusion table of decisions per phase and action;
* ``report.html``: the summary table, a timeline and a latency plot, and one section per
  decision with thumbnails of its frames (``report_html``);
* with alert rules (the ``alerts`` parameter with ``alerts.<name>.*``, or the labels' rules with
  ``alerts_from_labels``): every ``alert_period_s`` of bag time the window is judged for every
  rule in one model call and each rule's ``RuleTracker`` runs on bag time, exactly as in the
  node; ``alerts.jsonl`` holds one line per judgment, the summary and the report score every
  rule against its labelled events (``alert_scoring``: precision, recall, detection delay,
  false alarms per hour) and the report draws each rule's states against its events.

Ctrl-C (``KeyboardInterrupt``) stops the run after the decision in progress; the outputs are
written for the decisions made so far (``"interrupted": true`` in the summary), then the
interrupt goes on to the caller.

Settings not given here take the node's parameter defaults (``config``), validated by
the same ``build_config``; ``params`` overrides any of them by parameter name.

Example::

    cosmos-reason-eval /tmp/ball --model nvidia/Cosmos-Reason1-7B --questions q.txt \\
        --labels /tmp/ball.labels.yaml --decision-period-s 2 --out /tmp/eval
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm  # type: ignore[import-untyped]

from cosmos_reason_ros.config import NodeConfig, build_config, load_configured, rebuild_for
from cosmos_reason_ros.core.alert_judge import AlertJudge, Judgment
from cosmos_reason_ros.core.alerts import AlertRule, AlertTracker, ParsedJudgment
from cosmos_reason_ros.core.errors import BackendError, ConfigError, CosmosReasonError, InputError
from cosmos_reason_ros.core.generation import Backend
from cosmos_reason_ros.core.ingest import ingest
from cosmos_reason_ros.core.reasoner import CheckedRequest, Reasoner
from cosmos_reason_ros.core.types import WindowSnapshot
from cosmos_reason_ros.core.window import WindowSet
from cosmos_reason_ros.tools.alert_scoring import (
    RuleJudgment,
    RuleTimeline,
    score_rule,
)
from cosmos_reason_ros.tools.bags import BagError, find_bag, image_connections, open_bag, stamp_ns
from cosmos_reason_ros.tools.report import (
    EvalRunFacts,
    EvalSummary,
    Phases,
    ReportEntry,
    summarize,
    thumbnail,
)
from cosmos_reason_ros.tools.report_html import write_report
from cosmos_reason_ros.tools.scenario import ScenarioError, ScenarioLabels, load_labels

_NS = 1_000_000_000

__all__ = ["EvalError", "EvalSummary", "evaluate", "image_topics"]


class EvalError(CosmosReasonError):
    """The evaluation cannot run: unreadable bag, questions or labels, or a bad setting."""


def evaluate(
    bag: str | Path,
    *,
    model: str,
    out_dir: str | Path,
    questions: Sequence[str] = (),
    every_s: float | None = None,
    labels: ScenarioLabels | str | Path | None = None,
    topics: Sequence[str] | None = None,
    actions: Sequence[str] | None = None,
    fallback: str | None = None,
    backend: str | None = None,
    device: str | None = None,
    max_new_tokens: int | None = None,
    seed: int = 0,
    params: Mapping[str, Any] | None = None,
    loaded_backend: Backend | None = None,
    progress: bool = True,
    alerts_from_labels: bool = False,
) -> EvalSummary:
    """Evaluate the engine on a bag; see the module docstring for what is written.

    Args:
        bag: The bag (see ``bags.find_bag``).
        model: Hub id or local folder of the checkpoint.
        out_dir: Output folder (created; existing outputs are overwritten).
        questions: Asked at every decision time; empty: the node's default question.
        every_s: Bag seconds between decision times; the first comes ``every_s`` after the
            first frame. None: the ``decision_period_s`` parameter (``params`` or the node's
            default). 0 with alert rules: no decisions, only the rules are judged.
        labels: A ``ScenarioLabels`` or the path of a labels file, for accuracy.
        topics: Image topics to use; None: every image topic of the bag, leaving out a
            ``<topic>/compressed`` whose raw twin is also there.
        actions: Allowed actions (``name`` or ``name: description``); None: node default.
        fallback: Fallback action; None: node default.
        backend: ``transformers``, ``tensorrt_llm`` or ``openai``; None: node default.
        device: ``auto``, ``cuda`` or ``cpu``; None: node default.
        max_new_tokens: Generated tokens at most; None: node default. The thinking budget is
            capped below it unless ``params`` sets ``max_thinking_tokens``.
        seed: Sampling seed, so runs repeat.
        params: Further node parameters by name (e.g. ``window_s``, ``temperature``).
        loaded_backend: Use this loaded backend instead of creating one (not closed here).
        progress: Show a tqdm progress bar on stderr.
        alerts_from_labels: Judge the alert rules the labels name, with their conditions
            (unless ``params`` sets ``alerts``).

    Returns:
        The summary.

    Raises:
        EvalError: The bag, labels or a setting is unusable.
        BackendError: The backend failed to load.
    """
    started = time.monotonic()
    values = _values(
        model,
        actions=actions,
        fallback=fallback,
        backend=backend,
        device=device,
        max_new_tokens=max_new_tokens,
        seed=seed,
        params=params,
    )
    try:
        if isinstance(labels, (str, Path)):
            labels = load_labels(labels)
        if alerts_from_labels:
            values = _with_label_rules(values, labels)
        config = build_config(values)
        period_s = config.decision_period_s if every_s is None else every_s
        alerts_only = period_s == 0 and bool(config.alert_rules)
        if not (math.isfinite(period_s) and (period_s > 0 or alerts_only)):
            raise EvalError(
                f"decision_period_s (every_s) must be > 0 here (0 only with alert rules: they "
                f"are judged, no decisions made), got {period_s}"
            )
        bag_path = find_bag(bag)
        used = image_topics(bag_path, topics)  # a bad bag or topic fails before any model loads
        asked = tuple(questions) or (config.reasoner.question,)
        requests = tuple(config.reasoner.check_request(q) for q in asked)
    except InputError as err:
        raise EvalError(f"unusable question: {err}") from None
    except (ConfigError, ScenarioError, BagError) as err:
        raise EvalError(str(err)) from None
    if loaded_backend is None:
        config, engine = load_configured(values)
    else:
        engine = loaded_backend
        config = rebuild_for(config, values, engine)
    phases = None if labels is None else _phases(labels)
    interrupted = False
    run = _Run(Reasoner(engine, config.reasoner), requests, period_s, phases, config)
    alert_run = _AlertRun(AlertJudge(engine, lambda: config.reasoner), config)
    run.alerts = alert_run if config.alert_rules else None
    try:
        run.read(bag_path, used, progress)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if loaded_backend is None:
            engine.close()
    summary = run.summary(
        bag=str(bag_path),
        config=config,
        topics=used,
        out_dir=str(Path(out_dir)),
        wall_s=time.monotonic() - started,
    )
    timelines = alert_run.timelines(labels)
    start_ns = labels.start_time_ns if labels is not None else run.first_stamp_ns
    grace_ns = round(config.window.window_s * _NS)
    summary = dataclasses.replace(
        summary,
        alerts=tuple(
            score_rule(t.rule, t.judgments, t.events, start_ns=start_ns, grace_ns=grace_ns)
            for t in timelines
        ),
    )
    _write(
        Path(out_dir),
        run.entries,
        summary,
        labels=labels,
        phases=phases,
        interrupted=interrupted,
        alerts=alert_run,
        timelines=timelines,
    )
    if interrupted:
        raise KeyboardInterrupt
    return summary


def _write(
    out: Path,
    entries: Sequence[ReportEntry],
    summary: EvalSummary,
    *,
    labels: ScenarioLabels | None,
    phases: Phases | None,
    interrupted: bool,
    alerts: _AlertRun,
    timelines: Sequence[RuleTimeline],
) -> None:
    """decisions.jsonl, summary.json and report.html in ``out`` (and alerts.jsonl with rules)."""
    out.mkdir(parents=True, exist_ok=True)
    with (out / "decisions.jsonl").open("w", encoding="utf-8") as f:
        for entry in entries:
            f.write(json.dumps(entry.decision.to_dict(), ensure_ascii=False) + "\n")
    summary_dict = {**summary.to_dict(), "interrupted": interrupted}
    if timelines:
        with (out / "alerts.jsonl").open("w", encoding="utf-8") as f:
            for line in alerts.lines:
                f.write(json.dumps(line, ensure_ascii=False) + "\n")
        summary_dict["alert_judgments"] = len(alerts.lines)
        summary_dict["alert_judgments_valid"] = sum(line["valid"] for line in alerts.lines)
        summary_dict["alert_period_s"] = alerts.config.alert_period_s
        summary_dict["alert_grace_s"] = alerts.config.window.window_s
    if labels is not None:
        summary_dict["labels"] = {
            "event": labels.event,
            "event_time_ns": labels.event_time_ns,
            "event_time_from_start_s": labels.event_time_from_start_s,
            "expected_actions": list(labels.expected_actions),
            "expected_actions_before_event": list(labels.expected_actions_before),
        }
    (out / "summary.json").write_text(json.dumps(summary_dict, indent=2) + "\n", "utf-8")
    title = f"Evaluation of {Path(summary.run.bag).name}"
    write_report(out / "report.html", entries, summary_dict, title, phases, alerts=timelines)


def _with_label_rules(values: dict[str, Any], labels: ScenarioLabels | None) -> dict[str, Any]:
    """``values`` with the labels' alert rules, unless ``values`` names rules already."""
    if labels is None:
        raise EvalError("alerts_from_labels needs labels")
    if "alerts" in values:
        return values
    rules = {f"alerts.{a.rule}.condition": a.condition for a in labels.alerts}
    return {"alerts": [a.rule for a in labels.alerts], **rules, **values}


def _phases(labels: ScenarioLabels) -> Phases:
    return Phases(
        event=labels.event,
        start_ns=labels.start_time_ns,
        event_ns=labels.event_time_ns,
        expected_before=labels.expected_actions_before,
        expected_after=labels.expected_actions,
        actions=labels.actions,
    )


def _values(
    model: str,
    *,
    actions: Sequence[str] | None,
    fallback: str | None,
    backend: str | None,
    device: str | None,
    max_new_tokens: int | None,
    seed: int,
    params: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """Node parameter values for an evaluation; everything not given keeps its default."""
    values: dict[str, Any] = {"model": model, "seed": seed}
    if backend is not None:
        values["backend"] = backend
    if device is not None:
        values["device"] = device
    if actions is not None:
        values["actions"] = list(actions)
    if fallback is not None:
        values["fallback_action"] = fallback
    if max_new_tokens is not None:
        values["max_new_tokens"] = max_new_tokens
    values.update(params or {})
    return values


class _Run:
    """The timeline of one evaluation: windows, decision times and the decisions made."""

    def __init__(
        self,
        reasoner: Reasoner,
        requests: tuple[CheckedRequest, ...],
        every_s: float,
        phases: Phases | None,
        config: NodeConfig,
    ) -> None:
        self.reasoner, self.requests, self.phases = reasoner, requests, phases
        self.every_ns = round(every_s * _NS)
        self.every_s = every_s
        self.config = config
        self.entries: list[ReportEntry] = []
        self.latencies: list[float] = []  # of decisions the model made (not fallbacks)
        self.frames_read = self.frames_decoded = self.decode_errors = self.backend_errors = 0
        self.alerts: _AlertRun | None = None
        self.first_stamp_ns = 0

    def read(self, bag: Path, topics: tuple[str, ...], progress: bool) -> None:
        """Read the bag's ``topics``, deciding every ``every_s`` of bag time (never at 0) and
        judging the alert rules every ``alert_period_s``."""
        clocks = [_Clock(self.every_ns, self._decide)] if self.every_ns > 0 else []
        if self.alerts is not None:
            clocks.append(_Clock(round(self.alerts.period_s * _NS), self._judge))
        with open_bag(bag) as reader:
            conns = [c for c in reader.connections if c.topic in topics]
            windows = WindowSet(topics, self.config.window)
            total = sum(c.msgcount for c in conns)
            bar = tqdm(total=total, unit="msg", disable=not progress, file=sys.stderr)
            with bar:
                for conn, log_ns, raw in reader.messages(connections=conns):
                    bar.update(1)
                    msg = reader.deserialize(raw, conn.msgtype)
                    stamp = stamp_ns(msg, log_ns)
                    if not self.frames_read:
                        self.first_stamp_ns = stamp
                    for clock in clocks:
                        clock.run_before(stamp, windows)
                    self._push(windows, conn.topic, stamp, msg)
                for clock in clocks:
                    clock.run_through(_newest(windows), windows)

    def _judge(self, snapshot: WindowSnapshot) -> None:
        if self.alerts is not None and not snapshot.empty:
            self.backend_errors += not self.alerts.judge(snapshot)

    def _push(self, windows: WindowSet, topic: str, stamp: int, msg: Any) -> None:
        self.frames_read += 1
        try:
            kept = ingest(
                windows.window(topic),
                stamp,
                str(msg.header.frame_id),
                msg,
                self.config.max_input_pixels,
            )
        except InputError:
            self.decode_errors += 1
            return
        self.frames_decoded += int(kept)

    def _decide(self, snapshot: WindowSnapshot) -> None:
        if snapshot.empty:
            return
        thumbs = tuple(
            thumbnail(clip.camera, stamp, frame)
            for clip in snapshot.clips
            for stamp, frame in zip(clip.stamps_ns, clip.frames, strict=True)
        )
        for request in self.requests:
            decision_id = len(self.entries) + 1
            try:
                decision = self.reasoner.decide(snapshot, decision_id=decision_id, request=request)
                self.latencies.append(decision.timings.latency_s)
            except BackendError as err:
                self.backend_errors += 1
                decision = self.reasoner.fallback(
                    decision_id, f"backend failed: {err}", snapshot, request.question
                )
            if self.phases is None:
                self.entries.append(ReportEntry(decision, thumbs))
            else:
                phase, expected, correct = self.phases.score(decision)
                self.entries.append(ReportEntry(decision, thumbs, correct, phase, expected))

    def summary(
        self, *, bag: str, config: NodeConfig, topics: tuple[str, ...], out_dir: str, wall_s: float
    ) -> EvalSummary:
        facts = EvalRunFacts(
            bag=bag,
            model=config.backend.model,
            backend=config.backend.backend,
            topics=topics,
            questions=tuple(r.question for r in self.requests),
            every_s=self.every_s,
            backend_errors=self.backend_errors,
            frames_read=self.frames_read,
            frames_decoded=self.frames_decoded,
            decode_errors=self.decode_errors,
            out_dir=out_dir,
            wall_s=wall_s,
        )
        return summarize(self.entries, self.latencies, scored=self.phases is not None, run=facts)


class _Clock:
    """Calls ``act`` with the window's snapshot every ``every_ns`` of bag time, the first time
    ``every_ns`` after the first frame."""

    def __init__(self, every_ns: int, act: Callable[[WindowSnapshot], None]) -> None:
        self.every_ns, self.act = every_ns, act
        self.due: int | None = None

    def run_before(self, stamp: int, windows: WindowSet) -> None:
        """Act at every due time before a frame stamped ``stamp`` enters the window."""
        if self.due is None:
            self.due = stamp + self.every_ns
        while stamp > self.due:
            self.act(windows.snapshot())
            self.due += self.every_ns

    def run_through(self, newest: int, windows: WindowSet) -> None:
        """Act at every due time up to the newest frame read (the end of the bag)."""
        while self.due is not None and self.due <= newest:
            self.act(windows.snapshot())
            self.due += self.every_ns


class _AlertRun:
    """The alert rules' side of an evaluation: one judgment of every rule per call, the
    trackers on bag time, and what is written (``lines``, ``timelines``)."""

    def __init__(self, judge: AlertJudge, config: NodeConfig) -> None:
        self.config = config
        self.rules: tuple[AlertRule, ...] = config.alert_rules
        self.period_s = config.alert_period_s
        self._judge = judge
        self._tracker = AlertTracker(self.rules)
        self._judged: dict[str, list[RuleJudgment]] = {r.name: [] for r in self.rules}
        self.lines: list[dict[str, Any]] = []

    def judge(self, snapshot: WindowSnapshot) -> bool:
        """Judge every rule on ``snapshot``; False when the backend failed (no verdicts)."""
        judgment_id = len(self.lines) + 1
        error = ""
        try:
            judgment: Judgment | None = self._judge.judge(
                snapshot, self.rules, decision_id=judgment_id
            )
        except BackendError as err:
            judgment = None
            error = f"backend failed: {err}"
        parsed = judgment.parsed if judgment else ParsedJudgment((), math.nan, False, error)
        changes = {
            e.rule.name: e.state for e in self._tracker.observe(parsed, snapshot.newest_ns / _NS)
        }
        verdicts = {v.rule: v for v in parsed.verdicts}
        for rule in self.rules:
            verdict = verdicts.get(rule.name)
            self._judged[rule.name].append(
                RuleJudgment(
                    snapshot.newest_ns,
                    None if verdict is None else verdict.positive,
                    changes.get(rule.name),
                )
            )
        self.lines.append(
            {
                "judgment_id": judgment_id,
                "stamp_ns": snapshot.newest_ns,
                "window_start_ns": snapshot.oldest_ns,
                "valid": parsed.valid,
                "error": parsed.error,
                "confidence": None if math.isnan(parsed.confidence) else parsed.confidence,
                "verdicts": {
                    v.rule: {"verdict": v.positive, "evidence": v.evidence}
                    for v in parsed.verdicts
                },
                "states": {rule: state.name for rule, state in changes.items()},
                "latency_s": judgment.record.timings.latency_s if judgment else None,
                "thinking": parsed.thinking,
            }
        )
        return judgment is not None

    def timelines(self, labels: ScenarioLabels | None) -> tuple[RuleTimeline, ...]:
        """Every rule's judgments with its labelled events (None: not in the labels)."""
        events = {a.rule: a.events for a in labels.alerts} if labels is not None else {}
        return tuple(
            RuleTimeline(r.name, tuple(self._judged[r.name]), events.get(r.name))
            for r in self.rules
        )


def image_topics(bag: Path, topics: Sequence[str] | None = None) -> tuple[str, ...]:
    """The image topics an evaluation of ``bag`` uses; see ``evaluate``'s ``topics``.

    Raises:
        BagError: The bag cannot be read, a requested topic is not an image topic of it, or
            it has no image topics.
    """
    with open_bag(bag) as reader:
        chosen = image_connections(reader.connections, topics, prefer_raw=True)
    return tuple(dict.fromkeys(c.topic for c in chosen))


def _newest(windows: WindowSet) -> int:
    stamps = [s.newest_ns for s in windows.stats() if s.newest_ns is not None]
    return max(stamps, default=-1)
