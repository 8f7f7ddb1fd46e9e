"""Launch file and YAML profiles agree with the node's parameter declarations.

Needs nothing but Python and PyYAML: the launch file is read as text/AST where launch_ros is
not installed, so the mapping is checked everywhere.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

from cosmos_reason_ros.config import SPEC_BY_NAME, SPECS, build_config
from cosmos_reason_ros.config.params_file import params_yaml

ROOT = Path(__file__).resolve().parents[1]
ROS_OWN = {"use_sim_time"}  # declared by rclpy itself


def _launch_dict(name: str) -> dict[str, str]:
    tree = ast.parse((ROOT / "launch" / "reason.launch.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            return ast.literal_eval(node.value)
    raise AssertionError(f"{name} not found in launch/reason.launch.py")


def test_every_launch_argument_maps_onto_a_declared_parameter() -> None:
    for arg in _launch_dict("PARAMETER_ARGUMENTS"):
        assert arg in SPEC_BY_NAME or arg in ROS_OWN, f"launch argument {arg} is not a parameter"
    assert set(_launch_dict("OTHER_ARGUMENTS")) == {"params_file", "namespace"}


def test_launch_arguments_cover_what_the_issue_names() -> None:
    args = set(_launch_dict("PARAMETER_ARGUMENTS")) | set(_launch_dict("OTHER_ARGUMENTS"))
    assert {
        "model",
        "backend",
        "image_topics",
        "params_file",
        "namespace",
        "use_sim_time",
        "autostart",
    } <= args


@pytest.mark.parametrize("path", sorted((ROOT / "config").glob("*.yaml")), ids=lambda p: p.name)
def test_config_files_name_only_declared_parameters_with_valid_values(path: Path) -> None:
    data = yaml.safe_load(path.read_text())
    params = data["/**"]["ros__parameters"]
    unknown = set(params) - set(SPEC_BY_NAME) - ROS_OWN
    assert not unknown, f"{path.name} names undeclared parameters {sorted(unknown)}"
    build_config(params)  # raises ConfigError on a bad value


def test_reason_yaml_mirrors_every_declared_default() -> None:
    params = yaml.safe_load((ROOT / "config" / "reason.yaml").read_text())["/**"][
        "ros__parameters"
    ]
    assert list(params) == [s.name for s in SPECS], "regenerate: scripts/gen_reason_yaml.py"
    for spec in SPECS:
        assert params[spec.name] == spec.default, f"{spec.name}: yaml differs from declaration"
    text = (ROOT / "config" / "reason.yaml").read_text()
    assert text == params_yaml(SPECS), "regenerate: scripts/gen_reason_yaml.py"


def test_launch_overrides_parse_topics_and_booleans() -> None:
    pytest.importorskip(
        "launch_ros", reason="launch_ros is not installed here (no ros2 launch from wheels)"
    )
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "reason_launch", ROOT / "launch" / "reason.launch.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    got = module.parameter_overrides(
        {"image_topics": "['/a', '/b/compressed']", "autostart": "false", "model": ""}
    )
    assert got == {"image_topics": ["/a", "/b/compressed"], "autostart": False}
