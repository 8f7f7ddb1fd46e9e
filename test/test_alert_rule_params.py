"""The alert rules' parameters, derived from ``AlertRule``'s declarations: one spec per rule key
under ``alerts.<name>.``, built into ``NodeConfig.alert_rules`` in ``alerts`` order, with errors
that name the parameter."""

from __future__ import annotations

import dataclasses

import pytest

from cosmos_reason_ros.config import build_config
from cosmos_reason_ros.config.alert_rules import RULE_KEYS, rule_spec, rule_specs
from cosmos_reason_ros.core.alerts import AlertRule
from cosmos_reason_ros.core.architecture import Architecture
from cosmos_reason_ros.core.errors import ConfigError

REASON1 = Architecture("qwen2_5_vl", "config.json", "test")


def test_a_rules_keys_are_the_param_fields_of_alert_rule_under_its_prefix() -> None:
    fields = [f.name for f in dataclasses.fields(AlertRule) if f.name != "name"]
    assert list(RULE_KEYS) == fields
    specs = rule_specs("fall")
    assert [s.name for s in specs] == [f"alerts.fall.{k}" for k in fields]
    assert {s.name: s.default for s in specs} == {
        "alerts.fall.condition": "",
        "alerts.fall.severity": "warning",
        "alerts.fall.cooldown_s": 30.0,
        "alerts.fall.min_consecutive": 2,
        "alerts.fall.clear_after": 2,
    }
    assert rule_spec("alerts.fall.severity") == specs[1]
    assert rule_spec("alerts.fall.treshold") is None
    assert rule_spec("alerts") is None


def test_rules_are_built_in_alerts_order_from_their_parameters() -> None:
    config = build_config(
        {
            "alerts": ["smoke", "fall"],
            "alerts.fall.condition": "Has a person fallen?",
            "alerts.smoke.condition": "Is a machine smoking?",
            "alerts.smoke.cooldown_s": 5,  # an integer, as a params file may carry it
            "alerts.smoke.min_consecutive": 3,
        },
        REASON1,
    )
    assert [r.name for r in config.alert_rules] == ["smoke", "fall"]
    smoke = config.alert_rules[0]
    assert (smoke.cooldown_s, smoke.min_consecutive, smoke.severity) == (5.0, 3, "warning")
    assert build_config({}, REASON1).alert_rules == ()


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"alerts": ["fall"]}, "alerts.fall.condition must be set"),
        (
            {"alerts": ["fall"], "alerts.fall.condition": "?", "alerts.fall.severity": "fatal"},
            "alerts.fall.severity must be one of info, warning, error",
        ),
        (
            {"alerts": ["fall"], "alerts.fall.condition": "?", "alerts.fall.clear_after": 0},
            "alerts.fall.clear_after must be >= 1",
        ),
        ({"alerts": ["fall", "fall"]}, "alerts has duplicates"),
        ({"alerts": ["no-dash"]}, "must be a letter then"),
        ({"alert_period_s": 0.0}, "alert_period_s must be >= 0.05"),
    ],
)
def test_a_bad_rule_parameter_is_named(values: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build_config(values, REASON1)


def test_the_answer_room_after_the_thinking_must_hold_the_judgment_of_every_rule() -> None:
    """Every rule adds a verdict to the one judgment: a budget that holds a decision's answer
    can be too small for many rules, and is refused at configure, naming both parameters."""
    names = [f"rule_{i:02d}_{'x' * 50}" for i in range(16)]
    values: dict[str, object] = {
        "alerts": names,
        **{f"alerts.{n}.condition": "Is it so?" for n in names},
        "max_new_tokens": 1024,
        "max_thinking_tokens": 512,
    }
    with pytest.raises(
        ConfigError,
        match=r"max_new_tokens \(1024\) minus max_thinking_tokens \(512\) leaves 512 tokens for "
        r"the answer, which needs up to \d+ \(the shortest judgment of 16 rules",
    ):
        build_config(values, REASON1)
    assert len(build_config({**values, "max_new_tokens": 4096}, REASON1).alert_rules) == 16
    assert build_config({**values, "alerts": names[:4]}, REASON1).alert_rules
