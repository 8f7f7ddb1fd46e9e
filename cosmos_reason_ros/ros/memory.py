"""Process-wide memory settings of the node: flat RSS and no long garbage-collector pauses.

Measured on the soak (``make soak``; ``bench/soak_node.py`` samples glibc's ``mallinfo2``):

* RSS grew by ~270 MB in 9 minutes while the bytes in use stayed flat: the growth was free
  memory that glibc kept in its arenas. Its mmap threshold adapts upwards each time a large
  mmapped block is freed (up to 32 MB), so after the first few multi-MB camera frames, video
  tensors and KV-cache copies (a ``DynamicCache`` grows by ``torch.cat`` every token), blocks of
  that size come from the arenas instead, one arena per thread that allocates, and fragment
  them. A fixed threshold sends every block of 1 MiB or more to ``mmap`` (returned to the system
  on ``free``), and two arenas stop each thread from keeping a heap of its own.
* A full (generation 2) collection walks every object the process holds: ~450,000 after torch
  and transformers are imported and the model is loaded, 0.3-1.3 s on a busy 2-core machine,
  with the GIL held, so every camera thread stalls and the window loses its slots.
  ``gc.freeze()`` after the model is loaded moves those long-lived objects out of the
  collector's reach; the collector then only sees what decisions create.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os

MMAP_THRESHOLD_BYTES = 1 << 20
ARENA_MAX = 2
_M_MMAP_THRESHOLD = -3  # glibc malloc.h
_M_ARENA_MAX = -8


def tune_allocator() -> str:
    """Fix glibc's mmap threshold and cap its arenas (see the module docstring).

    Settings the user made through ``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_ARENA_MAX`` are kept.
    Call once, early in the process (the node's ``main`` does). Does nothing off glibc.

    Returns:
        What was done, for the log (e.g. ``mmap_threshold=1048576 arena_max=2``), or why not.
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return "allocator left as is: not glibc"
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    done = []
    if "MALLOC_MMAP_THRESHOLD_" not in os.environ and mallopt(
        _M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES
    ):
        done.append(f"mmap_threshold={MMAP_THRESHOLD_BYTES}")
    if "MALLOC_ARENA_MAX" not in os.environ and mallopt(_M_ARENA_MAX, ARENA_MAX):
        done.append(f"arena_max={ARENA_MAX}")
    return " ".join(done) or "allocator left as is: set by the environment"


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
