"""Specification of ActionSpace: parsing entries, restricting to choices, the answer schema."""

from __future__ import annotations

import json
import re

import pytest

from cosmos_reason_ros.core.action_space import MAX_NAME_CHARS, ActionSpace, ActionSpec
from cosmos_reason_ros.core.errors import ConfigError, InputError


@pytest.fixture
def space() -> ActionSpace:
    return ActionSpace.parse(
        ["move_forward: drive ahead slowly", "turn_left", "turn_right:  turn in place "], "stop"
    )


def test_parse_reads_names_and_one_line_descriptions(space: ActionSpace) -> None:
    assert space.actions == (
        ActionSpec("move_forward", "drive ahead slowly"),
        ActionSpec("turn_left", ""),
        ActionSpec("turn_right", "turn in place"),
    )
    assert space.fallback == "stop"


def test_fallback_is_a_legal_output_even_when_not_configured(space: ActionSpace) -> None:
    assert space.names == ("move_forward", "turn_left", "turn_right", "stop")
    assert space.answer_names == space.names


def test_fallback_already_among_the_entries_is_not_repeated() -> None:
    space = ActionSpace.parse(["stop: halt", "go"], "stop")
    assert space.names == ("stop", "go")


@pytest.mark.parametrize(
    ("entries", "fallback", "message"),
    [
        ([], "stop", "at least one action"),
        (["go", "go: again"], "stop", "duplicate action 'go'"),
        (["go", " : no name"], "stop", "actions[1] (' : no name'): the action name is empty"),
        (["x" * (MAX_NAME_CHARS + 1)], "stop", f"the limit is {MAX_NAME_CHARS}"),
        (["go"], "  ", "fallback action: the action name is empty"),
        (["bad\tname"], "stop", "must be printable"),
        (['say "hi"'], "stop", "without quotes"),
        ("go,stop", "stop", "single string"),
        (["go: " + "d" * 300], "stop", "description of 'go' is 300 characters"),
    ],
)
def test_parse_rejects_bad_entries_with_a_clear_message(
    entries: list[str], fallback: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        ActionSpace.parse(entries, fallback)


def test_restricted_to_keeps_choice_order_descriptions_and_fallback(space: ActionSpace) -> None:
    restricted = space.restricted_to(["turn_right", "move_forward"], max_choices=4)
    assert restricted.actions == (
        ActionSpec("turn_right", "turn in place"),
        ActionSpec("move_forward", "drive ahead slowly"),
    )
    assert restricted.fallback == "stop"
    assert restricted.names == ("turn_right", "move_forward", "stop")
    # The fallback is legal output but not a valid answer unless it is one of the choices.
    assert restricted.answer_names == ("turn_right", "move_forward")
    assert space.restricted_to(["stop", "turn_left"], 4).answer_names == ("stop", "turn_left")


@pytest.mark.parametrize(
    ("choices", "message"),
    [
        (["fly", "swim"], "choices 'fly', 'swim' are not allowed actions"),
        (["turn_left", "turn_left"], "duplicate choices: 'turn_left'"),
        (["turn_left", "  "], r"choices \[1\] are empty"),
        ([], "choices is empty"),
        (["turn_left", "turn_right", "stop"], "3 choices given; the limit is 2"),
        ("turn_left", "single string"),
    ],
)
def test_restricted_to_rejects_bad_choices_naming_the_offenders(
    space: ActionSpace, choices: list[str], message: str
) -> None:
    with pytest.raises(InputError, match=message):
        space.restricted_to(choices, max_choices=2)


def test_answer_schema_requires_every_key_and_bounds_everything(space: ActionSpace) -> None:
    schema = space.answer_schema(max_target_chars=10, max_reason_chars=20, max_parameters=3)
    json.dumps(schema)  # plain JSON
    props = schema["properties"]
    assert schema["required"] == ["action", "target", "parameters", "confidence", "reason"]
    assert schema["additionalProperties"] is False
    assert props["action"]["enum"] == ["move_forward", "turn_left", "turn_right", "stop"]
    assert props["target"]["maxLength"] == 10
    assert props["reason"]["maxLength"] == 20
    assert props["parameters"]["maxProperties"] == 3
    assert props["parameters"]["additionalProperties"]["type"] == "string"
    assert (props["confidence"]["minimum"], props["confidence"]["maximum"]) == (0, 1)


def test_answer_schema_of_a_restricted_space_enumerates_only_the_choices(
    space: ActionSpace,
) -> None:
    schema = space.restricted_to(["turn_left", "turn_right"], 4).answer_schema()
    assert schema["properties"]["action"]["enum"] == ["turn_left", "turn_right"]


def test_answer_schema_compiles_in_xgrammar_and_enforces_its_bounds(space: ActionSpace) -> None:
    """The real xgrammar compiler, with a byte-level vocabulary: valid answers pass, others not."""
    xgr = pytest.importorskip("xgrammar", reason="xgrammar is not installed")
    vocab = [chr(i) for i in range(32, 127)] + ["<eos>"]
    info = xgr.TokenizerInfo(vocab, stop_token_ids=[len(vocab) - 1])
    grammar = xgr.GrammarCompiler(info).compile_json_schema(
        json.dumps(space.answer_schema()), any_whitespace=False
    )

    def accepted(answer: dict[str, object]) -> bool:
        return bool(xgr.GrammarMatcher(grammar).accept_string(json.dumps(answer)))

    good = {
        "action": "stop",
        "target": "",
        "parameters": {"d": "1"},
        "confidence": 0.5,
        "reason": "ok",
    }
    assert accepted(good)
    assert not accepted({**good, "action": "fly"})
    assert not accepted({**good, "confidence": 7})
    assert not accepted({**good, "reason": "r" * 301})
    assert not accepted({**good, "parameters": {f"k{i}": "v" for i in range(9)}})
    assert not accepted({**good, "extra": 1})
