"""pip packaging of the pure-Python part (core, backends, tools, CLIs), for use without ROS.

colcon does NOT use this file: the ROS 2 package is built by CMakeLists.txt (ament_cmake),
which also generates the msg/srv/action interfaces. `pip install .` gives the engine, the
backends and the offline tools (cosmos-reason, cosmos-reason-scenario, cosmos-reason-eval,
cosmos-reason-benchmark);
the node and the ROS tools additionally need rclpy and the generated interfaces.
"""

from pathlib import Path

from setuptools import find_packages, setup


def _requirements() -> list[str]:
    lines = Path(__file__).with_name("requirements.txt").read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]


setup(
    name="cosmos_reason_ros",
    version="0.1.0",
    description="Cosmos-Reason vision-language reasoning for ROS 2 robots",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["cosmos_reason_ros", "cosmos_reason_ros.*"]),
    include_package_data=True,
    package_data={"cosmos_reason_ros.testing": ["chat_templates/*.jinja"]},
    install_requires=_requirements(),
    entry_points={
        "console_scripts": [
            "cosmos-reason=cosmos_reason_ros.tools.cli:main",
            "cosmos-reason-ask=cosmos_reason_ros.tools.ask:main",
            "cosmos-reason-watch=cosmos_reason_ros.tools.watch:main",
            "cosmos-reason-scenario=cosmos_reason_ros.tools.scenario:main",
            "cosmos-reason-replay=cosmos_reason_ros.tools.replay_cli:main",
            "cosmos-reason-eval=cosmos_reason_ros.tools.eval_cli:main",
            "cosmos-reason-benchmark=cosmos_reason_ros.tools.benchmark:main",
            "reason_node=cosmos_reason_ros.ros.node:main",
        ]
    },
)
