"""The engine: frame windows, ingest, prompt profiles, action space, answer parsing, the
generation port (request, result, ``Backend`` protocol, capabilities) and the Reasoner.

Pure Python: never imports rclpy, ROS message types, a backend or torch. Everything above it
(backends, the node, the tools) imports from here; nothing here imports them back.
"""

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
from cosmos_reason_ros.core.prompts import DEFAULT_QUESTION, PromptProfile, profile_for
from cosmos_reason_ros.core.reasoner import Reasoner, ReasonerConfig
from cosmos_reason_ros.core.types import Clip, Image, WindowSnapshot

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
