"""The supervised pool: a hanging or crashing task costs one result, never the run."""

from __future__ import annotations

import time

from hygiene.workers import SupervisedPool, WorkerFailure
from tests.pool_tasks import misbehave, started_at


def test_hangs_and_crashes_are_reported_and_the_rest_completes():
    items = ["a", "hang", "b", "segfault", "c", "exit", "d", "raise", "e"]
    started = time.monotonic()
    with SupervisedPool(misbehave, workers=2, timeout_s=2.0) as pool:
        results = dict(pool.map_unordered(items))
    assert time.monotonic() - started < 30
    assert set(results) == set(items)
    for item in "abcde":
        assert results[item] == item.upper()
    assert results["hang"] == WorkerFailure("timeout", "timed out after 2 s")
    assert results["segfault"].kind == "crashed" and "SIGSEGV" in results["segfault"].detail
    assert results["exit"].kind == "crashed" and "code 3" in results["exit"].detail
    assert results["raise"].kind == "error" and "\n" not in results["raise"].detail


def test_items_are_pulled_lazily():
    pulled = []

    def source():
        for i in range(50):
            pulled.append(i)
            yield str(i)

    with SupervisedPool(misbehave, workers=2, timeout_s=10) as pool:
        stream = pool.map_unordered(source())
        next(stream)
        assert len(pulled) <= 3
        assert len(list(stream)) == 49


def test_a_worker_starts_its_next_item_while_the_caller_handles_a_result():
    with SupervisedPool(started_at, workers=1, timeout_s=10) as pool:
        stream = pool.map_unordered(["a", "b"])
        next(stream)
        handed_over = time.monotonic()
        time.sleep(0.5)  # the caller stores the first result meanwhile
        ((_, second_started),) = list(stream)
    assert second_started < handed_over + 0.25
