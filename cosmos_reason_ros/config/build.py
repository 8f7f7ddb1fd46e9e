"""``build_config``: parameter values in, the typed, validated, final ``NodeConfig`` out.

Each value goes to the field that declares it (``ParamSpec.to``). A value's type and range are
checked by the config that receives it (``core.params.check_fields``); ``check_value`` checks
one value as ROS carries it (a ``family`` parameter's -1 included) before anything is built.
The prompt profile, the frame geometry and every ``family`` value left at -1 follow from the
checkpoint's architecture, which the caller passes in (``detect_architecture`` before loading,
the backend's own report after), so nothing needs patching after the build.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from cosmos_reason_ros.backends.config import BackendConfig
from cosmos_reason_ros.backends.tensorrt_llm.sizing import size_for_window
from cosmos_reason_ros.config.alert_rules import build_rules
from cosmos_reason_ros.config.node_config import NodeConfig
from cosmos_reason_ros.config.specs import SPECS, ParamSpec
from cosmos_reason_ros.core.action_space import ActionSpace
from cosmos_reason_ros.core.architecture import Architecture, detect_architecture
from cosmos_reason_ros.core.errors import ConfigError
from cosmos_reason_ros.core.generation import SamplingSettings
from cosmos_reason_ros.core.params import Param, check_number
from cosmos_reason_ros.core.prompt_bound import prompt_bound
from cosmos_reason_ros.core.prompts import camera_labels, profile_for
from cosmos_reason_ros.core.reasoner import ReasonerConfig
from cosmos_reason_ros.core.recipes import recipe_for
from cosmos_reason_ros.core.window import WindowConfig

__all__ = ["NodeConfig", "build_config", "check_value"]


def check_value(spec: ParamSpec, value: Any) -> None:
    """Raise ConfigError unless ``value``, as ROS carries it, has the type and range ``spec``
    asks for (-1 passes for a ``family`` parameter). The message quotes at most 80 characters
    of the value (it may be megabytes, sent by anyone on the domain)."""
    expected = type(spec.default)
    if expected is list:
        if value is None:
            return  # an empty list in a ROS params file arrives unset: taken as []
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{spec.name} must be a list of strings, got {value!r:.80}")
        return
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, expected) or (expected is not bool and isinstance(value, bool)):
        raise ConfigError(
            f"{spec.name} must be {expected.__name__}, got {type(value).__name__} {value!r:.80}"
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{spec.name} must be finite, got {value}")
    if spec.family and value == -1:
        return  # the family's value, resolved by build_config
    if spec.choices and value not in spec.choices:
        raise ConfigError(
            f"{spec.name} must be one of {', '.join(spec.choices)}; got {value!r:.80}"
        )
    if expected in (int, float):
        meta = Param("", low=spec.low, high=spec.high, family=spec.family)
        check_number(spec.name, value, meta, integer=expected is int)


def build_config(
    values: Mapping[str, Any], architecture: Architecture | None = None
) -> NodeConfig:
    """Validate ``values`` (name -> value; defaults for missing names) into a NodeConfig.

    Args:
        values: Parameter values by name (the rules' ``alerts.<name>.*`` included).
        architecture: The checkpoint's architecture; None: ``detect_architecture`` of the
            ``model`` value (its ``config.json`` or the hub cache, else its name).

    Raises:
        ConfigError: The first problem found, naming the parameter.
    """
    merged = {s.name: values.get(s.name, s.default) for s in SPECS}
    merged.update(
        {s.name: [] for s in SPECS if merged[s.name] is None and isinstance(s.default, list)}
    )
    for spec in SPECS:
        check_value(spec, merged[spec.name])
    if architecture is None:
        architecture = detect_architecture(str(merged["model"]))
    profile = profile_for(str(merged["profile"]), architecture.model_type)
    family = recipe_for(profile.name).parameter_defaults(int(merged["max_thinking_tokens"]) > 0)
    for spec in SPECS:
        if spec.family and merged[spec.name] == -1:
            merged[spec.name] = family[spec.name]
    fields = _by_section(merged)
    node = fields[""]
    node["image_topics"] = tuple(t.strip() for t in node["image_topics"])
    node["alert_rules"] = build_rules(node["alerts"], values)  # alerts.<name>.* in values
    reasoner = fields["reasoner."]
    reasoner["sampling"] = SamplingSettings(**fields["reasoner.sampling."])
    reasoner["action_space"] = ActionSpace.parse(list(node["actions"]), node["fallback_action"])
    reasoner["profile"] = profile.name
    labels = camera_labels(node["image_topics"], list(node["camera_names"]))
    reasoner["camera_labels"] = tuple(zip(node["image_topics"], labels, strict=True))
    window = WindowConfig(**fields["window."], patch_multiple=profile.patch_multiple)
    reasoner_config = ReasonerConfig(**reasoner)
    bound = prompt_bound(window, reasoner_config, architecture.model_type, node["image_topics"])
    backend = size_for_window(  # tensorrt_llm: max_num_tokens fits the worst-case prompt
        BackendConfig(**fields["backend."], cache_tokens=bound.total),
        bound,
        architecture.model_type,
    )
    return NodeConfig(
        architecture=architecture,
        backend=backend,
        window=window,
        reasoner=reasoner_config,
        **node,
    )


def _by_section(merged: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Each value as its field takes it, by the dotted section of ``ParamSpec.to`` ("" =
    ``NodeConfig`` itself): floats as float, lists as tuples, a seed below 0 as None."""
    sections: dict[str, dict[str, Any]] = {
        "": {},
        "backend.": {},
        "window.": {},
        "reasoner.": {},
        "reasoner.sampling.": {},
    }
    for spec in SPECS:
        section, _, field = spec.to.rpartition(".")
        value = merged[spec.name]
        if spec.name == "seed":
            value = None if int(value) < 0 else int(value)
        elif isinstance(spec.default, float):
            value = float(value)
        elif isinstance(spec.default, list):
            value = tuple(value)
        sections[section + "." if section else ""][field] = value
    return sections
