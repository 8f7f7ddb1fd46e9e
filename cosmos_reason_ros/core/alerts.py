"""Alert rules: what is watched for, how one model answer judges every rule of a window, and
the state machine that turns a stream of judgments into RAISED and CLEARED events.

A rule is a yes/no ``condition`` about the live window ("Has a person fallen to the floor?").
Every ``alert_period_s`` the window is judged once for all rules: one constrained JSON answer
with a verdict and a short evidence sentence per rule, and a confidence (``judgment_schema``,
``judgment_text``, ``parse_judgment``). Each rule's ``RuleTracker`` then decides, exactly:

- RAISED when ``min_consecutive`` positive judgments in a row have arrived while the rule is
  not raised and at least ``cooldown_s`` have passed since the rule was last RAISED (otherwise
  it waits, still positive, for the cooldown to pass);
- while raised, nothing more;
- CLEARED, once, after ``clear_after`` negative judgments in a row.

A judgment that is not usable (unparseable answer, failed generation) is neither positive nor
negative: it breaks both runs, so it can neither raise nor clear a rule.

Nothing here imports ROS; the node publishes the events as ``cosmos_reason_ros/msg/Alert``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from cosmos_reason_ros.core.answer import (
    ANSWER_MAX_CHARS,
    THINKING_MAX_CHARS,
    clean_text,
    printable,
)
from cosmos_reason_ros.core.errors import ConfigError
from cosmos_reason_ros.core.params import check_fields, param

__all__ = [
    "MAX_CONDITION_CHARS",
    "MAX_EVIDENCE_CHARS",
    "MAX_RULES",
    "SEVERITIES",
    "AlertEvent",
    "AlertRule",
    "AlertState",
    "AlertTracker",
    "ParsedJudgment",
    "RuleTracker",
    "Verdict",
    "check_rule_names",
    "judgment_schema",
    "judgment_text",
    "parse_judgment",
]

SEVERITIES = ("info", "warning", "error")

MAX_RULES = 16
"""Rules one node judges at most: every rule adds a verdict and an evidence sentence to the one
answer, so the answer's length (and the time to generate it) grows with their number."""

MAX_CONDITION_CHARS = 500
"""Longest condition: every condition is part of every judgment's prompt."""

MAX_EVIDENCE_CHARS = 160
"""Length bound of a rule's evidence sentence in the constrained answer."""

_RULE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,62}")


class AlertState(IntEnum):
    """A rule's published state change (``Alert.RAISED``, ``Alert.CLEARED``)."""

    RAISED = 1
    CLEARED = 2


@dataclass(frozen=True)
class AlertRule:
    """One rule. Each field but ``name`` declares the node parameter ``alerts.<name>.<field>``
    (``core.params``; ``config.alert_rules`` adds the prefix).

    Raises:
        ConfigError: A value is of the wrong type or out of range, the name is not a valid
            parameter name part, or the condition is empty, too long or holds NUL characters.
    """

    name: str
    condition: str = param(
        "", "The yes/no question the window is judged on, e.g. 'Has a person fallen?'"
    )
    severity: str = param("warning", "How serious a raised alert is", choices=SEVERITIES)
    cooldown_s: float = param(
        30.0, "Seconds after a RAISED before the rule may be RAISED again", low=0.0, high=86400.0
    )
    min_consecutive: int = param(
        2, "Positive judgments in a row that raise the rule", low=1, high=1000
    )
    clear_after: int = param(2, "Negative judgments in a row that clear it", low=1, high=1000)

    def __post_init__(self) -> None:
        check_rule_names([self.name])
        try:
            check_fields(self)
        except ConfigError as exc:
            raise ConfigError(f"alerts.{self.name}.{exc}") from None
        condition = self.condition.strip()
        if not condition:
            raise ConfigError(
                f"alerts.{self.name}.condition must be set: the yes/no question to judge"
            )
        if len(condition) > MAX_CONDITION_CHARS or "\x00" in condition:
            raise ConfigError(
                f"alerts.{self.name}.condition must be at most {MAX_CONDITION_CHARS} "
                f"characters without NUL, got {len(condition)} characters"
            )


