"""From parameter values to a loaded backend and its final configuration, in one order for
every entry point (node, CLI, eval, bench): validate everything first, load second."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from cosmos_reason_ros.backends import create_backend
from cosmos_reason_ros.config.build import NodeConfig, build_config
from cosmos_reason_ros.core.architecture import Architecture
from cosmos_reason_ros.core.generation import Backend

_LOG = logging.getLogger(__name__)


def load_configured(values: Mapping[str, Any]) -> tuple[NodeConfig, Backend]:
    """Validate ``values``, then create and load their backend.

    The architecture is detected before loading (the checkpoint's ``config.json`` where it is
    reachable); when the loaded backend reports another (e.g. a server's metadata), the
    configuration is built again with it. Any failure after loading closes the backend.

    Returns:
        The final configuration and the loaded backend (the caller closes it).

    Raises:
        ConfigError: A value is invalid (nothing is loaded then).
        BackendError: The backend failed to load.
    """
    config = build_config(values)
    backend = create_backend(config.backend)
    backend.load()
    try:
        config = rebuild_for(config, values, backend)
    except BaseException:
        backend.close()
        raise
    return config, backend


def rebuild_for(config: NodeConfig, values: Mapping[str, Any], backend: Backend) -> NodeConfig:
    """``config`` again if ``backend`` confirms its architecture, else built for the backend's.

    Raises:
        ConfigError: The values do not fit the backend's architecture.
    """
    info = backend.describe()
    if not info.architecture or info.architecture == config.architecture.model_type:
        return config
    reported = Architecture(info.architecture, info.architecture_source or "loaded backend")
    _LOG.info(
        "architecture from the loaded backend: %s (before loading: %s)",
        reported.describe(),
        config.architecture.describe(),
    )
    return build_config(values, reported)
