"""What every command line here shares: comma-separated lists, defaults read from the
parameter table, help that shows each default, and SIGTERM handled as Ctrl-C."""

from __future__ import annotations

import argparse
import signal
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import Any

import yaml

from cosmos_reason_ros.config import FALLBACK_RULE, SPEC_BY_NAME
from cosmos_reason_ros.core.errors import ConfigError

EXIT_INTERRUPTED = 130
"""Exit status of a run cut short by Ctrl-C or SIGTERM (128 + SIGINT, as shells report it)."""


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Each option's help ends with its default; descriptions keep their line breaks."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if "default" in text or action.default is argparse.SUPPRESS:
            return text
        if action.default is False:
            return f"{text} (default: off)"
        if action.default in (None, ""):
            return f"{text} (default: none)"
        return super()._get_help_string(action)


def split_list(text: str | None) -> list[str]:
    """``"a, b,,c"`` -> ``["a", "b", "c"]``: the one parser of comma-separated options."""
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def default(name: str) -> Any:
    """The node's default of parameter ``name`` (``config.SPEC_BY_NAME``)."""
    return SPEC_BY_NAME[name].default


def action_names(entries: list[str]) -> str:
    """``continue: keep going`` entries as ``continue, ...`` (for help texts)."""
    return ", ".join(e.split(":", 1)[0].strip() for e in entries)


def add_action_options(parser: argparse.ArgumentParser) -> None:
    """``--actions`` and ``--fallback``, with the node's defaults and the fallback rule."""
    parser.add_argument(
        "--actions",
        default=None,
        help="comma-separated allowed actions, each 'name' or 'name: description' "
        f"(default: the node's: {action_names(list(default('actions')))})",
    )
    parser.add_argument(
        "--fallback",
        default=default("fallback_action"),
        help=f"action of an unusable answer. {FALLBACK_RULE}",
    )


def actions_value(text: str | None) -> list[str] | None:
    """The ``actions`` parameter value of an ``--actions`` option (None: the node's)."""
    return None if text is None else split_list(text)


@contextmanager
def stop_signals_as_interrupt() -> Iterator[None]:
    """While inside, SIGINT and SIGTERM raise ``KeyboardInterrupt``, so one ``except`` ends a
    tool cleanly (exit ``EXIT_INTERRUPTED``, no traceback) whichever signal came.

    SIGINT is set explicitly: Python leaves it ignored when the parent ignored it (a shell
    script's ``tool &``), and a tool that ``kill -INT`` cannot stop is not what its user
    expects; the node (rclpy's handlers) and ``cosmos-reason-replay`` stop on it likewise.
    """

    def interrupt(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = {
        signal.SIGINT: signal.signal(signal.SIGINT, signal.default_int_handler),
        signal.SIGTERM: signal.signal(signal.SIGTERM, interrupt),
    }
    try:
        yield
    finally:
        for signum, handler in previous.items():
            if handler is not None:  # None: set outside Python, which cannot be restored
                signal.signal(signum, handler)


def parse_sets(items: Sequence[str]) -> dict[str, Any]:
    """``--set NAME=VALUE`` options as node parameter values (each value parsed as YAML).

    Raises:
        ConfigError: An item is not ``NAME=VALUE`` or its value does not parse.
    """
    params: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"--set takes NAME=VALUE, got {item!r}")
        try:
            params[name.strip()] = yaml.safe_load(value)
        except yaml.YAMLError as err:
            raise ConfigError(f"--set {name}: cannot parse {value!r}: {err}") from None
    return params


def backend_values(args: argparse.Namespace) -> dict[str, Any]:
    """The node parameters that choose the model and its backend, from the common options."""
    values: dict[str, Any] = {
        "model": args.model,
        "backend": args.backend,
        "device": args.device,
        "dtype": args.dtype,
        "quantization": args.quantization,
    }
    if getattr(args, "base_url", None):
        values["base_url"] = args.base_url
    return values
