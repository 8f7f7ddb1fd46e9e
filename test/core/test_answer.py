"""Specification of parse_answer: never raises, never leaks an action outside the action space."""

from __future__ import annotations

import json
import math

import pytest

from cosmos_reason_ros.core.action_space import MAX_REASON_CHARS, ActionSpace
from cosmos_reason_ros.core.answer import (
    ANSWER_MAX_CHARS,
    RAW_TEXT_MAX_CHARS,
    THINKING_MAX_CHARS,
    ParsedAnswer,
    clean_text,
    parse_answer,
)
from cosmos_reason_ros.core.prompts import REASON1, REASON2, PromptProfile

SPACE = ActionSpace.parse(["move_forward: drive ahead", "turn_left", "turn_right"], "stop")
GOOD = {
    "action": "turn_left",
    "target": "door",
    "parameters": {"angle_deg": "30"},
    "confidence": 0.8,
    "reason": "the corridor bends left",
}
GOOD_JSON = json.dumps(GOOD)


def r1(answer: str, thinking: str = "I look at the frames.") -> str:
    return f"<think>\n{thinking}\n</think>\n\n<answer>\n{answer}\n</answer>"


def r2(answer: str, thinking: str = "I look at the frames.") -> str:
    return f"<think>\n{thinking}\n</think>\n\n{answer}"


def test_well_formed_reason1_output_gives_the_answer() -> None:
    parsed = parse_answer(r1(GOOD_JSON), REASON1, SPACE)
    assert parsed == ParsedAnswer(
        thinking="I look at the frames.",
        answer_text=GOOD_JSON,
        action="turn_left",
        target="door",
        parameters=(("angle_deg", "30"),),
        confidence=0.8,
        reason="the corridor bends left",
        valid=True,
        error="",
    )


def test_well_formed_reason2_output_gives_the_answer() -> None:
    parsed = parse_answer(r2(GOOD_JSON), REASON2, SPACE)
    assert (parsed.valid, parsed.action, parsed.thinking) == (
        True,
        "turn_left",
        "I look at the frames.",
    )


def test_forced_answer_without_opening_think_tag_is_read() -> None:
    """A backend that forces the answer after the thinking budget; template opened <think>."""
    parsed = parse_answer("ran out of budget</think>\n\n<answer>\n" + GOOD_JSON, REASON1, SPACE)
    assert parsed.valid, parsed.error
    assert parsed.thinking == "ran out of budget"


# (name, raw text, profile, expected substring of the error or None when valid)
HOSTILE: list[tuple[str, str, PromptProfile, str | None]] = [
    ("empty", "", REASON1, "no <answer> tag"),
    ("empty reason2", "", REASON2, "empty answer"),
    ("whitespace", " \n\t ", REASON2, "empty answer"),
    ("no tags at all", "turn left, obviously", REASON1, "no <answer> tag"),
    ("json without answer tag", GOOD_JSON, REASON1, "no <answer> tag"),
    ("think only", "<think>hmm</think>", REASON1, "no <answer> tag"),
    ("think only reason2", "<think>hmm</think>", REASON2, "no answer after </think>"),
    ("unclosed think", "<think>I keep thinking and never", REASON1, "unclosed <think>"),
    ("unclosed think reason2", "<think>I keep thinking", REASON2, "unclosed <think>"),
    ("empty answer tag", r1(""), REASON1, "empty answer"),
    ("prose answer", r1("I would turn left."), REASON1, "no JSON object in the answer"),
    ("unknown action", r1('{"action": "fly"}'), REASON1, "unknown action 'fly'"),
    ("confidence too big", r1('{"action": "stop", "confidence": 7}'), REASON1, "confidence 7 out"),
    ("confidence negative", r1('{"action": "stop", "confidence": -1}'), REASON1, "-1 out of"),
    ("confidence NaN", r1('{"action": "stop", "confidence": NaN}'), REASON1, "out of [0, 1]"),
    ("confidence text", r1('{"action": "stop", "confidence": "high"}'), REASON1, "not a number"),
    ("confidence bool", r1('{"action": "stop", "confidence": true}'), REASON1, "not a number"),
    ("missing action", r1('{"target": "door"}'), REASON1, "missing key 'action'"),
    ("action not text", r1('{"action": ["stop"]}'), REASON1, "unknown action ['stop']"),
    ("array answer", r1('[{"action": "stop"}]'), REASON1, None),  # the object inside is found
    ("parameters list", r1('{"action": "stop", "parameters": [1]}'), REASON1, "parameters"),
    (
        "too many parameters",
        r1(json.dumps({"action": "stop", "parameters": {f"k{i}": "v" for i in range(20)}})),
        REASON1,
        "parameters",
    ),
    ("truncated json", r1('{"action": "turn_left", "target": "do'), REASON1, "no JSON object"),
    ("json in fences", r1(f"```json\n{GOOD_JSON}\n```"), REASON1, None),
    ("extra keys", r1(json.dumps({**GOOD, "speed": 3, "why": {"a": 1}})), REASON1, None),
    ("nested quotes", r1(json.dumps({**GOOD, "reason": 'the "door" is \\ open'})), REASON1, None),
    ("trailing text", r1(GOOD_JSON + " and then some words {"), REASON1, None),
    (
        "json in thinking too",
        r1(GOOD_JSON, thinking='maybe {"action": "fly"} or {"action": "stop"}'),
        REASON1,
        None,
    ),
    (
        "thinking json with wrong answer",
        r1('{"action": "jump"}', thinking=GOOD_JSON),
        REASON1,
        "unknown action 'jump'",
    ),
    ("several objects in answer", r1('{"a": 1} ' + GOOD_JSON), REASON1, None),
    ("objects without action", r1('{"a": 1} {"b": 2}'), REASON1, "missing key 'action'"),
    ("answer tag unclosed", "<think>x</think>\n<answer>\n" + GOOD_JSON, REASON1, None),
    ("reason2 with stray answer tag", r2(f"<answer>{GOOD_JSON}</answer>"), REASON2, None),
    ("nul bytes", r1(GOOD_JSON.replace(",", ",\x00")), REASON1, None),
    ("nul bytes everywhere", "\x00" * 1000, REASON1, "no <answer> tag"),
    ("junk unicode", r1("\ud800\udfff\u202e\ufffe" + GOOD_JSON + "\U0010ffff"), REASON1, None),
    ("junk unicode only", "\ud83d\x07\u200b" * 500, REASON2, "no JSON object"),
    ("50 kB of noise", "{[<think>\"'\\" * 5000, REASON1, "no <answer> tag"),
    ("50 kB of noise after think", "<think>{[\"'\\" * 10_000, REASON1, "unclosed <think>"),
    ("50 kB of braces", r1("{" * 50_000), REASON1, "no JSON object"),
    ("deep nesting", r1('{"action": ' + "[" * 100_000 + "]" * 100_000 + "}"), REASON1, "JSON"),
    ("huge noise then answer", "x" * 60_000 + r1(GOOD_JSON), REASON1, None),
    ("case differs", r1('{"action": "Turn_Left"}'), REASON1, None),
    ("python dict", r1("{'action': 'stop'}"), REASON1, "no JSON object"),
    ("letter without multiple choice", r1("A"), REASON1, "no JSON object"),
    ("fallback as answer", r1('{"action": "stop"}'), REASON1, None),
    ("two think blocks", "<think>a</think><think>b</think>\n" + GOOD_JSON, REASON2, None),
]


