"""One conversion of the node's messages to dicts for every tool: every field of NextAction and
Reasoning (as the .msg files declare them) is in it, and ask, watch and the demo use it."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from cosmos_reason_ros.tools import message_dicts
from cosmos_reason_ros.tools.message_dicts import (
    TEXT_FIELDS,
    decision_dict,
    next_action_dict,
    reasoning_dict,
    response_dict,
)

msg = pytest.importorskip("cosmos_reason_ros.msg", reason="the generated messages are built")
MSG_DIR = Path(__file__).resolve().parents[2] / "msg"
HEADER_KEYS = {"stamp", "frame_id"}  # what a std_msgs/Header field becomes


def declared_fields(name: str) -> list[str]:
    """The field names of ``msg/<name>.msg``, in order (comments and constants left out)."""
    fields = []
    for line in (MSG_DIR / f"{name}.msg").read_text(encoding="utf-8").splitlines():
        code = line.split("#", 1)[0].strip()
        match = re.fullmatch(r"\S+\s+(\w+)", code)
        if match:
            fields.append(match.group(1))
    return fields


def expected_keys(name: str) -> set[str]:
    fields = set(declared_fields(name))
    return (fields - {"header"}) | (HEADER_KEYS if "header" in fields else set())


def next_action() -> Any:
    from builtin_interfaces.msg import Time
    from diagnostic_msgs.msg import KeyValue

    a = msg.NextAction(
        decision_id=7, action="stop", target="ball", confidence=0.8, valid=True, reason="near"
    )
    a.header.stamp, a.header.frame_id = Time(sec=3, nanosec=5), "cam"
    a.parameters = [KeyValue(key="distance_m", value="0.5")]
    a.window_start, a.frame_count = Time(sec=1, nanosec=0), 9
    return a


def reasoning() -> Any:
    r = msg.Reasoning(decision_id=7, question="what now?", thinking="hmm", answer="{}")
    r.raw_text, r.model, r.latency_s, r.time_to_first_token_s = "<think>hmm", "m", 1.25, 0.5
    r.prompt_tokens, r.generated_tokens, r.thinking_s, r.thinking_ended_by = 100, 20, 0.75, "model"
    return r


def test_the_field_lists_are_read_from_the_message_files() -> None:
    assert declared_fields("NextAction")[:3] == ["header", "decision_id", "action"]
    assert "thinking_s" in declared_fields("Reasoning")
    assert set(declared_fields("NextAction")) == set(msg.NextAction.get_fields_and_field_types())
    assert set(declared_fields("Reasoning")) == set(msg.Reasoning.get_fields_and_field_types())


def test_every_next_action_field_is_in_its_dict() -> None:
    d = next_action_dict(next_action())
    assert set(d) == expected_keys("NextAction")
    assert (d["stamp"], d["frame_id"], d["window_start"]) == ("3.000000005", "cam", "1.000000000")
    assert d["parameters"] == {"distance_m": "0.5"} and d["confidence"] == pytest.approx(0.8)


def test_every_reasoning_field_is_in_its_dict_the_long_texts_when_asked_for() -> None:
    assert set(reasoning_dict(reasoning(), text=True)) == expected_keys("Reasoning")
    short = reasoning_dict(reasoning())
    assert set(short) == expected_keys("Reasoning") - set(TEXT_FIELDS)
    assert (short["thinking_s"], short["thinking_ended_by"]) == (0.75, "model")


def test_a_decision_holds_both_messages_and_a_response_adds_success_and_message() -> None:
    both = expected_keys("NextAction") | expected_keys("Reasoning")
    assert set(decision_dict(next_action(), reasoning(), text=True)) == both
    assert set(decision_dict(next_action(), None)) == expected_keys("NextAction")
    ok = SimpleNamespace(success=True, message="", action=next_action(), reasoning=reasoning())
    assert set(response_dict(ok, text=True)) == both | {"success", "message"}
    failed = SimpleNamespace(success=False, message="node is up but inactive")
    assert response_dict(failed) == {"success": False, "message": "node is up but inactive"}
    assert json.dumps(response_dict(ok, text=True))


def test_an_unknown_confidence_is_null_not_nan() -> None:
    a = next_action()
    a.confidence = math.nan
    assert next_action_dict(a)["confidence"] is None


def test_ask_watch_and_the_demo_use_the_one_conversion() -> None:
    from cosmos_reason_ros.tools import ask, watch

    assert ask.response_dict is message_dicts.response_dict
    assert watch.decision_dict is message_dicts.decision_dict
    demo = (Path(message_dicts.__file__).parent / "demo.py").read_text(encoding="utf-8")
    assert "from cosmos_reason_ros.tools.message_dicts import response_dict" in demo
