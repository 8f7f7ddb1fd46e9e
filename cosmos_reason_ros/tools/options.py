"""What every command line here shares: options derived from the node's parameter table,
comma-separated lists, help that shows each default, a model folder checked before anything
loads, ``--no-progress`` for every bar, and SIGTERM handled as Ctrl-C."""

from __future__ import annotations

import argparse
import os
import signal
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import yaml

from cosmos_reason_ros.config import SPEC_BY_NAME, ParamSpec
from cosmos_reason_ros.core.errors import BackendError, ConfigError, InputError

__all__ = [
    "HelpFormatter",
    "add_action_options",
    "add_param_options",
    "add_progress_option",
    "check_model_input",
    "in_option_names",
    "option_name",
    "param_values",
    "parse_sets",
    "silence_progress_bars",
    "split_list",
    "stop_signals_as_interrupt",
]


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Each option's help ends with its default; descriptions keep their line breaks."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if "default" in text or action.default is argparse.SUPPRESS or action.required:
            return text
        if action.default is False:
            return f"{text} (default: off)"
        if action.default in (None, ""):
            return f"{text} (default: none)"
        return super()._get_help_string(action)


def split_list(text: str | None) -> list[str]:
    """``"a, b,,c"`` -> ``["a", "b", "c"]``: the one parser of comma-separated options."""
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def option_name(name: str) -> str:
    """The option of node parameter ``name``: ``sample_fps`` -> ``--sample-fps``."""
    return "--" + name.replace("_", "-")


def add_param_options(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    names: Iterable[str | ParamSpec],
    *,
    aliases: Mapping[str, str | Sequence[str]] | None = None,
    defaults: Mapping[str, Any] | None = None,
    required: Collection[str] = (),
) -> None:
    """One option per node parameter in ``names``, as the table (``config.SPEC_BY_NAME``)
    declares it: ``--name-with-dashes``, its type, choices and description, and its default.

    An option the user does not give stays None, so ``param_values`` leaves the parameter to
    the node's default (a ``family`` parameter's -1 included). Booleans take ``--name`` and
    ``--no-name``; string lists are comma-separated (``split_list``).

    Args:
        parser: Where the options go (a parser or an argument group).
        names: Parameter names (or their specs), in the order their options are listed.
        aliases: Further option strings of a parameter, e.g. ``{"sample_fps": "--fps"}`` (kept
            for names users already type).
        defaults: This tool's own default of a parameter, where it is not the node's (shown
            in the help beside the node's).
        required: Parameters the user must give.

    Raises:
        KeyError: A name is not a node parameter.
    """
    for item in names:
        spec = item if isinstance(item, ParamSpec) else SPEC_BY_NAME[item]
        name = spec.name
        extra = (aliases or {}).get(name, ())
        flags = [option_name(name), *([extra] if isinstance(extra, str) else extra)]
        kwargs: dict[str, Any] = {"dest": name, "default": None}
        if name in required:
            kwargs["required"] = True
        if isinstance(spec.default, bool):
            kwargs["action"] = argparse.BooleanOptionalAction
        elif isinstance(spec.default, list):
            kwargs.update(type=split_list, metavar="A,B")
        else:
            kwargs["type"] = type(spec.default)
        if spec.choices:
            kwargs["choices"] = spec.choices
        if defaults and name in defaults:
            kwargs["default"] = defaults[name]
        kwargs["help"] = _help(spec, kwargs["default"], required=name in required)
        parser.add_argument(*flags, **kwargs)


def _help(spec: ParamSpec, tool_default: Any, *, required: bool) -> str:
    text = spec.description
    if spec.family and "-1" not in text:
        text += "; -1 = the model family's"
    if isinstance(spec.default, list):
        text = "comma-separated; " + text[:1].lower() + text[1:]
    if not required:
        node = _shown(spec.default)
        if tool_default is None or _shown(tool_default) == node:
            text += f" (default: {node})"
        else:
            text += f" (default: {_shown(tool_default)}; the node's: {node})"
    return text.replace("%", "%%")  # argparse formats help with %


