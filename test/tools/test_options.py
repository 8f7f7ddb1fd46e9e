"""Every command line states each option's default and the fallback rule, and reads lists the
same way (comma-separated); the long-running tools stop on SIGINT and SIGTERM alike."""

from __future__ import annotations

import argparse
import os
import signal

import pytest

from cosmos_reason_ros.config import FALLBACK_RULE, SPEC_BY_NAME
from cosmos_reason_ros.tools import ask, cli, eval_cli, replay_cli, watch
from cosmos_reason_ros.tools.options import split_list, stop_signals_as_interrupt

PARSERS = {
    "cosmos-reason": cli.build_parser,
    "cosmos-reason-eval": eval_cli._parser,
    "cosmos-reason-ask": ask._parser,
    "cosmos-reason-watch": watch._parser,
    "cosmos-reason-replay": replay_cli._parser,
}


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
    assert cli.build_parser().parse_args(argv).actions == "stop: halt,go"
    args = eval_cli._parser().parse_args(["bag", "--model", "m", "--out", "o", "--actions", "a,b"])
    assert split_list(args.actions) == ["a", "b"]
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
