"""The engine: frame windows, prompt profiles, action space, answer parsing, the Reasoner.

Pure Python: never imports rclpy, ROS message types or torch. Public names are imported
lazily on first use, so ``import cosmos_reason_ros.core.types`` (which ``backends.base`` does)
does not pull in the modules that import ``backends.base`` back.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cosmos_reason_ros.core.action_space import ActionSpace, ActionSpec
    from cosmos_reason_ros.core.answer import RAW_TEXT_MAX_CHARS, ParsedAnswer, parse_answer
    from cosmos_reason_ros.core.decision import Decision, DecisionTimings
    from cosmos_reason_ros.core.errors import (
        BackendError,
        BackendUnavailableError,
        ConfigError,
        CosmosReasonError,
        GenerationCancelled,
        GenerationTimeout,
        InputError,
    )
    from cosmos_reason_ros.core.prompts import PromptProfile, profile_for
    from cosmos_reason_ros.core.reasoner import DEFAULT_QUESTION, Reasoner, ReasonerConfig
    from cosmos_reason_ros.core.types import Clip, Image, WindowSnapshot

_MODULE_OF = {
    "ActionSpace": "action_space",
    "ActionSpec": "action_space",
    "RAW_TEXT_MAX_CHARS": "answer",
    "ParsedAnswer": "answer",
    "parse_answer": "answer",
    "Decision": "decision",
    "DecisionTimings": "decision",
    "BackendError": "errors",
    "BackendUnavailableError": "errors",
    "ConfigError": "errors",
    "CosmosReasonError": "errors",
    "GenerationCancelled": "errors",
    "GenerationTimeout": "errors",
    "InputError": "errors",
    "PromptProfile": "prompts",
    "profile_for": "prompts",
    "DEFAULT_QUESTION": "reasoner",
    "Reasoner": "reasoner",
    "ReasonerConfig": "reasoner",
    "Clip": "types",
    "Image": "types",
    "WindowSnapshot": "types",
}

__all__ = [
    "DEFAULT_QUESTION",
    "RAW_TEXT_MAX_CHARS",
    "ActionSpace",
    "ActionSpec",
    "BackendError",
    "BackendUnavailableError",
    "Clip",
    "ConfigError",
    "CosmosReasonError",
    "Decision",
    "DecisionTimings",
    "GenerationCancelled",
    "GenerationTimeout",
    "Image",
    "InputError",
    "ParsedAnswer",
    "PromptProfile",
    "Reasoner",
    "ReasonerConfig",
    "WindowSnapshot",
    "parse_answer",
    "profile_for",
]


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
