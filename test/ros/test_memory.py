"""The node's process-wide memory settings: glibc's arenas capped unless the user chose, free
arena pages given back after each decision, and the long-lived heap frozen out of the garbage
collector's full passes (and thawed again)."""

from __future__ import annotations

import ctypes
import gc
import platform

import psutil
import pytest

from cosmos_reason_ros.ros.memory import (
    ARENA_MAX,
    freeze_long_lived,
    release_free_memory,
    thaw,
    tune_allocator,
)

glibc_only = pytest.mark.skipif(
    platform.libc_ver()[0] != "glibc", reason="mallopt and malloc_trim are glibc's"
)


@glibc_only
def test_tune_allocator_caps_arenas(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert tune_allocator() == f"arena_max={ARENA_MAX}"


def test_tune_allocator_keeps_the_users_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert tune_allocator().startswith("allocator left as is")


@glibc_only
def test_release_free_memory_gives_freed_arena_pages_back() -> None:
    """200 MB of small blocks freed below a live one stay in the arena (glibc trims only the
    top of a heap by itself); release_free_memory returns them."""
    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    proc = psutil.Process()
    blocks = [libc.malloc(4000) for _ in range(50_000)]
    for block in blocks:
        ctypes.memset(block, 1, 4000)  # touch the pages, so they count in RSS
    pin = libc.malloc(4000)  # above them: the heap's top is not free
    for block in blocks:
        libc.free(block)
    kept = proc.memory_info().rss
    release_free_memory()
    given_back = kept - proc.memory_info().rss
    libc.free(pin)
    assert given_back > 100 * 2**20


def test_freeze_exempts_the_live_heap_until_thawed() -> None:
    try:
        frozen = freeze_long_lived()
        assert frozen == gc.get_freeze_count() > 1000  # modules, classes, test objects
        assert len(gc.get_objects()) < frozen  # a full pass no longer walks them
    finally:
        thaw()
    assert gc.get_freeze_count() == 0
