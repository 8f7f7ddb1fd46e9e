"""The Fast DDS shared-memory files this process owns, removed when it must exit at once.

Fast DDS's shared-memory transport creates files in ``/dev/shm``: a data segment per
participant (``fastdds_<id>``) and a segment per port it listens on (``fastdds_port<n>``), each
with a lock file (``..._el``) that its owner holds with an exclusive ``flock`` while it lives.
They are unlinked when the participant is destroyed. A process that exits with ``os._exit``
(the node stopped while a thread is still inside the model, ``ros.node._exit_now``) never
destroys it, and the data segment, named at random, would stay until the next reboot. So the
files whose lock this process holds exclusively are unlinked first: no other process owns
them, and a process that has one mapped keeps its mapping.
"""

from __future__ import annotations

import os
from pathlib import Path

SHM = Path("/dev/shm")
LOCKS = Path("/proc/locks")


def owned_segments(pid: int | None = None) -> list[Path]:
    """The Fast DDS files in ``/dev/shm`` (segments and their lock files) whose lock file
    ``pid`` (default: this process) holds exclusively; [] where this cannot be read."""
    pid = os.getpid() if pid is None else pid
    try:
        shm_dev = SHM.stat().st_dev
        lines = LOCKS.read_text().splitlines()
    except OSError:
        return []
    held: set[int] = set()
    for line in lines:
        fields = line.split()
        # "4: FLOCK  ADVISORY  WRITE 31500 00:1b:5290 0 EOF"
        if len(fields) < 6 or fields[1] != "FLOCK" or fields[3] != "WRITE":
            continue
        if fields[4] != str(pid):
            continue
        major, minor, inode = fields[5].split(":")
        if os.makedev(int(major, 16), int(minor, 16)) == shm_dev:
            held.add(int(inode))
    owned: list[Path] = []
    for lock in SHM.glob("fastdds_*_el"):
        try:
            if lock.stat().st_ino in held:
                owned += [lock.with_name(lock.name[: -len("_el")]), lock]
        except OSError:  # removed meanwhile
            continue
    return owned


def remove_owned_segments() -> int:
    """Unlink ``owned_segments()``; returns how many files were removed."""
    removed = 0
    for path in owned_segments():
        try:
            path.unlink()
            removed += 1
        except OSError:
            continue
    return removed
