"""Scoring alert rules against labelled events, on hand-made sequences of judgments and states."""

from __future__ import annotations

import pytest

from cosmos_reason_ros.core.alerts import AlertState
from cosmos_reason_ros.tools.alert_scoring import RuleJudgment, raised_spans, score_rule

S = 1_000_000_000
RAISED, CLEARED = AlertState.RAISED, AlertState.CLEARED


def timeline(states: dict[int, AlertState], positive_at: set[int]) -> list[RuleJudgment]:
    """A judgment every second from 1 s to 20 s; ``states`` by second; verdicts by second
    (second 3 has no usable verdict)."""
    return [
        RuleJudgment(t * S, None if t == 3 else t in positive_at, states.get(t))
        for t in range(1, 21)
    ]


def test_raises_inside_events_detect_them_and_others_are_false_alarms() -> None:
    judgments = timeline(
        {6: RAISED, 10: CLEARED, 12: RAISED, 13: CLEARED, 15: RAISED, 17: CLEARED},
        positive_at={5, 6, 7, 8, 9, 11, 12, 14, 15, 16},
    )
    events = [(5 * S, 9 * S), (14 * S, 16 * S), (18 * S, 19 * S)]  # the third is missed
    score = score_rule("fall", judgments, events, start_ns=0)
    assert (score.judgments, score.positives, score.unusable) == (20, 10, 1)
    assert (score.raises, score.true_raises, score.false_alarms) == (3, 2, 1)
    assert (score.events, score.detected) == (3, 2)
    assert score.delays_s == (1.0, 1.0)
    assert score.precision == pytest.approx(2 / 3)
    assert score.recall == pytest.approx(2 / 3)
    assert score.watched_s == 20.0
    assert score.false_alarms_per_hour == pytest.approx(3600 / 20)
    d = score.to_dict()
    assert d["mean_delay_s"] == d["max_delay_s"] == 1.0
    assert d["false_alarms_per_hour"] == pytest.approx(180.0)
    assert raised_spans(judgments) == [(6 * S, 10 * S), (12 * S, 13 * S), (15 * S, 17 * S)]


def test_a_raise_late_by_the_window_lag_counts_within_the_grace() -> None:
    judgments = timeline({10: RAISED}, positive_at={9, 10})
    events = [(5 * S, 9 * S)]
    late = score_rule("smoke", judgments, events, start_ns=0)
    assert (late.true_raises, late.false_alarms, late.detected) == (0, 1, 0)
    graced = score_rule("smoke", judgments, events, start_ns=0, grace_ns=S)
    assert (graced.true_raises, graced.false_alarms, graced.delays_s) == (1, 0, (5.0,))
    assert raised_spans(judgments) == [(10 * S, None)]  # still raised at the end


def test_no_raises_and_no_events_leave_the_ratios_undefined_not_zero() -> None:
    quiet = timeline({}, positive_at=set())
    negative = score_rule("fall", quiet, [], start_ns=0)
    assert (negative.precision, negative.recall) == (None, None)
    assert negative.false_alarms == 0 and negative.false_alarms_per_hour == 0.0
    missed = score_rule("fall", quiet, [(2 * S, 4 * S)], start_ns=0)
    assert (missed.recall, missed.precision, missed.mean_delay_s) == (0.0, None, None)
    unlabelled = score_rule("other", quiet, None, start_ns=0)
    assert not unlabelled.labelled
    assert unlabelled.false_alarms is None and unlabelled.false_alarms_per_hour is None
    assert score_rule("fall", [], [], start_ns=0).false_alarms_per_hour is None
