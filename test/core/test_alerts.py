"""Alert rules: validation, the one-answer judgment (schema, prompt, parsing) and the exact
RAISED / CLEARED semantics of the rule state machine, as properties over many seeds."""

from __future__ import annotations

import itertools
import json
import math
import random

import pytest

from cosmos_reason_ros.core.alerts import (
    MAX_EVIDENCE_CHARS,
    MAX_RULES,
    AlertRule,
    AlertState,
    AlertTracker,
    ParsedJudgment,
    RuleTracker,
    Verdict,
    check_rule_names,
    judgment_schema,
    judgment_text,
    parse_judgment,
)
from cosmos_reason_ros.core.errors import ConfigError

FALL = AlertRule("fall", condition="Has a person fallen to the floor?")
SMOKE = AlertRule("smoke", condition="Is a machine smoking or sparking?", severity="error")


# ----- rules ---------------------------------------------------------------------------------
def test_a_rule_has_the_issues_defaults() -> None:
    assert (FALL.severity, FALL.cooldown_s, FALL.min_consecutive, FALL.clear_after) == (
        "warning",
        30.0,
        2,
        2,
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"condition": ""}, "alerts.fall.condition must be set"),
        ({"condition": "   "}, "alerts.fall.condition must be set"),
        ({"condition": "x" * 501}, "at most 500 characters"),
        ({"condition": "a\x00b"}, "without NUL"),
        ({"condition": "ok?", "severity": "fatal"}, "alerts.fall.severity must be one of"),
        ({"condition": "ok?", "cooldown_s": -1.0}, "alerts.fall.cooldown_s must be >= 0"),
        ({"condition": "ok?", "min_consecutive": 0}, "alerts.fall.min_consecutive must be >= 1"),
        ({"condition": "ok?", "clear_after": 1.5}, "alerts.fall.clear_after must be an integer"),
        ({"condition": "ok?", "cooldown_s": math.inf}, "alerts.fall.cooldown_s must be finite"),
    ],
)
def test_a_bad_rule_is_refused_naming_its_parameter(
    kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        AlertRule("fall", **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["fall", "fall"], "alerts has duplicates"),
        (["1fall"], "must be a letter then"),
        (["fa.ll"], "must be a letter then"),
        ([""], "must be a letter then"),
        ([f"r{i}" for i in range(MAX_RULES + 1)], f"at most {MAX_RULES}"),
    ],
)
def test_bad_rule_names_are_refused(names: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        check_rule_names(names)


# ----- the judgment --------------------------------------------------------------------------
def test_the_schema_asks_one_verdict_and_evidence_per_rule_in_rule_order() -> None:
    schema = judgment_schema([FALL, SMOKE])
    rules = schema["properties"]["rules"]
    assert list(rules["properties"]) == ["fall", "smoke"]
    assert rules["required"] == ["fall", "smoke"]
    assert rules["additionalProperties"] is False
    verdict = rules["properties"]["fall"]
    assert verdict["properties"]["verdict"] == {"type": "boolean"}
    assert verdict["properties"]["evidence"]["maxLength"] == MAX_EVIDENCE_CHARS
    assert schema["required"] == ["rules", "confidence"]
    assert schema["additionalProperties"] is False


def test_the_prompt_lists_every_rule_and_the_answer_object() -> None:
    text = judgment_text([FALL, SMOKE])
    assert "- fall: Has a person fallen to the floor?" in text
    assert "- smoke: Is a machine smoking or sparking?" in text
    assert '"fall": {"verdict": true or false' in text
    assert '"confidence": a number from 0 to 1' in text


def _answer(fall: bool, smoke: bool, confidence: object = 0.7) -> str:
    return json.dumps(
        {
            "rules": {
                "fall": {"verdict": fall, "evidence": "a person lies on the floor"},
                "smoke": {"verdict": smoke, "evidence": "no smoke"},
            },
            "confidence": confidence,
        }
    )


def test_a_constrained_answer_parses_into_verdicts_in_rule_order() -> None:
    parsed = parse_judgment(_answer(True, False), [FALL, SMOKE], thinking="looked")
    assert parsed.valid and parsed.error == ""
    assert parsed.verdicts == (
        Verdict("fall", True, "a person lies on the floor"),
        Verdict("smoke", False, "no smoke"),
    )
    assert parsed.confidence == pytest.approx(0.7)
    assert parsed.thinking == "looked"


def test_a_free_answer_is_found_among_other_text() -> None:
    text = 'Sure. {"note": 1} then <answer>\n' + _answer(False, True) + "\n</answer>"
    parsed = parse_judgment(text, [FALL, SMOKE])
    assert parsed.valid
    assert [v.positive for v in parsed.verdicts] == [False, True]


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        ("", "no JSON object"),
        ("yes, a person fell", "no JSON object"),
        ('{"confidence": 0.5}', 'no "rules" object'),
        ('{"rules": {"fall": {"verdict": true}}}', "no true/false verdict for rule 'smoke'"),
        (
            '{"rules": {"fall": {"verdict": "yes"}, "smoke": {"verdict": false}}}',
            "no true/false verdict for rule 'fall'",
        ),
        ('{"rules": {"fall": true, "smoke": false}}', "no true/false verdict for rule 'fall'"),
    ],
)
def test_an_unusable_answer_is_invalid_and_says_why(answer: str, error: str) -> None:
    parsed = parse_judgment(answer, [FALL, SMOKE])
    assert not parsed.valid
    assert error in parsed.error
    assert parsed.verdicts == ()


