"""Tasks for the supervised-pool tests; they must live in an importable module for the workers."""

from __future__ import annotations

import os
import signal
import time


def misbehave(item: str) -> str:
    if item == "hang":
        time.sleep(3600)
    if item == "segfault":
        os.kill(os.getpid(), signal.SIGSEGV)
    if item == "exit":
        os._exit(3)
    if item == "raise":
        raise ValueError("bad\ninput")
    return item.upper()


def started_at(item: str) -> float:
    """When the worker began this item (CLOCK_MONOTONIC: comparable across processes)."""
    return time.monotonic()
