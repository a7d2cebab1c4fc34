"""The scan stage: discovery -> cache check -> worker pool -> catalog.

Brings the catalog up to date for every file under a root and lists the files under a run id;
the stages after it read the run's rows back from the catalog.
"""

from __future__ import annotations

import itertools
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from hygiene import catalog
from hygiene.config import Config
from hygiene.records import FileEntry, ScanOutcome
from hygiene.scan.discover import count_files, iter_files
from hygiene.scan.measure import (
    FileVerdict,
    KnownContent,
    WorkerSettings,
    init_worker,
    scan_file,
)
from hygiene.workers import SupervisedPool, WorkerFailure, set_preload

_COMMIT_EVERY_S = 0.5
_COMMIT_EVERY_ROWS = 500
_CHECK_CHUNK_FILES = 500  # files listed and looked up in the catalog at a time


class ProgressSink(Protocol):
    def start(self, total_files: int) -> None: ...
    def advance(self, files: int = 1) -> None: ...


@dataclass
class ScanStats:
    files_seen: int = 0
    decoded: int = 0
    cached_by_path: int = 0
    cached_by_content: int = 0
    skipped_early: int = 0
    worker_failures: int = 0
    unverified: int = 0  # files this run could not check (caps, timeouts, crashes): retried
    elapsed_s: float = 0.0