def _shown(value: Any) -> str:
    """A default as the help shows it (list entries ``name: description`` by name)."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list):
        return ", ".join(str(v).split(":", 1)[0].strip() for v in value) or "none"
    return "none" if value == "" else str(value)


def param_values(args: argparse.Namespace, names: Iterable[str | ParamSpec]) -> dict[str, Any]:
    """The node parameter values among ``names`` (or specs) that the user set (or a tool
    default set); the rest are left out, so they keep the node's defaults."""
    keys = (n.name if isinstance(n, ParamSpec) else n for n in names)
    values = {name: getattr(args, name, None) for name in keys}
    return {name: value for name, value in values.items() if value is not None}


def in_option_names(message: str) -> str:
    """A configuration message that starts with a parameter's name, naming its option instead
    (``sample_fps must be ...`` -> ``--sample-fps must be ...``)."""
    for name in sorted(SPEC_BY_NAME, key=len, reverse=True):
        if message.startswith(name + " "):
            return option_name(name) + message[len(name) :]
    return message


def add_action_options(parser: argparse.ArgumentParser) -> None:
    """``--actions`` and ``--fallback-action`` (alias ``--fallback``), from the table."""
    add_param_options(
        parser, ("actions", "fallback_action"), aliases={"fallback_action": "--fallback"}
    )


@contextmanager
def stop_signals_as_interrupt() -> Iterator[None]:
    """While inside, SIGINT and SIGTERM raise ``KeyboardInterrupt``, so one ``except`` ends a
    tool cleanly (exit ``ExitCode.INTERRUPTED``, no traceback) whichever signal came.

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


def check_model_input(values: Mapping[str, Any]) -> None:
    """Refuse a local model folder that is missing or is no checkpoint, before anything is
    built or loaded (so no architecture guess is logged about it first).

    ``values`` are node parameter values (``param_values``); a hub id and the ``openai``
    backend (the model is the server's) pass. The transformers backend checks the folder as it
    will when loading (``resolve_checkpoint``); the others check that it exists.

    Raises:
        InputError: The folder's problem, in one sentence.
    """
    from cosmos_reason_ros.backends.transformers.checkpoint import looks_local, resolve_checkpoint

    def value(name: str) -> Any:
        return values.get(name, SPEC_BY_NAME[name].default)

    model, backend = str(value("model")), value("backend")
    if backend == "openai" or not looks_local(model):
        return
    if backend != "transformers":
        if not Path(model).expanduser().exists():
            raise InputError(f"model folder {model} does not exist")
        return
    try:
        resolve_checkpoint(model, trust_remote_code=bool(value("trust_remote_code")))
    except BackendError as exc:
        raise InputError(str(exc)) from None


def add_alert_option(parser: argparse.ArgumentParser, extra: str = "") -> None:
    """``--alert NAME="CONDITION"`` (repeatable): an alert rule and its yes/no question."""
    parser.add_argument(
        "--alert",
        action="append",
        default=[],
        metavar='NAME="CONDITION"',
        help="an alert rule: its name (a letter, then letters, digits or underscores) and its "
        'yes/no question, e.g. fall="Has a person fallen to the floor?" (repeatable; the '
        f"node parameters alerts and alerts.<name>.condition){extra}",
    )


def alert_values(items: Sequence[str]) -> dict[str, Any]:
    """``--alert NAME=CONDITION`` options as node parameter values: ``alerts`` (the names, in
    order) and ``alerts.<name>.condition``; none given: {}. The names and conditions are
    checked where every rule is (``build_config``).

    Raises:
        ConfigError: An item is not ``NAME=CONDITION``.
    """
    values: dict[str, Any] = {}
    names: list[str] = []
    for item in items:
        name, sep, condition = item.partition("=")
        if not sep or not name.strip() or not condition.strip():
            raise ConfigError(f'--alert takes NAME="CONDITION", got {item!r}')
        names.append(name.strip())
        values[f"alerts.{name.strip()}.condition"] = condition.strip()
    return {"alerts": names, **values} if names else {}


def add_progress_option(parser: argparse.ArgumentParser) -> None:
    """``--no-progress`` (dest ``no_progress``): see ``silence_progress_bars``."""
    parser.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress bars at all: neither this tool's nor the model download and "
        "weights loading bars of huggingface_hub and transformers",
    )


def silence_progress_bars() -> None:
    """Turn off the progress bars of huggingface_hub (downloads) and transformers (loading
    the weights) in this process; call it before the model loads."""
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    try:
        from huggingface_hub.utils.tqdm import disable_progress_bars
        from transformers.utils import logging as hf_logging
    except ImportError:  # without transformers there is no bar to silence
        return
    disable_progress_bars()
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
