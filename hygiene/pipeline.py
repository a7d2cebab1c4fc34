"""The scan stage: discovery -> cache check -> worker pool -> catalog, with run bookkeeping."""

from __future__ import annotations

import itertools
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from hygiene import catalog
from hygiene.categorize import CategorizeReport, categorize
from hygiene.config import Config
from hygiene.discover import iter_files
from hygiene.duplicates import DuplicateReport, find_duplicates
from hygiene.embed import default_batch_size, load_model, pick_device
from hygiene.fastdup_engine import fastdup_pairs, fastdup_python
from hygiene.grouping import ImageRow
from hygiene.plan import Fingerprint, Plan, PlanInput, Policy, build_plan, settings_hash
from hygiene.protect import protected_prefixes
from hygiene.quality import quality_flags
from hygiene.records import FileEntry, ScanOutcome
from hygiene.scan import FileVerdict, KnownContent, WorkerSettings, init_worker, scan_file
from hygiene.workers import SupervisedPool, WorkerFailure, set_preload

_COMMIT_EVERY_S = 0.5
_COMMIT_EVERY_ROWS = 500


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


def worker_settings(root: Path, config: Config, catalog_path: Path) -> WorkerSettings:
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
    catalog_path: Path,
    progress: ProgressSink,
    *,
    workers: int,
    rescan: bool = False,
) -> ScanStats:
    """Bring the catalog up to date for every file under `root` and list them under `run_id`."""
    started = time.monotonic()
    stats = ScanStats()
    settings = worker_settings(root, config, catalog_path)
    root_key = catalog.root_id(conn, root)
    progress.start(sum(1 for _ in _walk(root, config)))
    writer = _BatchedWriter(conn)

    def files_to_decode() -> Iterator[FileEntry]:
        for seq, entry in enumerate(_walk(root, config)):
            writer.begin()
            catalog.record_run_files(conn, run_id, root_key, [(seq, entry.rel_path)])
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
            elif not rescan and catalog.is_unchanged(conn, root_key, entry, settings.scan_key):
                stats.cached_by_path += 1
                progress.advance()
            else:
                yield entry
            writer.wrote()

    pending = files_to_decode()
    try:
        first = next(pending, None)  # a fully cached run never starts a worker
        if first is not None:
            set_preload(["hygiene.scan"])
            with SupervisedPool(
                scan_file,
                workers=workers,
                timeout_s=config.scan.file_timeout_s,
                initializer=init_worker,
                initargs=(settings,),
            ) as pool:
                for entry, result in pool.map_unordered(itertools.chain([first], pending)):
                    writer.begin()
                    _store(conn, root_key, entry, settings.scan_key, result, stats)
                    writer.wrote()
                    progress.advance()
    finally:
        writer.commit()
    stats.elapsed_s = time.monotonic() - started
    return stats


def _walk(root: Path, config: Config) -> Iterator[FileEntry]:
    return iter_files(root, exclude=config.scan.exclude, quarantine_dir=config.scan.quarantine_dir)


def _store(
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


def image_rows(conn: sqlite3.Connection, run_id: str) -> list[ImageRow]:
    """The run's readable images, for the stages after the scan."""
    return [
        ImageRow(row.seq, row.rel_path, row.size_bytes, row.sha256, row.facts)
        for row in catalog.iter_run_rows(conn, run_id)
        if row.facts is not None and row.sha256 is not None
    ]


def run_duplicates(
    conn: sqlite3.Connection, rows: list[ImageRow], root: Path, config: Config
) -> DuplicateReport:
    """Group the run's readable images into duplicate groups and similar-shot clusters."""
    engine_pairs = None
    if config.duplicates.engine == "fastdup":
        engine_pairs = _fastdup_pairs(root, rows, config)
    # Verdicts are committed one by one (autocommit): the lock is never held for long.
    return find_duplicates(
        rows,
        root,
        conn,
        config.duplicates,
        config.quality,
        max_pixels=config.scan.max_pixels,
        engine_pairs=engine_pairs,
    )


def _fastdup_pairs(root: Path, rows: list[ImageRow], config: Config) -> list[tuple[str, str]]:
    python = fastdup_python(config.duplicates.fastdup_python)
    pairs = fastdup_pairs(
        [root / row.rel_path for row in rows], python, threads=config.scan.worker_count()
    )
    return [
        (pair.path_a.relative_to(root).as_posix(), pair.path_b.relative_to(root).as_posix())
        for pair in pairs
    ]


def run_categorize(
    conn: sqlite3.Connection,
    rows: list[ImageRow],
    duplicates: DuplicateReport,
    config: Config,
    *,
    allow_download: bool,
    on_batch: Callable[[int], None],
) -> CategorizeReport:
    """Load CLIP (raises ModelUnavailable with the reason and the fix) and label the survivors."""
    settings = config.classify
    device = pick_device(settings.device)
    model = load_model(settings.model, settings.model_path, device, allow_download=allow_download)
    # Each batch's embeddings are committed as they come: a long run never holds the catalog
    # lock, and an interrupted one keeps what it embedded.
    return categorize(
        conn,
        rows,
        duplicates,
        model,
        settings.category_set(config.categories),
        batch_size=settings.batch_size or default_batch_size(device),
        workers=config.scan.worker_count(),
        on_batch=on_batch,
    )


def make_plan(
    conn: sqlite3.Connection,
    run_id: str,
    root: Path,
    config: Config,
    duplicates: DuplicateReport,
    categories: CategorizeReport | None,
    *,
    created_at: str,
) -> Plan:
    """The run's plan: every file's proposed action, from the results and the [plan] policy."""
    settings = config.plan
    policy = Policy(
        remove_duplicates=settings.remove_duplicates,
        quarantine_corrupt=settings.quarantine_corrupt,
        repair_damaged=settings.repair_damaged,
        review_flagged=settings.review_flagged,
        sort_into=settings.sort_into,
        sort_mode="copy" if settings.sort_mode == "copy" else "move",
        flatten=settings.flatten,
        quarantine_dir=config.scan.quarantine_dir,
    )
    rows = list(catalog.iter_run_rows(conn, run_id))
    fingerprints = {
        row.seq: Fingerprint(row.size_bytes, row.mtime_ns, row.sha256)
        for row in rows
        if row.sha256 is not None
    }
    paths = {row.seq: row.rel_path for row in rows}
    members = duplicates.members_by_seq()
    keeper_of = {m.seq: g.keeper_seq for g in duplicates.groups for m in g.members}
    labels = categories.by_seq if categories is not None else {}
    inputs = []
    for row in rows:
        member = members.get(row.seq)
        keeper_seq = keeper_of.get(row.seq)
        label = labels.get(row.seq)
        inputs.append(
            PlanInput(
                rel_path=row.rel_path,
                status=row.status,
                fingerprint=fingerprints.get(row.seq),
                flags=quality_flags(row.facts, config.quality) if row.facts else (),
                category=label.verdict.category if label else None,
                dup_kind=member.kind if member else None,
                keeper=member.keeper if member else None,
                keeper_path=paths.get(keeper_seq) if keeper_seq is not None else None,
                keeper_fingerprint=fingerprints.get(keeper_seq) if keeper_seq is not None else None,
            )
        )
    config_hash = settings_hash(policy, repr(config))
    return build_plan(
        inputs,
        policy,
        root=str(root),
        created_at=created_at,
        settings_hash=config_hash,
        protected_roots=protected_prefixes(root, config.duplicates.protected_roots),
    )
