"""The node's process-wide memory settings: glibc's allocator tuned unless the user chose, and
the long-lived heap frozen out of the garbage collector's full passes, and thawed again."""

from __future__ import annotations

import ctypes
import gc
import platform

import pytest

from cosmos_reason_ros.bench.soak_node import heap_figures
from cosmos_reason_ros.ros.memory import (
    ARENA_MAX,
    MMAP_THRESHOLD_BYTES,
    freeze_long_lived,
    thaw,
    tune_allocator,
)


def _glibc() -> bool:
    return platform.libc_ver()[0] == "glibc" and bool(heap_figures())


@pytest.mark.skipif(not _glibc(), reason="mallopt is glibc's; elsewhere the allocator is kept")
def test_tune_allocator_fixes_the_mmap_threshold_and_caps_arenas(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert tune_allocator() == f"mmap_threshold={MMAP_THRESHOLD_BYTES} arena_max={ARENA_MAX}"
    # Without the fixed threshold, freeing one mmapped 4 MiB block raises glibc's threshold,
    # and the next such block comes from (and stays in) an arena. With it, every one is mmapped.
    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    size = 4 * MMAP_THRESHOLD_BYTES
    for _ in range(3):
        before = heap_figures()["heap_mmap_mb"]
        block = libc.malloc(size)
        assert heap_figures()["heap_mmap_mb"] - before >= size / 2**20
        libc.free(block)


def test_tune_allocator_keeps_the_users_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "65536")
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert tune_allocator() in (
        "allocator left as is: set by the environment",
        "allocator left as is: not glibc",
    )


def test_freeze_exempts_the_live_heap_until_thawed() -> None:
    try:
        frozen = freeze_long_lived()
        assert frozen == gc.get_freeze_count() > 1000  # modules, classes, test objects
        assert len(gc.get_objects()) < frozen  # a full pass no longer walks them
    finally:
        thaw()
    assert gc.get_freeze_count() == 0
