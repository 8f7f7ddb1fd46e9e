"""Process-wide memory settings of the node: flat RSS and no long garbage-collector pauses.

Measured on the soak (``make soak``; ``bench/soak_node.py`` samples glibc's ``mallinfo2``
inside the node):

* RSS grew by 150-270 MB within minutes while glibc's bytes in use stayed flat: the growth was
  free memory kept in glibc's arenas (21 -> 308 MB in 90 s). glibc gives each thread that
  allocates an arena of its own (up to 8 per core), and its mmap threshold rises each time a
  large mmapped block is freed, so multi-MB frames, video tensors and the KV cache (which
  ``DynamicCache`` copies, a little larger, every token) end up in those arenas. Two arenas
  for the whole process, and ``malloc_trim`` after each decision (when its working set has just
  been freed; 6-15 ms on the worker thread) keep RSS flat. A fixed 1 MiB mmap threshold was
  tried too: flat as well, but every block above it is then mapped and unmapped each time,
  ~1 ms per 720p frame and per token's KV-cache copy, and CPU decoding ran 2x slower.
* A full (generation 2) collection walks every object the process holds: ~450,000 after torch
  and transformers are imported and the model is loaded, 0.3-1.3 s on a busy 2-core machine,
  with the GIL held, so every camera thread stalls and the window loses its slots.
  ``gc.freeze()`` after the model is loaded moves those long-lived objects out of the
  collector's reach; the collector then only sees what decisions create (~8,500 objects).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
from typing import Any

ARENA_MAX = 2
_M_ARENA_MAX = -8  # glibc malloc.h


def _libc() -> Any:
    """glibc, or None elsewhere (musl, macOS): then nothing is tuned or trimmed."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _libc()


def tune_allocator() -> str:
    """Cap glibc's arenas at two (see the module docstring), unless ``MALLOC_ARENA_MAX`` is
    set. Call once, early in the process (the node's ``main`` does).

    Returns:
        What was done, for the log (``arena_max=2``), or why nothing was.
    """
    if _LIBC is None:
        return "allocator left as is: not glibc"
    if "MALLOC_ARENA_MAX" in os.environ:
        return "allocator left as is: MALLOC_ARENA_MAX is set"
    return f"arena_max={ARENA_MAX}" if _LIBC.mallopt(_M_ARENA_MAX, ARENA_MAX) else "mallopt failed"


def release_free_memory() -> None:
    """Collect cyclic garbage, then return the free pages of every glibc arena to the system
    (``malloc_trim(0)``).

    Call when a large working set has just been freed: after each decision. With the loaded
    model frozen (``freeze_long_lived``) the collection walks only what decisions left behind
    (a few ms); without it, cycles holding a decision's tensors would linger until the
    collector's thresholds are next crossed. Thread-safe (glibc locks each arena in turn).
    """
    gc.collect()
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def freeze_long_lived() -> int:
    """Collect, then exempt every object alive now from later collections (``gc.freeze``).

    Call when the model has been loaded; call ``thaw`` before releasing it, so that a cleanup
    can collect the model's cycles. Returns how many objects were frozen.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def thaw() -> None:
    """Undo ``freeze_long_lived`` (the next ``gc.collect()`` sees every object again)."""
    gc.unfreeze()
