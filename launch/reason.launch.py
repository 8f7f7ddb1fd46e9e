"""Launch the cosmos_reason node.

    ros2 launch cosmos_reason_ros reason.launch.py image_topics:="['/camera/image_raw']"
    ros2 launch cosmos_reason_ros reason.launch.py params_file:=$(ros2 pkg prefix \
        cosmos_reason_ros)/share/cosmos_reason_ros/config/jetson_orin.yaml

Every argument maps onto a node parameter of the same name (except params_file and namespace).
An argument left empty is not passed at all, so the node's declared defaults (mirrored in
config/reason.yaml) stay the single source of defaults.
"""

from __future__ import annotations

import os
from typing import Any

import yaml
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from launch import LaunchContext, LaunchDescription

# launch argument -> what it sets (node parameter names; see cosmos_reason_ros/config.py)
PARAMETER_ARGUMENTS = {
    "model": "Hub id or local folder of the checkpoint",
    "backend": "transformers | tensorrt_llm | openai",
    "image_topics": "Camera topics, e.g. \"['/front/image_raw', '/rear/image_raw/compressed']\"",
    "use_sim_time": "true when replaying a bag with /clock",
    "autostart": "false: a lifecycle manager drives configure/activate",
}
OTHER_ARGUMENTS = {
    "params_file": "YAML parameters file (default: the package's config/reason.yaml)",
    "namespace": "Namespace of the node, e.g. robot1 (one server, several robots)",
}


def _default_params_file() -> str:
    try:
        from ament_index_python.packages import get_package_share_directory

        share = get_package_share_directory("cosmos_reason_ros")
    except (ImportError, LookupError):
        share = os.path.join(os.path.dirname(__file__), "..")
    return os.path.join(share, "config", "reason.yaml")


def parameter_overrides(values: dict[str, str]) -> dict[str, Any]:
    """Typed node parameters for the launch arguments that were given (non-empty)."""
    overrides: dict[str, Any] = {}
    for name, text in values.items():
        if name not in PARAMETER_ARGUMENTS or text == "":
            continue
        if name == "image_topics":
            parsed = yaml.safe_load(text) if text.lstrip().startswith("[") else text.split(",")
            overrides[name] = [str(t).strip() for t in parsed]
        elif name in ("use_sim_time", "autostart"):
            overrides[name] = text.strip().lower() in ("true", "1", "yes")
        else:
            overrides[name] = text
    return overrides


def _node(context: LaunchContext) -> list[Node]:
    values = {name: LaunchConfiguration(name).perform(context) for name in PARAMETER_ARGUMENTS}
    params_file = LaunchConfiguration("params_file").perform(context) or _default_params_file()
    return [
        Node(
            package="cosmos_reason_ros",
            executable="reason_node",
            name="cosmos_reason",
            namespace=LaunchConfiguration("namespace").perform(context),
            parameters=[params_file, parameter_overrides(values)],
            output="screen",
            emulate_tty=True,
        )
    ]


def generate_launch_description() -> LaunchDescription:
    arguments = [
        DeclareLaunchArgument(name, default_value="", description=text)
        for name, text in {**PARAMETER_ARGUMENTS, **OTHER_ARGUMENTS}.items()
    ]
    return LaunchDescription([*arguments, OpaqueFunction(function=_node)])
