"""Freed heap memory goes back to the operating system after a large transient step."""

from __future__ import annotations

import sys

import pytest

from hygiene import heap


def _resident_mib() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc, trims glibc")
def test_memory_a_step_freed_is_returned():
    if heap._malloc_trim() is None:
        pytest.skip("this C library has no malloc_trim")
    kept, freed = [], []
    for index in range(200_000):  # 2 KB blocks: malloc's, not Python's small-object arenas
        (kept if index % 64 == 0 else freed).append(bytearray(2048))
    before = _resident_mib()
    del freed  # the survivors pin the heap's top: free() alone cannot shrink it
    after_free = _resident_mib()
    heap.release_freed_memory()
    after_trim = _resident_mib()
    assert before - after_free < 100  # the ~390 MB freed mostly stayed resident
    assert after_free - after_trim > 200
    assert len(kept) == 3125


def test_trims_where_the_c_library_can_and_does_nothing_where_it_cannot(monkeypatch):
    calls: list[int] = []
    monkeypatch.setattr(heap, "_malloc_trim", lambda: calls.append)
    heap.release_freed_memory()
    assert calls == [0]  # pad 0: keep nothing spare at the heap's top
    monkeypatch.setattr(heap, "_malloc_trim", lambda: None)
    heap.release_freed_memory()
    assert calls == [0]
