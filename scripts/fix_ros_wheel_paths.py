"""Rewrite the build-machine include paths baked into the ROS 2 wheels' CMake exports.

The message wheels export CMake targets naming the include folders of the machine they were
built on (/opt/python/cpXY-cpXY/...). CMake refuses imported targets with non-existent paths, so
we point them at this interpreter's include folder and numpy's. See
../shared/notes/ros2-wheels.md. Idempotent.
"""

from __future__ import annotations

import re
import sys
import sysconfig
from pathlib import Path

import numpy


def main(venv: str) -> int:
    share = Path(venv) / "share"
    py_include = sysconfig.get_paths()["include"]
    np_include = numpy.get_include()
    py_pat = re.compile(r"/opt/python/cp3\d+-cp3\d+/include/python3\.\d+")
    np_pat = re.compile(
        r"/opt/python/cp3\d+-cp3\d+/lib/python3\.\d+/site-packages/numpy/(_core|core)/include"
    )
    changed = 0
    for path in share.rglob("*.cmake"):
        text = path.read_text(errors="surrogateescape")
        if "/opt/python/" not in text:
            continue
        new = np_pat.sub(np_include, text)
        new = py_pat.sub(py_include, new)
        if new != text:
            path.write_text(new, errors="surrogateescape")
            changed += 1
    print(f"[setup] rewrote build-machine include paths in {changed} CMake files")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
