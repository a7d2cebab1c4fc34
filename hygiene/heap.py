"""Hand memory that a large transient step freed back to the operating system."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys
from collections.abc import Callable


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return getattr(libc, "malloc_trim", None)  # glibc's; other C libraries lack it


def release_freed_memory() -> None:
    """glibc keeps freed heap pages for reuse, so after a step that built large temporary arrays
    (the hash search over a big archive) the process would stay at that step's peak for the rest
    of the run; trimming returns them. Where the C library has no malloc_trim, nothing happens."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
