"""The exit status of every command line here: one table, documented once (README, "Exit
status"), and each tool's ``--help`` epilog derived from it (``exit_epilog``)."""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum

__all__ = ["ExitCode", "exit_epilog"]


class ExitCode(IntEnum):
    """What a tool's exit status means, the same for every tool.

    Attributes:
        OK: Done (a decision was made, the outputs are written, the targets are met).
        FAILED: No result: the model or its backend failed, the node answered without a
            decision, or (soak) a target was missed.
        INPUT: Bad input, settings or arguments; nothing was loaded (argparse's 2 as well).
        NO_NODE: No node answered, or nothing arrived, within the time given.
        INTERRUPTED: Cut short by Ctrl-C or SIGTERM (128 + SIGINT, as shells report it).
    """

    OK = 0
    FAILED = 1
    INPUT = 2
    NO_NODE = 3
    INTERRUPTED = 130


_MEANING = {
    ExitCode.OK: "done",
    ExitCode.FAILED: "the model, its backend or the node gave no result",
    ExitCode.INPUT: "bad input or settings (nothing was loaded)",
    ExitCode.NO_NODE: "no node answered in time",
    ExitCode.INTERRUPTED: "Ctrl-C or SIGTERM",
}


def exit_epilog(codes: Mapping[ExitCode, str | None]) -> str:
    """``Exit status: 0 done, 2 bad input ...`` for a ``--help`` epilog.

    Args:
        codes: The codes the tool uses, each with what it means for this tool (None: the
            table's meaning).
    """
    parts = (f"{int(code)} {text or _MEANING[code]}" for code, text in sorted(codes.items()))
    return "Exit status: " + "; ".join(parts) + " (README: Exit status)."
