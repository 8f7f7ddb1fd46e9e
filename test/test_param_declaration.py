"""Adding a parameter is one declaration: a ``param`` field on the config it sets. The table
entry, the ROS descriptor, the parameters file, the CLI option and the range check all follow
from it, as this fixture's new parameter shows."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import pytest
import yaml

from cosmos_reason_ros.config import ParamSpec, specs_of
from cosmos_reason_ros.config.params_file import params_yaml
from cosmos_reason_ros.core.errors import ConfigError
from cosmos_reason_ros.core.params import param
from cosmos_reason_ros.core.window import WindowConfig


@dataclass(frozen=True)
class WindowWithBlurCheck(WindowConfig):
    """The window config as it would be with one more parameter, declared the only way."""

    max_blur: float = param(
        0.5, "Frames blurrier than this are dropped", live=True, low=0.0, high=1.0
    )


@pytest.fixture
def new_spec() -> ParamSpec:
    specs = {s.name: s for s in specs_of(WindowWithBlurCheck, "window.")}
    return specs["max_blur"]


def test_the_table_entry_comes_from_the_declaration(new_spec: ParamSpec) -> None:
    assert (new_spec.name, new_spec.default, new_spec.to) == ("max_blur", 0.5, "window.max_blur")
    assert (new_spec.low, new_spec.high, new_spec.live) == (0.0, 1.0, True)
    assert new_spec.description == "Frames blurrier than this are dropped"


def test_the_parameters_file_lists_it_with_its_range(new_spec: ParamSpec) -> None:
    text = params_yaml([new_spec])
    assert "# Frames blurrier than this are dropped [range 0 .. 1] [live]" in text
    assert yaml.safe_load(text)["/**"]["ros__parameters"] == {"max_blur": 0.5}


def test_the_ros_descriptor_carries_its_description_and_range(new_spec: ParamSpec) -> None:
    from cosmos_reason_ros.ros.params_ros import descriptor

    d = descriptor(new_spec)
    assert d.description.startswith("Frames blurrier than this are dropped")
    assert (d.floating_point_range[0].from_value, d.floating_point_range[0].to_value) == (0, 1)


def test_the_cli_option_is_derived_from_it(new_spec: ParamSpec) -> None:
    from cosmos_reason_ros.tools.options import add_param_options, param_values

    parser = argparse.ArgumentParser()
    add_param_options(parser, [new_spec])
    assert "Frames blurrier than this are dropped" in parser.format_help()
    args = parser.parse_args(["--max-blur", "0.25"])
    assert param_values(args, [new_spec]) == {"max_blur": 0.25}


def test_the_typed_config_checks_its_declared_range() -> None:
    assert WindowWithBlurCheck(max_blur=0.25).max_blur == 0.25
    with pytest.raises(ConfigError, match=r"max_blur must be <= 1, got 1\.5"):
        WindowWithBlurCheck(max_blur=1.5)
