"""The scan stage's decoding on a Ray cluster.

The driver walks the archive and checks the catalog as the local engine does; the files left
to decode go to Ray Data in batches. Each batch runs the local engine's own per-file function
(hygiene.scan.measure.scan_file) in a supervised process of the Ray worker, so a file that hangs
or crashes its decoder is reported as on one machine, and stores its results in the shared
catalog itself, in one transaction. A worker or node lost mid-batch makes Ray Data run the
batch again (its tasks are retried on such failures until they succeed); every write is an
upsert keyed by path or content, so a retried batch neither loses nor doubles a file. A
driver that dies leaves every finished batch in the catalog, and the next run finds those
files unchanged.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from hygiene import catalog
from hygiene.paths import from_text, to_text
from hygiene.records import FileEntry
from hygiene.scan.measure import WorkerSettings, init_worker, scan_file
from hygiene.workers import SupervisedPool, set_preload

BATCH_FILES = 64  # files per Ray task: a lost task costs at most this many files again
_MAP_RETRIES = 5  # runs of a batch that failed on a deadlock or a dropped catalog connection
_DATASET_FILES = 50_000  # files per Ray dataset: the driver's memory stays bounded


@dataclass(frozen=True, slots=True)
class BatchJob:
    """What every batch needs besides its files."""

    settings: WorkerSettings  # its catalog_path is the shared catalog's URL
    root_key: int
    file_timeout_s: float


# What a batch reports back of its ScanStats (the driver keeps the rest itself).
COUNTED = ("decoded", "cached_by_content", "worker_failures", "unverified")


def scan_on_cluster(
    pending: Iterator[FileEntry], job: BatchJob, on_files: Callable[[dict[str, int], int], None]
) -> None:
    """Decode and store every entry of `pending` on the cluster; `on_files(counts, files)` hears
    of each finished batch (counts: the COUNTED fields of its ScanStats)."""
    import ray.data

    context = ray.data.DataContext.get_current()
    # Two batches storing the same contents in opposite orders can deadlock; PostgreSQL then
    # aborts one. A connection to the catalog can drop (a server restart); the batch's
    # transaction is then void, and the worker connects again. Running the batch again is all
    # either takes: its writes are upserts.
    context.retried_map_errors = [
        "deadlock detected",
        "server closed the connection",
        "terminating connection",
        "connection is lost",
    ]
    context.max_map_retries = _MAP_RETRIES
    while chunk := list(itertools.islice(pending, _DATASET_FILES)):
        items = [
            {"rel_path": to_text(e.rel_path), "size_bytes": e.size_bytes, "mtime_ns": e.mtime_ns}
            for e in chunk
        ]
        blocks = max(1, -(-len(items) // BATCH_FILES))
        dataset = ray.data.from_items(items, override_num_blocks=blocks).map_batches(
            scan_batch,
            batch_size=BATCH_FILES,
            fn_kwargs={"job": job},
            num_cpus=1,
        )
        for done in dataset.iter_batches(batch_size=None, batch_format="numpy"):
            on_files({name: int(done[name].sum()) for name in COUNTED}, int(done["files"].sum()))


# ---------------------------------------------------------------- on the Ray workers

_pool: SupervisedPool[FileEntry, Any] | None = None
_pool_for: BatchJob | None = None
_conn: Any = None
_conn_to = ""


def scan_batch(batch: dict[str, np.ndarray], job: BatchJob) -> dict[str, np.ndarray]:
    """Scan a batch of files into the catalog; one row back: how many files, and what became
    of them."""
    from hygiene.scan.stage import ScanStats, store_result

    entries = [
        FileEntry(from_text(str(text)), int(size), int(mtime))
        for text, size, mtime in zip(
            batch["rel_path"], batch["size_bytes"], batch["mtime_ns"], strict=True
        )
    ]
    conn = _catalog(job.settings.catalog_path)
    stats = ScanStats()
    conn.execute("BEGIN IMMEDIATE")
    try:  # each result is stored while the decoding process works on the next file
        for entry, result in _file_pool(job).map_unordered(entries):
            store_result(conn, job.root_key, entry, job.settings.scan_key, result, stats)
        conn.execute("COMMIT")
    except BaseException:
        # on a lost connection ROLLBACK fails too: the batch's own error is what Ray must see
        with contextlib.suppress(*catalog.database_errors()):
            conn.execute("ROLLBACK")
        raise
    counts = {name: np.array([getattr(stats, name)]) for name in COUNTED}
    return {"files": np.array([len(entries)]), **counts}


def _file_pool(job: BatchJob) -> SupervisedPool[FileEntry, Any]:
    """One supervised decoding process per Ray worker, kept across its batches."""
    global _pool, _pool_for
    if _pool is None or _pool_for != job:
        if _pool is not None:
            _pool.close()
        from hygiene.scan.stage import CatalogLookup

        set_preload(["hygiene.scan.measure"])
        lookup = CatalogLookup(job.settings.catalog_path, job.settings.scan_key)
        _pool = SupervisedPool(
            scan_file,
            workers=1,
            timeout_s=job.file_timeout_s,
            initializer=init_worker,
            initargs=(job.settings, lookup),
        )
        _pool_for = job
    return _pool


def _catalog(where: str) -> Any:
    """The worker's connection to the shared catalog, kept across its batches."""
    global _conn, _conn_to
    if _conn is None or _conn_to != where or not getattr(_conn, "usable", True):
        _conn, _conn_to = catalog.open_catalog(catalog.location(where)), where
    return _conn