@pytest.mark.parametrize(
    ("raw", "profile", "expected_error"),
    [pytest.param(raw, profile, err, id=name) for name, raw, profile, err in HOSTILE],
)
def test_hostile_output_never_raises_and_never_leaks_an_unknown_action(
    raw: str, profile: PromptProfile, expected_error: str | None
) -> None:
    parsed = parse_answer(raw, profile, SPACE)
    assert parsed.action in SPACE.names
    assert len(parsed.thinking) <= THINKING_MAX_CHARS + 40
    assert len(parsed.answer_text) <= ANSWER_MAX_CHARS + 40
    if expected_error is None:
        assert parsed.valid, parsed.error
        assert parsed.error == ""
    else:
        assert not parsed.valid
        assert parsed.action == "stop"
        assert expected_error in parsed.error
        assert parsed.reason == f"invalid model output: {parsed.error}"
        assert math.isnan(parsed.confidence)
        assert (parsed.target, parsed.parameters) == ("", ())
    # Everything that comes out can be encoded for a ROS string message.
    for text in (parsed.thinking, parsed.answer_text, parsed.reason, parsed.error):
        assert "\x00" not in text
        text.encode("utf-8")


def test_hostile_corpus_is_large() -> None:
    assert len(HOSTILE) >= 30


def test_overlong_strings_are_cut_not_rejected() -> None:
    parsed = parse_answer(r1(json.dumps({"action": "stop", "reason": "r" * 5000})), REASON1, SPACE)
    assert parsed.valid
    assert parsed.reason == "r" * MAX_REASON_CHARS


def test_numbers_in_parameters_become_strings() -> None:
    answer = json.dumps({"action": "move_forward", "parameters": {"distance_m": 0.5, "n": 2}})
    parsed = parse_answer(r1(answer), REASON1, SPACE)
    assert parsed.parameters == (("distance_m", "0.5"), ("n", "2"))


def test_missing_confidence_is_unknown_not_invalid() -> None:
    parsed = parse_answer(r1('{"action": "turn_right"}'), REASON1, SPACE)
    assert parsed.valid
    assert math.isnan(parsed.confidence)


MC = SPACE.restricted_to(["turn_right", "move_forward"], 4)


@pytest.mark.parametrize(
    ("answer", "action"),
    [
        ("A", "turn_right"),
        ("(B)", "move_forward"),
        ("B.", "move_forward"),
        ("(A) turn_right", "turn_right"),
        ("move_forward", "move_forward"),
        ("move_forward: drive ahead", "move_forward"),
        ('{"action": "B", "confidence": 0.4}', "move_forward"),
        ('{"action": "(A)"}', "turn_right"),
        ("A\nbecause the right side is free", "turn_right"),
    ],
)
def test_multiple_choice_accepts_letters_and_option_text(answer: str, action: str) -> None:
    parsed = parse_answer(r1(answer), REASON1, MC, multiple_choice=True)
    assert (parsed.valid, parsed.action) == (True, action), parsed.error


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        ("C", "'C' is neither a JSON object nor an option"),
        ("turn_left", "neither a JSON object nor an option"),
        ('{"action": "turn_left"}', "unknown action 'turn_left': not among the choices"),
        ('{"action": "stop"}', "unknown action 'stop': not among the choices"),
    ],
)
def test_multiple_choice_rejects_answers_outside_the_choices(answer: str, error: str) -> None:
    parsed = parse_answer(r1(answer), REASON1, MC, multiple_choice=True)
    assert not parsed.valid
    assert parsed.action == "stop", "the fallback is still what an invalid decision carries"
    assert error in parsed.error


def test_clean_text_caps_and_marks_overlong_text() -> None:
    text = clean_text("a\x00b" + "c" * (RAW_TEXT_MAX_CHARS + 10), RAW_TEXT_MAX_CHARS)
    assert text.startswith("abccc")
    assert text.endswith("…[12 more characters]")
    assert clean_text(None, 10) == ""
    assert clean_text("\ud800x", 10) == "?x"
