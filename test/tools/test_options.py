"""Every command line states each option's default and the fallback rule, and reads lists the
same way (comma-separated); an option named after a node parameter is that parameter, as the
table declares it; the long-running tools stop on SIGINT and SIGTERM alike."""

from __future__ import annotations

import argparse
import os
import signal
from collections.abc import Callable
from typing import Any

import pytest

from cosmos_reason_ros.bench import soak
from cosmos_reason_ros.config import FALLBACK_RULE, SPEC_BY_NAME, build_config
from cosmos_reason_ros.tools import (
    ask,
    benchmark,
    cli,
    demo,
    eval_cli,
    replay_cli,
    scenario,
    watch,
)
from cosmos_reason_ros.tools.options import (
    add_param_options,
    in_option_names,
    option_name,
    param_values,
    split_list,
    stop_signals_as_interrupt,
)

PARSERS = {
    "cosmos-reason": cli.build_parser,
    "cosmos-reason-eval": eval_cli._parser,
    "cosmos-reason-ask": ask._parser,
    "cosmos-reason-watch": watch._parser,
    "cosmos-reason-replay": replay_cli._parser,
    "cosmos-reason-scenario": scenario._parser,
    "make demo": demo._parser,
}
PARAMETER_OPTIONS: dict[str, tuple[Callable[[], argparse.ArgumentParser], tuple[str, ...]]] = {
    "cosmos-reason": (cli.build_parser, cli.PARAMS),
    "cosmos-reason-eval": (eval_cli._parser, ("model", *eval_cli.PARAMS)),
    "cosmos-reason-benchmark": (benchmark.build_parser, benchmark.BACKEND_PARAMS),
    "make demo": (demo._parser, ("model", "device")),
    "soak": (soak._parser, soak._NODE_PARAMS),
}
"""Each tool's parser and the node parameters it has options for."""


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_every_option_has_help_that_shows_its_default(name: str) -> None:
    parser: argparse.ArgumentParser = PARSERS[name]()
    text = " ".join(parser.format_help().split())
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction) or action.required:
            continue
        assert action.help, f"{name} {action.option_strings or action.dest} has no help"
        formatted = parser.formatter_class(name)._get_help_string(action) or ""
        assert "default" in formatted, f"{name} {action.option_strings} shows no default"
    if name in ("cosmos-reason", "cosmos-reason-eval"):
        assert " ".join(FALLBACK_RULE.split()) in text
        assert f"(default: {SPEC_BY_NAME['fallback_action'].default})" in text


def test_actions_are_comma_separated_in_every_cli() -> None:
    assert split_list(" stop, go ,,wait ") == ["stop", "go", "wait"]
    argv = ["--model", "m", "--video", "v.mp4", "--actions", "stop: halt,go"]
    assert cli.build_parser().parse_args(argv).actions == ["stop: halt", "go"]
    args = eval_cli._parser().parse_args(["bag", "--model", "m", "--out", "o", "--actions", "a,b"])
    assert args.actions == ["a", "b"]
    assert split_list(replay_cli._parser().parse_args(["bag", "--topics", "/a,/b"]).topics) == [
        "/a",
        "/b",
    ]


def test_the_fallback_rule_is_in_the_parameter_text() -> None:
    assert FALLBACK_RULE in SPEC_BY_NAME["fallback_action"].description


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_stop_signals_interrupt_even_where_sigint_was_ignored_and_are_restored(
    signum: int,
) -> None:
    """A shell script's ``tool &`` starts the tool with SIGINT ignored; it must stop anyway."""
    before = signal.signal(signal.SIGINT, signal.SIG_IGN), signal.getsignal(signal.SIGTERM)
    try:
        with pytest.raises(KeyboardInterrupt), stop_signals_as_interrupt():
            os.kill(os.getpid(), signum)  # its handler runs before os.kill returns
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        assert signal.getsignal(signal.SIGTERM) is before[1]
    finally:
        signal.signal(signal.SIGINT, before[0])


