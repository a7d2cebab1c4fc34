"""How glibc's allocator keeps and returns freed memory, set where hygiene needs it otherwise.
Elsewhere than glibc none of this does anything."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys
from collections.abc import Callable

# glibc's mallopt parameters
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_HEAP_BLOCK_MAX_BYTES = 32 * 2**20
_HEAP_SPARE_MAX_BYTES = 64 * 2**20


@functools.cache
def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


def _glibc(name: str) -> Callable[..., int] | None:
    libc = _libc()
    return getattr(libc, name, None) if libc is not None else None  # other C libraries lack them


def keep_freed_memory() -> None:
    """Serve arrays up to 32 MiB from the heap and keep up to 64 MiB of freed memory there.

    By default glibc maps every block over 128 KiB afresh and unmaps it when freed, so each
    per-image array (a 500x375 float32 plane is 730 KiB) starts as untouched pages and every
    first write faults: measured, that was half the time of the quality measures.
    """
    mallopt = _glibc("mallopt")
    if mallopt is not None:
        mallopt(_M_MMAP_THRESHOLD, _HEAP_BLOCK_MAX_BYTES)
        mallopt(_M_TRIM_THRESHOLD, _HEAP_SPARE_MAX_BYTES)


def _malloc_trim() -> Callable[[int], int] | None:
    return _glibc("malloc_trim")


def release_freed_memory() -> None:
    """Return the heap's free pages now. With keep_freed_memory's settings a step that built
    large temporary arrays once (the hash search over a big archive) would otherwise leave the
    process at that step's peak for the rest of the run."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
