"""Scoring alert rules against labelled events: what an evaluation of a bag says about each rule.

A rule's run over a bag is the sequence of its judgments (``RuleJudgment``: bag time, verdict,
the state change its ``RuleTracker`` published). Against the labelled events of the rule
(``scenario.AlertLabel``: spans of bag time during which its condition holds):

- a RAISED *inside* an event (from the event's start to its end plus ``grace_ns``, the lag of
  the window judged) is a true raise; the event is *detected* by its first one, and the
  *detection delay* is the time from the event's start to that RAISED;
- a RAISED inside no event is a *false alarm*;
- ``precision`` = true raises / raises, ``recall`` = detected events / events (None when there
  is nothing to divide by); false alarms per hour of bag time watched (from the first frame to
  the last judgment).

A rule with no labels is not scored: its counts are reported, its scores are None.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from cosmos_reason_ros.core.alerts import AlertState

__all__ = ["ALERT_RULE", "RuleJudgment", "RuleScore", "RuleTimeline", "raised_spans", "score_rule"]

_NS = 1_000_000_000

ALERT_RULE = (
    "a RAISED from a labelled event's start to its end (plus the window's length, its lag) is "
    "a true raise and detects the event, with the delay from the event's start; any other "
    "RAISED is a false alarm; precision = true raises / raises, recall = detected / events, "
    "false alarms per hour of bag time watched"
)
"""The scoring of alert rules in one sentence, for the report and ``--help``."""


@dataclass(frozen=True)
class RuleJudgment:
    """One judgment of one rule on a bag's timeline.

    Attributes:
        stamp_ns: Bag time of the newest frame judged.
        positive: The verdict; None when the judgment held no usable verdict.
        state: The state change the rule's tracker published for it, if any.
    """

    stamp_ns: int
    positive: bool | None
    state: AlertState | None = None


@dataclass(frozen=True)
class RuleScore:
    """A rule's scores on one bag (see the module docstring).

    Attributes:
        rule: The rule's name.
        labelled: Whether the labels name the rule (else every score is None).
        judgments: Judgments made; ``positives`` of them positive, ``unusable`` without a
            verdict.
        raises: RAISED events; ``true_raises`` of them inside a labelled event.
        false_alarms: RAISED events inside no labelled event.
        events: Labelled events; ``detected`` of them with a RAISED inside.
        delays_s: Detection delay of each detected event, in event order.
        watched_s: Bag seconds watched: the first frame to the last judgment.
    """

    rule: str
    labelled: bool
    judgments: int
    positives: int
    unusable: int
    raises: int
    true_raises: int | None
    false_alarms: int | None
    events: int | None
    detected: int | None
    delays_s: tuple[float, ...]
    watched_s: float

    @property
    def precision(self) -> float | None:
        return (
            None if self.true_raises is None or not self.raises else self.true_raises / self.raises
        )

    @property
    def recall(self) -> float | None:
        return None if self.detected is None or not self.events else self.detected / self.events

    @property
    def mean_delay_s(self) -> float | None:
        return sum(self.delays_s) / len(self.delays_s) if self.delays_s else None

    @property
    def false_alarms_per_hour(self) -> float | None:
        if self.false_alarms is None or self.watched_s <= 0:
            return None
        return self.false_alarms * 3600.0 / self.watched_s

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: the counts and the scores side by side."""
        d = asdict(self)
        d["delays_s"] = list(self.delays_s)
        d.update(
            precision=self.precision,
            recall=self.recall,
            mean_delay_s=self.mean_delay_s,
            max_delay_s=max(self.delays_s) if self.delays_s else None,
            false_alarms_per_hour=self.false_alarms_per_hour,
        )
        return d


def score_rule(
    rule: str,
    judgments: Sequence[RuleJudgment],
    events: Sequence[tuple[int, int]] | None,
    *,
    start_ns: int,
    grace_ns: int = 0,
) -> RuleScore:
    """Score one rule's judgments (in time order) against its labelled ``events`` ((start_ns,
    end_ns) spans; None: the rule is not labelled). ``start_ns`` is the bag's first frame."""
    raises = [j.stamp_ns for j in judgments if j.state is AlertState.RAISED]
    watched_s = max(0.0, ((judgments[-1].stamp_ns if judgments else start_ns) - start_ns) / _NS)
    unscored = RuleScore(
        rule=rule,
        labelled=False,
        judgments=len(judgments),
        positives=sum(j.positive is True for j in judgments),
        unusable=sum(j.positive is None for j in judgments),
        raises=len(raises),
        true_raises=None,
        false_alarms=None,
        events=None,
        detected=None,
        delays_s=(),
        watched_s=watched_s,
    )
    if events is None:
        return unscored

    def inside(t: int, event: tuple[int, int]) -> bool:
        return event[0] <= t <= event[1] + grace_ns

    true_raises = sum(any(inside(t, e) for e in events) for t in raises)
    delays = []
    for event in events:
        first = next((t for t in raises if inside(t, event)), None)
        if first is not None:
            delays.append((first - event[0]) / _NS)
    return replace(
        unscored,
        labelled=True,
        true_raises=true_raises,
        false_alarms=len(raises) - true_raises,
        events=len(events),
        detected=len(delays),
        delays_s=tuple(delays),
    )


def raised_spans(judgments: Sequence[RuleJudgment]) -> list[tuple[int, int | None]]:
    """The spans during which the rule was raised: (RAISED stamp, CLEARED stamp or None when
    it was still raised at the last judgment), in order."""
    spans: list[tuple[int, int | None]] = []
    for j in judgments:
        if j.state is AlertState.RAISED:
            spans.append((j.stamp_ns, None))
        elif j.state is AlertState.CLEARED and spans and spans[-1][1] is None:
            spans[-1] = (spans[-1][0], j.stamp_ns)
    return spans


@dataclass(frozen=True)
class RuleTimeline:
    """One rule's run over a bag, as the report draws it.

    Attributes:
        rule: The rule's name.
        judgments: Its judgments, in time order.
        events: Its labelled (start_ns, end_ns) spans; None when the labels do not name it.
    """

    rule: str
    judgments: tuple[RuleJudgment, ...]
    events: tuple[tuple[int, int], ...] | None