def check_rule_names(names: Sequence[str]) -> None:
    """Raise ConfigError unless ``names`` (the ``alerts`` parameter) are at most ``MAX_RULES``
    unique names of a letter then letters, digits or underscores (a parameter name part)."""
    if len(names) > MAX_RULES:
        raise ConfigError(f"alerts names {len(names)} rules; one node judges at most {MAX_RULES}")
    for name in names:
        if not isinstance(name, str) or not _RULE_NAME.fullmatch(name):
            raise ConfigError(
                f"alert rule name {name!r:.80} must be a letter then up to 62 letters, digits "
                "or underscores"
            )
    if len(set(names)) != len(names):
        raise ConfigError(f"alerts has duplicates: {list(names)!r}")


# ----- the judgment: one answer for all rules -------------------------------------------------
def judgment_schema(rules: Sequence[AlertRule]) -> dict[str, Any]:
    """The JSON schema of one judgment: a verdict and an evidence sentence per rule, in rule
    order, then a confidence. Every key required, none other allowed, strings bounded, so a
    constrained decoder cannot run away."""
    verdict = {
        "type": "object",
        "properties": {
            "verdict": {"type": "boolean"},
            "evidence": {"type": "string", "maxLength": MAX_EVIDENCE_CHARS},
        },
        "required": ["verdict", "evidence"],
        "additionalProperties": False,
    }
    names = [r.name for r in rules]
    return {
        "type": "object",
        "properties": {
            "rules": {
                "type": "object",
                "properties": {n: dict(verdict) for n in names},
                "required": names,
                "additionalProperties": False,
            },
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        },
        "required": ["rules", "confidence"],
        "additionalProperties": False,
    }


def judgment_text(rules: Sequence[AlertRule]) -> str:
    """The question part of a judgment's user turn: the rules, then the answer object."""
    lines = [
        "Watch the video for the events below. For each rule, decide whether its condition "
        "holds in the video now (true or false), and give one short sentence of evidence.",
        "",
        "Rules:",
    ]
    lines += [f"- {r.name}: {r.condition.strip()}" for r in rules]
    example = ", ".join(
        f'"{r.name}": {{"verdict": true or false, "evidence": one short sentence}}' for r in rules
    )
    lines += [
        "",
        "Give the final answer as one JSON object with exactly these keys:",
        '{"rules": {' + example + '}, "confidence": a number from 0 to 1}',
    ]
    return "\n".join(lines)


@dataclass(frozen=True)
class Verdict:
    """One rule's verdict in one judgment."""

    rule: str
    positive: bool
    evidence: str


@dataclass(frozen=True)
class ParsedJudgment:
    """A judgment's answer, parsed and validated.

    Attributes:
        verdicts: One per rule, in rule order; () when not ``valid``.
        confidence: 0..1; NaN when unknown.
        valid: Whether the answer held a verdict for every rule.
        error: What was wrong ("" when valid).
        thinking: The chain of thought (capped).
        answer_text: The answer as generated (capped).
    """

    verdicts: tuple[Verdict, ...]
    confidence: float
    valid: bool
    error: str
    thinking: str = ""
    answer_text: str = ""


def parse_judgment(answer: str, rules: Sequence[AlertRule], thinking: str = "") -> ParsedJudgment:
    """Validate the judgment in ``answer`` (the answer part: the JSON alone when constrained,
    else text holding it). Never raises.

    Returns:
        The judgment; ``valid`` false with ``error`` when there is no object with a boolean
        verdict for every rule.
    """
    thinking = clean_text(thinking.strip(), THINKING_MAX_CHARS)
    answer = clean_text(answer.strip(), ANSWER_MAX_CHARS)

    def invalid(error: str) -> ParsedJudgment:
        return ParsedJudgment((), math.nan, False, error, thinking, answer)

    obj = _first_object(answer)
    if obj is None:
        return invalid("no JSON object in the judgment")
    by_rule = obj.get("rules")
    if not isinstance(by_rule, Mapping):
        return invalid('the judgment has no "rules" object')
    verdicts = []
    for rule in rules:
        entry = by_rule.get(rule.name)
        value = entry.get("verdict") if isinstance(entry, Mapping) else None
        if not isinstance(value, bool):
            return invalid(f"no true/false verdict for rule {rule.name!r}")
        evidence = entry.get("evidence", "") if isinstance(entry, Mapping) else ""
        # Cut at the bound, no marker: bytes the decoder could not read become U+FFFD each, so
        # a string the grammar held to the bound may decode a few characters longer.
        text = printable(evidence if isinstance(evidence, str) else "")[:MAX_EVIDENCE_CHARS]
        verdicts.append(Verdict(rule.name, value, text.strip()))
    confidence = obj.get("confidence")
    level = math.nan
    if isinstance(confidence, (int, float)) and not isinstance(confidence, bool):
        level = float(confidence)
    if not (0.0 <= level <= 1.0):
        level = math.nan
    return ParsedJudgment(tuple(verdicts), level, True, "", thinking, answer)