@pytest.mark.parametrize("confidence", [1.5, -0.1, "high", None, True])
def test_a_confidence_outside_0_to_1_is_unknown(confidence: object) -> None:
    parsed = parse_judgment(_answer(True, True, confidence), [FALL, SMOKE])
    assert parsed.valid
    assert math.isnan(parsed.confidence)


def test_evidence_is_cleaned_and_capped() -> None:
    answer = json.dumps(
        {
            "rules": {
                "fall": {"verdict": True, "evidence": "a\x00b" + "x" * 1000},
                "smoke": {"verdict": False, "evidence": 7},
            },
            "confidence": 0.5,
        }
    )
    parsed = parse_judgment(answer, [FALL, SMOKE])
    assert parsed.verdicts[0].evidence.startswith("ab" + "x" * 10)
    assert "\x00" not in parsed.verdicts[0].evidence
    assert len(parsed.verdicts[0].evidence) == MAX_EVIDENCE_CHARS  # cut at the bound
    assert parsed.verdicts[1].evidence == ""


def test_parsing_never_raises_on_random_text() -> None:
    rng = random.Random(7)
    alphabet = '{}[]":,truefalsrulesverdict \x00\ud800'
    for _ in range(500):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80)))
        parse_judgment(text, [FALL, SMOKE])


# ----- the state machine ---------------------------------------------------------------------
def test_raised_after_min_consecutive_positives_then_cleared_after_clear_after_negatives() -> None:
    tracker = RuleTracker(FALL)
    assert [tracker.observe(p, t) for t, p in enumerate([True, True, True, False, False])] == [
        None,
        AlertState.RAISED,
        None,
        None,
        AlertState.CLEARED,
    ]


def test_positive_again_inside_the_cooldown_waits_for_it_still_positive() -> None:
    rule = AlertRule("fall", condition="fallen?", cooldown_s=10.0, min_consecutive=2)
    tracker = RuleTracker(rule)
    states = {t: tracker.observe(p, float(t)) for t, p in enumerate([True] * 2 + [False] * 2)}
    assert states[1] == AlertState.RAISED and states[3] == AlertState.CLEARED
    later = {t: tracker.observe(True, float(t)) for t in range(4, 14)}
    assert [t for t, s in later.items() if s is not None] == [11]  # 10 s after the RAISED at 1
    assert later[11] == AlertState.RAISED


