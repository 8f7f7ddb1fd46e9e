"""The node as users run it: ``python -m cosmos_reason_ros.node`` in a child process with a
parameters file, driven from this process over real DDS, the way a planner would."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml


@contextmanager
def node_process(folder: Path, **params: Any) -> Iterator[subprocess.Popen[bytes]]:
    """Start the node with ``params`` (everything else at its defaults); stop it with SIGINT.

    Its output goes to ``folder / "node.log"``; on a failure the log's tail is printed.
    """
    folder.mkdir(parents=True, exist_ok=True)
    params_file = folder / "params.yaml"
    params_file.write_text(yaml.safe_dump({"/**": {"ros__parameters": params}}))
    log_path = folder / "node.log"
    cmd = [sys.executable, "-m", "cosmos_reason_ros.node", "--ros-args"]
    cmd += ["--params-file", str(params_file)]
    with log_path.open("wb") as log:
        child = subprocess.Popen(cmd, env=dict(os.environ), stdout=log, stderr=subprocess.STDOUT)
    try:
        yield child
    except BaseException:
        print(f"--- node log ({log_path}) ---\n{log_tail(log_path)}", file=sys.stderr)
        raise
    finally:
        if child.poll() is None:
            child.send_signal(signal.SIGINT)
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def log_tail(path: Path, lines: int = 40) -> str:
    text = path.read_text(errors="replace") if path.exists() else ""
    return "\n".join(text.splitlines()[-lines:])
