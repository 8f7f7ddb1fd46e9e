"""One exit-status table for every command line (``tools.exits``): documented once in the
README, each tool's ``--help`` epilog derived from it, and the same failure gives the same
status whichever tool met it."""

from __future__ import annotations

import argparse
import ast
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from cosmos_reason_ros.bench import soak
from cosmos_reason_ros.exits import ExitCode, exit_epilog
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

ROOT = Path(__file__).resolve().parents[2]
PARSERS: dict[str, Callable[[], argparse.ArgumentParser]] = {
    "cosmos-reason": cli.build_parser,
    "cosmos-reason-ask": ask._parser,
    "cosmos-reason-benchmark": benchmark.build_parser,
    "cosmos-reason-eval": eval_cli._parser,
    "cosmos-reason-replay": replay_cli._parser,
    "cosmos-reason-scenario": scenario._parser,
    "cosmos-reason-watch": watch._parser,
    "make demo": demo._parser,
    "soak": soak._parser,
}


def test_the_table_is_the_shells_convention_for_success_usage_and_interrupts() -> None:
    assert (ExitCode.OK, ExitCode.INPUT, ExitCode.INTERRUPTED) == (0, 2, 130)
    assert len(set(ExitCode)) == len(ExitCode.__members__), "no two names for one status"


@pytest.mark.parametrize("tool", sorted(PARSERS))
def test_every_help_states_its_exit_statuses_from_the_table(tool: str) -> None:
    epilog = " ".join((PARSERS[tool]().epilog or "").split())
    found = re.search(r"Exit status: (.*) \(README: Exit status\)\.", epilog)
    assert found, f"{tool}: {epilog!r}"
    codes = [int(part.split(" ", 1)[0]) for part in found.group(1).split("; ")]
    assert codes == sorted(codes) and set(codes) <= {int(c) for c in ExitCode}
    assert ExitCode.OK in codes


def test_the_readme_documents_every_status_once() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n### Exit status\n", 1)[1].split("\n#", 1)[0]
    assert readme.count("\n### Exit status\n") == 1
    for code in ExitCode:
        assert re.search(rf"^\| {int(code)} \| `{code.name}` \|", section, re.M), code.name


def test_an_epilog_gives_the_tools_meaning_or_the_tables() -> None:
    text = exit_epilog({ExitCode.INPUT: None, ExitCode.OK: "with a decision"})
    assert text == (
        "Exit status: 0 with a decision; 2 bad input or settings (nothing was loaded) "
        "(README: Exit status)."
    )


def test_no_tool_keeps_exit_statuses_of_its_own() -> None:
    """Statuses are ``ExitCode`` members: no ``EXIT_*`` constant and no literal status
    returned from a tool's ``main``."""
    own = []
    for folder in ("tools", "bench", "ros"):
        for path in sorted((ROOT / "cosmos_reason_ros" / folder).glob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.Name) and node.id.startswith("EXIT_"):
                    own.append(f"{path.name}:{node.lineno} {node.id}")
                if isinstance(node, ast.FunctionDef) and node.name in ("main", "_main"):
                    for ret in ast.walk(node):
                        if isinstance(ret, ast.Return) and isinstance(ret.value, ast.Constant):
                            own.append(f"{path.name}:{ret.lineno} return {ret.value.value}")
    assert not own, "\n".join(own)
