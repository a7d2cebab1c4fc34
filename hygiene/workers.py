"""A process pool that survives its tasks: a worker that hangs is killed, one that dies is replaced.

concurrent.futures gives up on the whole pool when one worker dies and cannot stop a task that
hangs; a photo archive is full of files that do both to decoders, so each worker here takes one
task at a time and the parent watches the clock and the process.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.connection
import signal
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from hygiene.heap import keep_freed_memory

T = TypeVar("T")
R = TypeVar("R")

_CONTEXT = multiprocessing.get_context("forkserver")


@dataclass(frozen=True, slots=True)
class WorkerFailure:
    """A task that produced no result. `detail` is a one-line reason."""

    kind: Literal["timeout", "crashed", "error"]
    detail: str


_PRELOAD: set[str] = set()


def set_preload(modules: list[str]) -> None:
    """Import these (and the ones named before) in the fork server once, so that workers start
    in milliseconds. Only names given before the fork server starts (the first pool) count."""
    _PRELOAD.update(modules)
    _CONTEXT.set_forkserver_preload(sorted(_PRELOAD))


@dataclass
class _Slot:
    process: Any
    conn: multiprocessing.connection.Connection
    task: tuple[int, Any] | None = None
    started_at: float = 0.0


class SupervisedPool(Generic[T, R]):
    def __init__(
        self,
        func: Callable[[T], R],
        *,
        workers: int,
        timeout_s: float,
        initializer: Callable[..., None] | None = None,
        initargs: tuple[Any, ...] = (),
    ) -> None:
        self._func = func
        self._timeout_s = timeout_s
        self._initializer = initializer
        self._initargs = initargs
        self._slots = [self._start_slot() for _ in range(max(1, workers))]

    def map_unordered(self, items: Iterable[T]) -> Iterator[tuple[T, R | WorkerFailure]]:
        """Yield (item, result or failure) as tasks finish; pulls items lazily from `items`."""
        pending = iter(items)
        exhausted = False
        seq = 0

        def refill(slot: _Slot) -> None:
            nonlocal exhausted, seq
            if exhausted:
                return
            try:
                item = next(pending)
            except StopIteration:
                exhausted = True
                return
            self._send(slot, (seq, item))
            seq += 1

        while True:
            for slot in self._slots:
                if slot.task is None:
                    refill(slot)
            busy = [slot for slot in self._slots if slot.task is not None]
            if not busy:
                return
            self._wait(busy)
            for slot in busy:
                finished = self._collect(slot)
                if finished is not None:
                    refill(slot)  # the worker starts its next item while the caller has this one
                    yield finished

    def close(self) -> None:
        for slot in self._slots:
            with contextlib.suppress(OSError, ValueError):
                slot.conn.send(None)
        deadline = time.monotonic() + 2.0
        for slot in self._slots:
            slot.process.join(max(0.0, deadline - time.monotonic()))
            if slot.process.is_alive():
                slot.process.kill()
                slot.process.join()
            slot.conn.close()

    def __enter__(self) -> SupervisedPool[T, R]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _start_slot(self) -> _Slot:
        parent_conn, child_conn = _CONTEXT.Pipe()
        process = _CONTEXT.Process(
            target=_worker_main,
            args=(child_conn, self._func, self._initializer, self._initargs),
            daemon=True,
        )
        process.start()
        child_conn.close()
        return _Slot(process=process, conn=parent_conn)

    def _send(self, slot: _Slot, task: tuple[int, Any]) -> None:
        slot.task = task
        slot.started_at = time.monotonic()
        with contextlib.suppress(OSError, ValueError):  # a dead worker is reported by _collect
            slot.conn.send(task)

    def _wait(self, busy: list[_Slot]) -> None:
        now = time.monotonic()
        next_deadline = min(slot.started_at + self._timeout_s for slot in busy)
        waitables: list[Any] = [slot.conn for slot in busy]
        waitables += [slot.process.sentinel for slot in busy]
        multiprocessing.connection.wait(waitables, timeout=max(0.0, next_deadline - now))

    def _collect(self, slot: _Slot) -> tuple[T, R | WorkerFailure] | None:
        assert slot.task is not None
        seq, item = slot.task
        try:
            if slot.conn.poll():
                done_seq, result = slot.conn.recv()
                if done_seq == seq:
                    slot.task = None
                    return item, result
        except (EOFError, OSError):
            pass
        if not slot.process.is_alive():
            failure = WorkerFailure("crashed", _describe_exit(slot.process.exitcode))
        elif time.monotonic() - slot.started_at > self._timeout_s:
            slot.process.kill()
            failure = WorkerFailure("timeout", f"timed out after {self._timeout_s:g} s")
        else:
            return None
        self._replace(slot)
        return item, failure

    def _replace(self, slot: _Slot) -> None:
        slot.process.join(1.0)
        slot.conn.close()
        fresh = self._start_slot()
        slot.process, slot.conn, slot.task = fresh.process, fresh.conn, None


def _describe_exit(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"decoder process crashed ({name})"
    return f"decoder process exited unexpectedly (code {exitcode})"


def _worker_main(
    conn: multiprocessing.connection.Connection,
    func: Callable[[Any], Any],
    initializer: Callable[..., None] | None,
    initargs: tuple[Any, ...],
) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    keep_freed_memory()
    if initializer is not None:
        initializer(*initargs)
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        seq, item = message
        try:
            result: Any = func(item)
        except Exception as exc:
            result = WorkerFailure("error", f"{type(exc).__name__}: {' '.join(str(exc).split())}")
        conn.send((seq, result))
