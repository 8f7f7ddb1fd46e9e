"""One declaration per parameter: ``param(...)`` on the field of the typed config it sets.

A node parameter is declared once, as a field of the frozen config dataclass that holds its
value (``WindowConfig.window_s``, ``SamplingSettings.presence_penalty``,
``BackendConfig.model``, …)::

    window_s: float = param(4.0, "Seconds of frames kept per camera", low=0.1, high=60.0)

Everything else is derived from that one declaration: the node's parameter declarations and
descriptors, ``config/reason.yaml``, ``reason_node --help``, every CLI's options
(``config.specs`` walks the configs into the parameter table) and the typed configs'
validation (``check_fields``, called by each config's ``__post_init__``). Adding a parameter
is one ``param`` field plus the code that uses it.

A ``family`` parameter's node default is -1, "the model family's upstream value"
(``core.recipes``), resolved by ``config.build_config``; the field's own default is the value a
config made in code gets (Cosmos-Reason1's recipe), and must lie in the declared range.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass
from typing import Any

from cosmos_reason_ros.core.errors import ConfigError

__all__ = ["Param", "check_fields", "check_number", "declared", "param"]

_KEY = "cosmos_reason_ros.param"


@dataclass(frozen=True)
class Param:
    """What the declaration says of one parameter besides its name, type and default.

    Attributes:
        description: One line for ``ros2 param describe``, ``config/reason.yaml`` and ``--help``.
        live: May change while the node is configured (else: deactivate, cleanup, set,
            configure).
        launch_only: Decides what code runs, where data goes or which secret is read, so it is
            set only where the node is launched and read-only once it is up (docs/security.md).
        low: Smallest value (numbers).
        high: Largest value (numbers).
        choices: The allowed values (strings).
        family: The node default is -1, "the model family's value" (``core.recipes``).
        backends: The backends that use it; () = all of them.
        name: The parameter's name where it differs from the field's.
    """

    description: str
    live: bool = False
    launch_only: bool = False
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    family: bool = False
    backends: tuple[str, ...] = ()
    name: str = ""


def param(
    default: Any,
    description: str,
    *,
    live: bool = False,
    launch_only: bool = False,
    low: float | None = None,
    high: float | None = None,
    choices: tuple[str, ...] = (),
    family: bool = False,
    backends: tuple[str, ...] = (),
    name: str = "",
) -> Any:
    """A dataclass field that declares a node parameter (see the module docstring).

    Args:
        default: The field's default; a tuple of strings for a string-list parameter.
        description: See ``Param``; likewise the keyword arguments.
    """
    meta = Param(description, live, launch_only, low, high, choices, family, backends, name)
    return dataclasses.field(default=default, metadata={_KEY: meta})


def declared(cls: type[Any]) -> list[tuple[dataclasses.Field[Any], Param]]:
    """The fields of dataclass ``cls`` that declare a parameter, in declaration order."""
    return [(f, f.metadata[_KEY]) for f in dataclasses.fields(cls) if _KEY in f.metadata]


def check_fields(config: Any) -> None:
    """Raise ConfigError unless every declared field of ``config`` has its declared type and
    lies in its declared range or choices (a ``family`` value must be resolved by then).

    Called by each config's ``__post_init__``: the one check of a parameter's range, whether
    the value came from the node, a CLI, eval or code.
    """
    hints = typing.get_type_hints(type(config))
    for field, meta in declared(type(config)):
        name = meta.name or field.name
        value = getattr(config, field.name)
        kind = hints[field.name]
        if value is None and _allows_none(kind):
            continue
        base = _base_type(kind)
        if base is tuple:
            if not isinstance(value, tuple) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"{name} must be a list of strings, got {value!r}")
        elif base is bool:
            if not isinstance(value, bool):
                raise ConfigError(f"{name} must be true or false, got {value!r}")
        elif base is str:
            if not isinstance(value, str):
                raise ConfigError(f"{name} must be a string, got {value!r}")
            if meta.choices and value not in meta.choices:
                raise ConfigError(
                    f"{name} must be one of {', '.join(meta.choices)}; got {value!r}"
                )
        else:
            check_number(name, value, meta, integer=base is int)


def check_number(name: str, value: object, meta: Param, *, integer: bool = False) -> float:
    """``value`` as a float, if it is a finite number (an integer if ``integer``) within
    ``meta``'s range; raises ConfigError naming ``name`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(
            f"{name} must be {'an integer' if integer else 'a number'}, got {value!r}"
        )
    if integer and not isinstance(value, int):
        raise ConfigError(f"{name} must be an integer, got {value!r}")
    if not math.isfinite(value):
        raise ConfigError(f"{name} must be finite, got {value!r}")
    family = " (or -1: the family's)" if meta.family else ""
    if meta.low is not None and value < meta.low:
        raise ConfigError(f"{name} must be >= {meta.low:g}{family}, got {value}")
    if meta.high is not None and value > meta.high:
        raise ConfigError(f"{name} must be <= {meta.high:g}{family}, got {value}")
    return float(value)


def _allows_none(kind: Any) -> bool:
    return isinstance(kind, types.UnionType) and type(None) in typing.get_args(kind)


def _base_type(kind: Any) -> type[Any]:
    """``int`` of ``int | None``, ``tuple`` of ``tuple[str, ...]``, the type itself otherwise."""
    if isinstance(kind, types.UnionType):
        kind = next(a for a in typing.get_args(kind) if a is not type(None))
    origin = typing.get_origin(kind)
    base: type[Any] = origin if origin is not None else kind
    return base
