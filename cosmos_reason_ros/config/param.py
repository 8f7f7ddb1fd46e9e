"""``ParamSpec``: what the parameter table says of one parameter (see ``config.specs``)."""

from __future__ import annotations

from dataclasses import dataclass

Value = bool | int | float | str | list[str]


@dataclass(frozen=True)
class ParamSpec:
    """One parameter.

    Attributes:
        name: The ROS parameter name.
        default: The default; its type is the parameter's type.
        description: One line for ``ros2 param describe`` and ``config/reason.yaml``.
        live: May change while configured (else: deactivate, cleanup, set, configure).
        launch_only: Decides what code runs, where data goes or which secret is read, so it
            is set only where the node is launched (``-p``, a params file, the launch file)
            and is read-only once the node is up: nobody on the ROS graph can change it
            (docs/security.md).
        low: Smallest value (numbers).
        high: Largest value (numbers).
        choices: The allowed values (strings).
        to: Dotted path of the ``NodeConfig`` field the value sets (``backend.model``,
            ``reasoner.sampling.top_p``); a bare name that ``build_config`` converts itself
            (``actions``, ``profile``); "" for parameters the node reads directly.
        family: -1 means "the model family's value" (``core.recipes``), besides ``low..high``.
    """

    name: str
    default: Value
    description: str
    live: bool = False
    launch_only: bool = False
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    to: str = ""
    family: bool = False


def family_param(
    name: str, default: float, text: str, low: float, high: float, *, live: bool = True
) -> ParamSpec:
    """A parameter whose -1 default stands for the model family's value."""
    return ParamSpec(
        name, default, text + "; -1 = the family's", live=live, low=low, high=high, family=True
    )
