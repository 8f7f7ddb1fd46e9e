"""A parameter is declared once, on the config field it sets (``core.params``): the table is
derived from the declarations, each entry names the field it sets, every value changes what the
node runs on, and a new declaration is all a new parameter needs."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from cosmos_reason_ros.config import SPECS, NodeConfig, ParamSpec, build_config
from cosmos_reason_ros.core.architecture import Architecture
from cosmos_reason_ros.core.errors import ConfigError

RESOLVED = {"profile", "max_num_tokens"}  # auto and 0 are resolved by build_config
REASON1 = Architecture("qwen2_5_vl", "config.json", "test")


def _field(config: Any, path: str) -> Any:
    for name in path.split("."):
        config = getattr(config, name)
    return config


OTHER_RULE = {"alerts.other.condition": "Is anything on fire?"}
"""The rule ``alerts: [other]`` needs (declared only once named, so ignored otherwise)."""


def _other_value(spec: ParamSpec) -> Any:
    """A valid value other than the default."""
    default = spec.default
    if spec.family:  # -1 = the family's; the top of the range is never a family value
        return type(default)(spec.high)
    if spec.name == "profile":
        return "reason2"
    if spec.choices:
        return next(c for c in spec.choices if c != default)
    if isinstance(default, bool):
        return not default
    if isinstance(default, list):
        if spec.name == "alerts":
            return ["other"]  # its condition: OTHER_RULE
        return [*default, "extra: one more"] if spec.name == "actions" else ["/other/image"]
    if isinstance(default, (int, float)):
        high = spec.high if spec.high is not None else default + 10
        low = spec.low if spec.low is not None else default - 10
        value = default + 1 if default + 1 <= high else default - 1
        value = max(low, min(high, value))
        return type(default)(value)
    return {"fallback_action": "wait", "api_key_env": "OTHER_KEY"}.get(
        spec.name, f"{default}x" if spec.name != "base_url" else "http://other:8000/v1"
    )


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_every_parameter_sets_the_field_that_declares_it(spec: ParamSpec) -> None:
    value = _field(build_config({}, REASON1), spec.to)  # AttributeError for a wrong path
    if not spec.family and spec.name not in RESOLVED:
        assert value == (tuple(spec.default) if isinstance(spec.default, list) else spec.default)


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_every_parameter_value_changes_the_built_config(spec: ParamSpec) -> None:
    base = build_config({}, REASON1)
    changed = build_config({spec.name: _other_value(spec), **OTHER_RULE}, REASON1)
    assert changed != base, f"{spec.name}={_other_value(spec)!r} changed nothing"


def test_the_architecture_decides_the_profile_and_the_frame_geometry() -> None:
    reason2 = build_config({}, Architecture("qwen3_vl", "config.json", "test"))
    reason1 = build_config({}, REASON1)
    assert (reason1.reasoner.profile, reason1.window.patch_multiple) == ("reason1", 28)
    assert (reason2.reasoner.profile, reason2.window.patch_multiple) == ("reason2", 32)
    forced = build_config({"profile": "reason2"}, REASON1)
    assert (forced.reasoner.profile, forced.window.patch_multiple) == ("reason2", 32)


def test_a_config_is_final_and_names_the_first_bad_parameter() -> None:
    config = build_config({}, REASON1)
    assert isinstance(config, NodeConfig)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.max_pending = 3  # type: ignore[misc]
    with pytest.raises(ConfigError, match="max_pending must be <= 64"):
        build_config({"max_pending": 65}, REASON1)
    with pytest.raises(ConfigError, match="sample_fps must be float"):
        build_config({"sample_fps": "fast"}, REASON1)
