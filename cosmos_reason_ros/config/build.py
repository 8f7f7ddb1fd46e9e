"""``build_config``: parameter values in, the typed, validated, final ``NodeConfig`` out.

The one place parameters are validated. Each value goes where its ``ParamSpec`` routes it
(``route``): a spec's explicit ``to``, else the field of the same name in ``BackendConfig``,
``WindowConfig``, ``SamplingSettings``, ``ReasonerConfig`` or ``NodeConfig``. The prompt profile,
the frame geometry and every ``family`` value left at -1 follow from the checkpoint's
architecture, which the caller passes in (``detect_architecture`` before loading, the backend's
own report after), so nothing needs patching after the build.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cosmos_reason_ros.backends.config import BackendConfig
from cosmos_reason_ros.backends.trtllm_sizing import size_for_window
from cosmos_reason_ros.config.specs import SPECS, ParamSpec
from cosmos_reason_ros.core.action_space import ActionSpace
from cosmos_reason_ros.core.architecture import Architecture, detect_architecture
from cosmos_reason_ros.core.errors import ConfigError
from cosmos_reason_ros.core.generation import SamplingSettings
from cosmos_reason_ros.core.prompt_bound import prompt_bound
from cosmos_reason_ros.core.prompts import camera_labels, profile_for
from cosmos_reason_ros.core.reasoner import ReasonerConfig
from cosmos_reason_ros.core.recipes import recipe_for
from cosmos_reason_ros.core.window import WindowConfig


@dataclass(frozen=True)
class NodeConfig:
    """Everything the node runs on, typed, validated and final.

    Attributes:
        architecture: The checkpoint's architecture and what decided it.
        backend: Settings of the model backend.
        window: Frame windows; ``patch_multiple`` is the profile's.
        reasoner: What is asked and how; ``profile`` is resolved (never ``auto``).
    """

    architecture: Architecture
    backend: BackendConfig
    window: WindowConfig
    reasoner: ReasonerConfig
    image_topics: tuple[str, ...]
    image_qos: str
    max_input_pixels: int
    decision_period_s: float
    max_frame_age_s: float
    max_pending: int
    inference_timeout_s: float
    publish_on_failure: bool
    debug_image: bool
    diagnostics_period_s: float


_SECTIONS: tuple[tuple[str, type[Any]], ...] = (
    ("backend.", BackendConfig),
    ("window.", WindowConfig),
    ("reasoner.sampling.", SamplingSettings),
    ("reasoner.", ReasonerConfig),
    ("", NodeConfig),
)


def route(spec: ParamSpec) -> str:
    """Where ``spec``'s value goes: its ``to``, else the first section with a field of its name.

    Returns "" for parameters only the node reads (``autostart``).
    """
    if spec.to:
        return spec.to
    for prefix, cls in _SECTIONS:
        if spec.name in {f.name for f in dataclasses.fields(cls)}:
            return prefix + spec.name
    return ""


def check_value(spec: ParamSpec, value: Any) -> None:
    """Raise ConfigError unless ``value`` has the type and range ``spec`` asks for."""
    expected = type(spec.default)
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if expected is list:
        if value is None:
            return  # an empty list in a ROS params file arrives unset: taken as []
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{spec.name} must be a list of strings, got {value!r}")
        return
    if not isinstance(value, expected) or (expected is not bool and isinstance(value, bool)):
        raise ConfigError(
            f"{spec.name} must be {expected.__name__}, got {type(value).__name__} {value!r}"
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{spec.name} must be finite, got {value}")
    if spec.family and value == -1:
        return  # the family's value, resolved by build_config
    if spec.choices and value not in spec.choices:
        raise ConfigError(f"{spec.name} must be one of {', '.join(spec.choices)}; got {value!r}")
    if not isinstance(value, (int, float)):
        return
    family = " (or -1: the family's)" if spec.family else ""
    if spec.low is not None and value < spec.low:
        raise ConfigError(f"{spec.name} must be >= {spec.low:g}{family}, got {value}")
    if spec.high is not None and value > spec.high:
        raise ConfigError(f"{spec.name} must be <= {spec.high:g}{family}, got {value}")


def build_config(
    values: Mapping[str, Any], architecture: Architecture | None = None
) -> NodeConfig:
    """Validate ``values`` (name -> value; defaults for missing names) into a NodeConfig.

    Args:
        values: Parameter values by name.
        architecture: The checkpoint's architecture; None: ``detect_architecture`` of the
            ``model`` value (its ``config.json`` or the hub cache, else its name).

    Raises:
        ConfigError: The first problem found, naming the parameter.
    """
    merged = {s.name: values.get(s.name, s.default) for s in SPECS}
    merged.update({s.name: [] for s in SPECS if merged[s.name] is None and s.default == []})
    for spec in SPECS:
        check_value(spec, merged[spec.name])
    if architecture is None:
        architecture = detect_architecture(str(merged["model"]))
    profile = profile_for(str(merged["profile"]), architecture.model_type)
    family = recipe_for(profile.name).parameter_defaults(int(merged["max_thinking_tokens"]) > 0)
    for spec in SPECS:
        if spec.family and merged[spec.name] == -1:
            merged[spec.name] = family[spec.name]
    sections: dict[str, dict[str, Any]] = {prefix: {} for prefix, _ in _SECTIONS}
    for spec in SPECS:
        path = route(spec)
        prefix = next((p for p, _ in _SECTIONS if path.startswith(p)), "")
        if path and "." not in path[len(prefix) :]:
            sections[prefix][path[len(prefix) :]] = _typed(spec, merged[spec.name])
    reasoner = sections["reasoner."]
    reasoner["sampling"] = SamplingSettings(**sections["reasoner.sampling."])
    reasoner["action_space"] = ActionSpace.parse(
        list(merged["actions"]), str(merged["fallback_action"])
    )
    reasoner["profile"] = profile.name
    node = sections[""]
    node["image_topics"] = _topics(node["image_topics"])
    labels = camera_labels(node["image_topics"], list(merged["camera_names"]))
    reasoner["camera_labels"] = tuple(zip(node["image_topics"], labels, strict=True))
    window = WindowConfig(**sections["window."], patch_multiple=profile.patch_multiple)
    reasoner_config = ReasonerConfig(**reasoner)
    bound = prompt_bound(window, reasoner_config, architecture.model_type, node["image_topics"])
    backend = size_for_window(  # tensorrt_llm: max_num_tokens fits the worst-case prompt
        BackendConfig(**sections["backend."], cache_tokens=bound.total), bound
    )
    return NodeConfig(
        architecture=architecture,
        backend=backend,
        window=window,
        reasoner=reasoner_config,
        **node,
    )


def _typed(spec: ParamSpec, value: Any) -> Any:
    """The value as its field wants it: floats as float, lists as tuples, seed < 0 as None."""
    if spec.name == "seed":
        return None if int(value) < 0 else int(value)
    if isinstance(spec.default, float):
        return float(value)
    if isinstance(spec.default, list):
        return tuple(value)
    return value


def _topics(topics: Sequence[str]) -> tuple[str, ...]:
    cleaned = tuple(t.strip() for t in topics)
    if not cleaned or any(not t for t in cleaned):
        raise ConfigError(f"image_topics must name at least one topic, got {list(topics)!r}")
    if len(set(cleaned)) != len(cleaned):
        raise ConfigError(f"image_topics has duplicates: {list(topics)!r}")
    return cleaned