class _BatchedWriter:
    """Groups catalog writes into short transactions: a kill loses at most the last half second."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._open = False
        self._rows = 0
        self._since = time.monotonic()

    def wrote(self, rows: int = 1) -> None:
        self._rows += rows
        if self._rows >= _COMMIT_EVERY_ROWS or time.monotonic() - self._since >= _COMMIT_EVERY_S:
            self.commit()

    def begin(self) -> None:
        if not self._open:
            self.conn.execute("BEGIN IMMEDIATE")
            self._open = True

    def commit(self) -> None:
        if self._open:
            self.conn.execute("COMMIT")
            self._open = False
        self._rows = 0
        self._since = time.monotonic()


class CatalogLookup:
    """Whether a content was scanned before under a scan key, asked of the catalog from inside a
    worker (each worker opens its own read-only connection on first use)."""

    def __init__(self, catalog_path: str, scan_key: str) -> None:
        self._path, self._scan_key = catalog_path, scan_key
        self._conn: sqlite3.Connection | None = None

    def __getstate__(self) -> tuple[str, str]:
        return self._path, self._scan_key

    def __setstate__(self, state: tuple[str, str]) -> None:
        self.__init__(*state)

    def __call__(self, sha256: str) -> bool:
        try:
            if self._conn is None:
                self._conn = catalog.open_catalog_readonly(catalog.location(self._path))
            return catalog.has_content(self._conn, sha256, self._scan_key)
        except (*catalog.database_errors(), catalog.CatalogError):
            return False  # the cache is an optimisation; scanning again is always correct


def worker_settings(
    root: Path, config: Config, catalog_path: catalog.CatalogLocation
) -> WorkerSettings:
    return WorkerSettings(
        root=str(root),
        max_pixels=config.scan.max_pixels,
        max_file_bytes=config.scan.max_file_mb * 2**20,
        thumbnail_px=config.scan.thumbnail_px,
        catalog_path=str(catalog_path),
    )


def run_scan(
    root: Path,
    config: Config,
    conn: sqlite3.Connection,
    run_id: str,
    catalog_path: catalog.CatalogLocation,
    progress: ProgressSink,
    *,
    workers: int,
    rescan: bool = False,
    cluster: bool = False,
) -> ScanStats:
    """Bring the catalog up to date for every file under `root` and list them under `run_id`.
    With `cluster`, the files to decode go to the Ray cluster the run has joined (their results
    land in the catalog from there)."""
    started = time.monotonic()
    stats = ScanStats()
    settings = worker_settings(root, config, catalog_path)
    root_key = catalog.root_id(conn, root)
    progress.start(
        count_files(root, exclude=config.scan.exclude, quarantine_dir=config.scan.quarantine_dir)
    )
    writer = _BatchedWriter(conn)

    def files_to_decode() -> Iterator[FileEntry]:
        walk = enumerate(_walk(root, config))
        while chunk := list(itertools.islice(walk, _CHECK_CHUNK_FILES)):
            writer.begin()
            catalog.record_run_files(conn, run_id, root_key, [(s, e.rel_path) for s, e in chunk])
            entries = [entry for _, entry in chunk]
            unchanged = (
                set()
                if rescan
                else catalog.unchanged_paths(
                    conn, root_key, [e for e in entries if e.skip_reason is None], settings.scan_key
                )
            )
            for entry in entries:
                writer.begin()
                stats.files_seen += 1
                if entry.skip_reason is not None:
                    catalog.record_file(
                        conn,
                        root_key,
                        entry,
                        settings.scan_key,
                        sha256=None,
                        status="skipped",
                        error=entry.skip_reason,
                    )
                    stats.skipped_early += 1
                    progress.advance()
                elif entry.rel_path in unchanged:
                    stats.cached_by_path += 1
                    progress.advance()
                else:
                    yield entry
                writer.wrote()

    decoding = _Decoding(settings, root_key, config.scan.file_timeout_s, writer, stats, progress)
    try:
        if cluster:
            _decode_on_cluster(files_to_decode(), decoding)
        else:
            _decode_here(files_to_decode(), decoding, workers)
    finally:
        writer.commit()
    stats.elapsed_s = time.monotonic() - started
    return stats


@dataclass(frozen=True)
class _Decoding:
    """What storing decoded files needs, wherever they were decoded."""

    settings: WorkerSettings
    root_key: int
    file_timeout_s: float
    writer: _BatchedWriter
    stats: ScanStats
    progress: ProgressSink


def _decode_here(pending: Iterator[FileEntry], decoding: _Decoding, workers: int) -> None:
    first = next(pending, None)  # a fully cached run never starts a worker
    if first is None:
        return
    settings, writer, scan_key = decoding.settings, decoding.writer, decoding.settings.scan_key
    set_preload(["hygiene.scan.measure"])
    with SupervisedPool(
        scan_file,
        workers=workers,
        timeout_s=decoding.file_timeout_s,
        initializer=init_worker,
        initargs=(settings, CatalogLookup(settings.catalog_path, settings.scan_key)),
    ) as pool:
        for entry, result in pool.map_unordered(itertools.chain([first], pending)):
            writer.begin()
            store_result(writer.conn, decoding.root_key, entry, scan_key, result, decoding.stats)
            writer.wrote()
            decoding.progress.advance()


def _decode_on_cluster(pending: Iterator[FileEntry], decoding: _Decoding) -> None:
    """Hand the files to the Ray cluster the run has joined; its batches store them."""
    from hygiene.cluster.scan import COUNTED, BatchJob, scan_on_cluster

    def heard(counts: dict[str, int], files: int) -> None:
        decoding.writer.commit()  # the driver's own rows (the run's file list) wait for no batch
        for name in COUNTED:
            setattr(decoding.stats, name, getattr(decoding.stats, name) + counts[name])
        decoding.progress.advance(files)

    decoding.writer.commit()
    job = BatchJob(decoding.settings, decoding.root_key, decoding.file_timeout_s)
    scan_on_cluster(pending, job, heard)


def _walk(root: Path, config: Config) -> Iterator[FileEntry]:
    return iter_files(root, exclude=config.scan.exclude, quarantine_dir=config.scan.quarantine_dir)


def store_result(
    conn: sqlite3.Connection,
    root_key: int,
    entry: FileEntry,
    scan_key: str,
    result: ScanOutcome | KnownContent | FileVerdict | WorkerFailure,
    stats: ScanStats,
) -> None:
    sha256: str | None = None
    status: str | None = None
    error: str | None = None
    if isinstance(result, ScanOutcome):
        catalog.record_content(conn, result, scan_key)
        sha256 = result.sha256
        stats.decoded += 1
    elif isinstance(result, KnownContent):
        sha256 = result.sha256
        stats.cached_by_content += 1
    elif isinstance(result, FileVerdict):
        sha256, status, error = result.sha256, result.status, result.error
    else:  # the file was not checked, which says nothing about it: never "corrupt"
        status = "unverified"
        if result.kind == "timeout":
            error = f"not checked: decoding {result.detail} (raise scan.file_timeout_s to check it)"
        elif result.kind == "crashed":
            error = f"not checked: {result.detail}"
        else:
            error = f"not checked: hygiene failed on this file ({result.detail})"
        stats.worker_failures += 1
    if status == "unverified":  # kept in the files table only, which the next run ignores
        stats.unverified += 1
    catalog.record_file(conn, root_key, entry, scan_key, sha256=sha256, status=status, error=error)