def _first_object(text: str) -> dict[str, Any] | None:
    """The first JSON object in ``text`` with a ``rules`` key (else the first object)."""
    decoder = json.JSONDecoder()
    first: dict[str, Any] | None = None
    start = text.find("{")
    for _ in range(64):  # bounds the work on noise
        if start < 0:
            break
        try:
            value, end = decoder.raw_decode(text, start)
        except (ValueError, RecursionError):
            value, end = None, start + 1
        if isinstance(value, dict):
            if "rules" in value:
                return value
            first = value if first is None else first
            start = text.find("{", max(end, start + 1))
        else:
            start = text.find("{", start + 1)
    return first


# ----- the state machine -----------------------------------------------------------------------
class RuleTracker:
    """One rule's state over a stream of judgments (see the module docstring). Not
    thread-safe: one caller feeds it, in judgment order.

    Args:
        rule: The rule.
    """

    def __init__(self, rule: AlertRule) -> None:
        self.rule = rule
        self.raised = False
        self.last_raised_s: float | None = None
        self._positives = 0
        self._negatives = 0

    def observe(self, positive: bool | None, now_s: float) -> AlertState | None:
        """Feed one judgment of the rule made at ``now_s`` (seconds, any monotonic clock);
        None: no usable judgment. Returns the state change to publish, if any."""
        rule = self.rule
        if positive is None:
            self._positives = self._negatives = 0
            return None
        if positive:
            self._negatives = 0
            self._positives += 1
            if self.raised or self._positives < rule.min_consecutive:
                return None
            last = self.last_raised_s
            if last is not None and now_s - last < rule.cooldown_s:
                return None  # still positive: waits for the cooldown to pass
            self.raised, self.last_raised_s = True, now_s
            return AlertState.RAISED
        self._positives = 0
        if not self.raised:
            return None
        self._negatives += 1
        if self._negatives < rule.clear_after:
            return None
        self.raised, self._negatives = False, 0
        return AlertState.CLEARED


@dataclass(frozen=True)
class AlertEvent:
    """A rule's state change, with the verdict that made it."""

    rule: AlertRule
    state: AlertState
    verdict: Verdict


class AlertTracker:
    """Every rule's ``RuleTracker``. Not thread-safe: one caller, in judgment order.

    Args:
        rules: The rules, in the order judgments list them.
    """

    def __init__(self, rules: Sequence[AlertRule]) -> None:
        self.rules = tuple(rules)
        self._trackers = {r.name: RuleTracker(r) for r in self.rules}

    def observe(self, judgment: ParsedJudgment, now_s: float) -> list[AlertEvent]:
        """Feed one judgment made at ``now_s``; returns the state changes, in rule order."""
        verdicts = {v.rule: v for v in judgment.verdicts} if judgment.valid else {}
        events = []
        for rule in self.rules:
            verdict = verdicts.get(rule.name)
            state = self._trackers[rule.name].observe(
                None if verdict is None else verdict.positive, now_s
            )
            if state is not None and verdict is not None:
                events.append(AlertEvent(rule, state, verdict))
        return events

    def raised(self) -> list[AlertRule]:
        """The rules raised now, in rule order."""
        return [r for r in self.rules if self._trackers[r.name].raised]
