"""The parameter table, derived: one ``ParamSpec`` per ``param`` field of ``NodeConfig`` and
its sections, in field order. Nothing here declares a parameter (``core.params`` says where
they are declared); the node's declarations and descriptors, ``config/reason.yaml``,
``reason_node --help`` and the CLIs' options all read this table.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from typing import Any

from cosmos_reason_ros.config.node_config import NodeConfig
from cosmos_reason_ros.core.action_space import DEFAULT_ACTIONS, FALLBACK_RULE
from cosmos_reason_ros.core.params import Param, declared

__all__ = [
    "DEFAULT_ACTIONS",
    "FALLBACK_RULE",
    "SPECS",
    "SPEC_BY_NAME",
    "ParamSpec",
    "Value",
    "specs_of",
]

Value = bool | int | float | str | list[str]
"""A parameter's value as ROS carries it."""


@dataclass(frozen=True, kw_only=True)
class ParamSpec(Param):
    """One node parameter: its declaration (``core.params.Param``, whose attributes it has)
    with the name, default and place its field gives it.

    Attributes:
        name: The ROS parameter name.
        default: The node's default, as ROS carries it (a list for string lists; -1 for a
            ``family`` parameter, "the model family's value").
        description: The declaration's description; led by the backends that use it, if not
            all of them.
        to: Dotted path of the ``NodeConfig`` field the value sets (``backend.model``,
            ``reasoner.sampling.top_p``).
    """

    default: Value
    to: str


def specs_of(cls: type[Any], prefix: str = "") -> tuple[ParamSpec, ...]:
    """The parameters declared on dataclass ``cls`` and, depth first in field order, on the
    dataclasses its fields hold (``prefix``: the dotted path of ``cls`` in ``NodeConfig``)."""
    hints = typing.get_type_hints(cls)
    out: list[ParamSpec] = []
    declarations = {f.name: meta for f, meta in declared(cls)}
    for field in dataclasses.fields(cls):
        kind = hints[field.name]
        if field.name in declarations:
            out.append(_spec(field, declarations[field.name], prefix + field.name))
        elif dataclasses.is_dataclass(kind) and isinstance(kind, type):
            out.extend(specs_of(kind, prefix + field.name + "."))
    return tuple(out)


def _spec(field: dataclasses.Field[Any], meta: Param, path: str) -> ParamSpec:
    default: Any = field.default
    if meta.family:
        default = -1.0 if isinstance(default, float) else -1
    elif isinstance(default, tuple):
        default = list(default)
    text = meta.description
    if meta.backends:
        text = f"{', '.join(meta.backends)} backend{'s' if len(meta.backends) > 1 else ''}: {text}"
    declaration = {f.name: getattr(meta, f.name) for f in dataclasses.fields(Param)}
    declaration.update(name=meta.name or field.name, description=text)
    return ParamSpec(**declaration, default=default, to=path)


SPECS: tuple[ParamSpec, ...] = specs_of(NodeConfig)

SPEC_BY_NAME: dict[str, ParamSpec] = {s.name: s for s in SPECS}
