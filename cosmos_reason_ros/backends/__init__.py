"""Model backends, registered by name; each implements ``core.generation.Backend``.

Heavy imports (torch, tensorrt_llm, openai) happen inside the backend module that needs them,
when that backend is created.
"""

from __future__ import annotations

import importlib

from cosmos_reason_ros.backends.config import BACKENDS, BackendConfig
from cosmos_reason_ros.core.errors import ConfigError
from cosmos_reason_ros.core.generation import Backend

__all__ = ["BACKENDS", "BackendConfig", "create_backend"]

# name -> (module, class). Modules are imported only when their backend is created.
_REGISTRY: dict[str, tuple[str, str]] = {
    "transformers": ("cosmos_reason_ros.backends.transformers.backend", "TransformersBackend"),
    "tensorrt_llm": ("cosmos_reason_ros.backends.tensorrt_llm.backend", "TensorRTLLMBackend"),
    "openai": ("cosmos_reason_ros.backends.openai.backend", "OpenAIBackend"),
}


def create_backend(config: BackendConfig) -> Backend:
    """Create (not load) the backend ``config.backend`` names."""
    try:
        module_name, class_name = _REGISTRY[config.backend]
    except KeyError:
        raise ConfigError(
            f"unknown backend {config.backend!r}; choose one of {', '.join(_REGISTRY)}"
        ) from None
    cls = getattr(importlib.import_module(module_name), class_name)
    backend: Backend = cls(config)
    return backend