def test_an_unusable_judgment_breaks_both_runs() -> None:
    tracker = RuleTracker(FALL)
    assert [tracker.observe(p, 0.0) for p in [True, None, True]] == [None, None, None]
    assert tracker.observe(True, 1.0) == AlertState.RAISED
    assert [tracker.observe(p, 2.0) for p in [False, None, False]] == [None, None, None]
    assert tracker.observe(False, 3.0) == AlertState.CLEARED


def _reference(
    rule: AlertRule, history: list[tuple[float, bool | None]]
) -> list[AlertState | None]:
    """The issue's semantics restated over the whole history (independent of RuleTracker)."""
    out: list[AlertState | None] = []
    raised, last_raised = False, None
    for i, (t, _) in enumerate(history):
        run = [p for _, p in history[max(0, i + 1 - rule.min_consecutive) : i + 1]]
        neg = [p for _, p in history[max(0, i + 1 - rule.clear_after) : i + 1]]
        cooled = last_raised is None or t - last_raised >= rule.cooldown_s
        full_run = len(run) == rule.min_consecutive and all(p is True for p in run)
        if not raised and full_run and cooled:
            raised, last_raised = True, t
            out.append(AlertState.RAISED)
            continue
        if raised and len(neg) == rule.clear_after and all(p is False for p in neg):
            raised = False
            out.append(AlertState.CLEARED)
            continue
        out.append(None)
    return out


@pytest.mark.parametrize("seed", range(300))
def test_the_tracker_matches_the_issues_semantics_over_random_sequences(seed: int) -> None:
    rng = random.Random(seed)
    rule = AlertRule(
        "fall",
        condition="fallen?",
        cooldown_s=rng.choice([0.0, 1.0, 2.5, 5.0, 30.0]),
        min_consecutive=rng.randint(1, 4),
        clear_after=rng.randint(1, 4),
    )
    p_true = rng.random()
    t, history = 0.0, []
    for _ in range(rng.randint(1, 120)):
        t += rng.choice([0.1, 0.5, 1.0, 2.0])
        r = rng.random()
        history.append((t, None if r < 0.05 else r < p_true))
    tracker = RuleTracker(rule)
    got = [tracker.observe(p, at) for at, p in history]
    assert got == _reference(rule, history)
    events = [(at, s) for (at, _), s in zip(history, got, strict=True) if s is not None]
    # RAISED and CLEARED alternate, starting with RAISED; RAISEDs are a cooldown apart.
    assert [s for _, s in events] == [
        AlertState.RAISED if i % 2 == 0 else AlertState.CLEARED for i in range(len(events))
    ]
    raised_at = [at for at, s in events if s == AlertState.RAISED]
    assert all(b - a >= rule.cooldown_s for a, b in itertools.pairwise(raised_at))
    assert tracker.raised == (bool(events) and events[-1][1] == AlertState.RAISED)


def test_the_tracker_reports_each_rules_changes_with_its_verdict() -> None:
    tracker = AlertTracker([FALL, SMOKE])
    both = parse_judgment(_answer(True, True), [FALL, SMOKE])
    assert tracker.observe(both, 0.0) == []
    events = tracker.observe(both, 1.0)
    assert [(e.rule.name, e.state) for e in events] == [
        ("fall", AlertState.RAISED),
        ("smoke", AlertState.RAISED),
    ]
    assert events[0].verdict.evidence == "a person lies on the floor"
    assert tracker.raised() == [FALL, SMOKE]
    invalid = ParsedJudgment((), math.nan, False, "no JSON object")
    assert tracker.observe(invalid, 2.0) == []
    assert tracker.raised() == [FALL, SMOKE]
    only_smoke = parse_judgment(_answer(False, True), [FALL, SMOKE])
    tracker.observe(only_smoke, 3.0)
    assert [(e.rule.name, e.state) for e in tracker.observe(only_smoke, 4.0)] == [
        ("fall", AlertState.CLEARED)
    ]
    assert tracker.raised() == [SMOKE]
