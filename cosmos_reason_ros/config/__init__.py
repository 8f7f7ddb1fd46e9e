"""The node's parameters: one table (``specs``) every entry point reads, and the builder of
the typed configuration (``build``). Pure Python: no rclpy."""

from cosmos_reason_ros.config.build import NodeConfig, build_config, check_value, route
from cosmos_reason_ros.config.loading import load_configured, rebuild_for
from cosmos_reason_ros.config.specs import (
    DEFAULT_ACTIONS,
    FALLBACK_RULE,
    SPEC_BY_NAME,
    SPECS,
    ParamSpec,
)

__all__ = [
    "DEFAULT_ACTIONS",
    "FALLBACK_RULE",
    "SPECS",
    "SPEC_BY_NAME",
    "NodeConfig",
    "ParamSpec",
    "build_config",
    "check_value",
    "load_configured",
    "rebuild_for",
    "route",
]
