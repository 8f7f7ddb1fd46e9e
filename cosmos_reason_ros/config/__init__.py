"""The node's parameters: the table derived from their declarations (``specs``), the typed
configuration they build (``node_config``, ``build``) and the one order of loading
(``loading``). Pure Python: no rclpy."""

from cosmos_reason_ros.config.build import build_config, check_value
from cosmos_reason_ros.config.loading import load_configured, rebuild_for
from cosmos_reason_ros.config.node_config import NodeConfig
from cosmos_reason_ros.config.specs import (
    DEFAULT_ACTIONS,
    FALLBACK_RULE,
    SPEC_BY_NAME,
    SPECS,
    ParamSpec,
    specs_of,
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
    "specs_of",
]