@pytest.mark.parametrize("tool", sorted(PARAMETER_OPTIONS))
def test_an_option_named_after_a_parameter_is_it_as_the_table_declares_it(tool: str) -> None:
    build, names = PARAMETER_OPTIONS[tool]
    parser = build()
    by_dest: dict[str, argparse.Action] = {}
    for action in parser._actions:  # the first with a dest: later ones are old names' aliases
        by_dest.setdefault(action.dest, action)
    for name in names:
        spec, action = SPEC_BY_NAME[name], by_dest[name]
        assert option_name(name) in action.option_strings, f"{tool} {action.option_strings}"
        assert tuple(action.choices or ()) == spec.choices, f"{tool} --{name}"
        words = " ".join((action.help or "").split())
        assert " ".join(spec.description[1:].split()) in words, f"{tool} --{name}: {words}"
        if not action.required:
            node = shown(spec.default)
            assert f"(default: {node})" in words or f"the node's: {node})" in words, words


def shown(value: Any) -> str:
    """A node default as the help shows it (actions by name)."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list):
        return ", ".join(v.split(":")[0] for v in value) or "none"
    return str(value) or "none"


def test_a_parameter_left_unset_keeps_the_node_default_and_a_set_one_is_typed() -> None:
    argv = ["--model", "m", "--video", "v.mp4"]
    assert param_values(cli.build_parser().parse_args(argv), cli.PARAMS) == {"model": "m"}
    argv += ["--fps", "2", "--top-k", "5", "--no-constrained-decoding", "--actions", "a, b"]
    argv += ["--fallback", "b", "--window-s", "1.5"]
    values = param_values(cli.build_parser().parse_args(argv), cli.PARAMS)
    assert values == {
        "model": "m",
        "sample_fps": 2.0,
        "top_k": 5,
        "constrained_decoding": False,
        "actions": ["a", "b"],
        "fallback_action": "b",
        "window_s": 1.5,
    }
    unset = build_config({"model": "m"})
    assert build_config(param_values(cli.build_parser().parse_args(argv[:4]), cli.PARAMS)) == (
        unset
    ), "unset options resolve as the node resolves its defaults (family -1 included)"


def test_old_option_names_stay_as_aliases() -> None:
    base = ["--model", "m", "--video", "v.mp4"]
    args = cli.build_parser().parse_args([*base, "--fps", "3", "--unconstrained"])
    assert (args.sample_fps, args.constrained_decoding) == (3.0, False)
    args = eval_cli._parser().parse_args(["bag", "--model", "m", "--out", "o", "--every", "0.5"])
    assert param_values(args, eval_cli.PARAMS)["decision_period_s"] == 0.5
    assert param_values(args, eval_cli.PARAMS)["seed"] == 0, "eval's own default: runs repeat"


def test_a_tool_default_is_shown_beside_the_nodes() -> None:
    seed = next(a for a in eval_cli._parser()._actions if a.dest == "seed")
    assert "(default: 0; the node's: -1)" in (seed.help or "")


@pytest.mark.parametrize("name", sorted(SPEC_BY_NAME))
def test_every_parameter_round_trips_through_its_option(name: str) -> None:
    """Whatever the table holds, its option parses back to the value it stands for."""
    spec = SPEC_BY_NAME[name]
    parser = argparse.ArgumentParser()
    add_param_options(parser, [name])
    assert param_values(parser.parse_args([]), [name]) == {}
    value: Any = spec.default
    if isinstance(value, bool):
        argv = [option_name(name) if value else "--no-" + name.replace("_", "-")]
    elif isinstance(value, list):
        value = ["first", "second: with a description"]
        argv = [option_name(name), ",".join(value)]
    else:
        value = spec.choices[-1] if spec.choices else value
        argv = [option_name(name), str(value)]
    assert param_values(parser.parse_args(argv), [name]) == {name: value}
    assert type(param_values(parser.parse_args(argv), [name])[name]) is type(value)


def test_a_message_that_names_a_parameter_names_its_option() -> None:
    assert in_option_names("sample_fps must be >= 0.1") == "--sample-fps must be >= 0.1"
    assert in_option_names("max_thinking_s is too long") == "--max-thinking-s is too long"
    assert in_option_names("no frames could be read") == "no frames could be read"
