"""What a run can search: its embedded photos, their rows in the search index and what a result
shows.

A run's embeddings live in the catalog (per content and model), filled by the categorize stage,
and are copied into the archive's search index (hygiene.search.index) when a run is synced. They
cover the photos that survive deduplication: each duplicate group is represented by its keeper,
whose result row counts the group's copies. Exact copies (the same bytes) are one entry.
"""

from __future__ import annotations

import csv
import json
import os
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from hygiene import catalog
from hygiene.config import SearchSettings
from hygiene.paths import is_regular_file
from hygiene.records import READABLE
from hygiene.search.index import (
    IndexUnusable,
    SyncReport,
    VectorIndex,
    index_folder,
    sync,
    synced_stamp,
)

_FILL_HINT = "run `hygiene scan ROOT` without --no-clip (with a CLIP model) to fill them"


class SearchError(RuntimeError):
    """A search that cannot run; str() is one line saying why and what to do."""


@dataclass(frozen=True, slots=True)
class Photo:
    path: str  # relative to the run's root, as images.csv writes it
    sha256: str
    category: str
    taken_at: str
    thumbnail: str  # the run folder's copy of its thumbnail, "" when there is none
    copies: int  # files of its duplicate group (1 when it has none)


@dataclass(frozen=True)
class Candidates:
    """What a query found, for rank to cut: the best eligible photos with their scores (best
    first), the scores of a fixed sample of the library (the bulk a match must stand out from),
    the best scores of the whole library whatever the filters (where a clear break shows), and
    how many photos the filters left."""

    photos: list[Photo]
    scores: np.ndarray
    usual: np.ndarray
    best: np.ndarray
    eligible: int
    eligible_scores: np.ndarray | None  # every eligible score, when the search saw them all


USUAL_SAMPLE = 4_096  # photos whose scores stand for the bulk of a library


def sample_limit(photos: int) -> int:
    """A photo is in a library's sample when the first 8 hex digits of its sha256, as a
    number, are under this: about USUAL_SAMPLE photos, the same ones in every store."""
    return min(1 << 32, (1 << 32) * USUAL_SAMPLE // max(photos, 1))


def in_sample(sha256: str, limit: int) -> bool:
    return int(sha256[:8], 16) < limit


class Searchable(Protocol):
    """What a query needs of a library, embedded or in a store; an entry names one photo."""

    model_id: str
    run_dir: Any  # where it is, for messages

    def find(self, path: str) -> Any: ...  # the entry of a file of the archive, or None
    def entry_with(self, sha256: str) -> Any: ...  # the entry of this content, or None
    def vector(self, entry: Any) -> np.ndarray: ...
    def candidates(
        self, query: np.ndarray, want: int, *, category: str | None, exclude: Any
    ) -> Candidates: ...


@dataclass(frozen=True)
class Library:
    run_dir: Path
    root: str
    model_id: str
    photos: list[Photo]
    index: VectorIndex = field(repr=False)
    rows: np.ndarray = field(repr=False)  # each photo's row in the index
    entry_of: dict[str, int] = field(repr=False)  # every readable file's path -> its entry

    def find(self, path: str) -> int | None:
        """The entry a file of the run belongs to (itself, or its group's keeper, or the first of
        its exact copies), by its path relative to the root or as given."""
        return self.entry_of.get(normalised(path, self.root))

    def entry_with(self, sha256: str) -> int | None:
        row = self.index.row_of.get(sha256)
        return None if row is None else int(self._entry_of_row[row])

    def vector(self, entry: int) -> np.ndarray:
        return self.index.vector(int(self.rows[entry]))

    @cached_property
    def _entry_of_row(self) -> np.ndarray:
        out = np.full(len(self.index.vectors), -1, np.int64)
        out[self.rows] = np.arange(len(self.rows))
        return out

    @cached_property
    def _sample(self) -> np.ndarray:
        limit = sample_limit(len(self.photos))
        return np.array([in_sample(p.sha256, limit) for p in self.photos], bool)

    def candidates(
        self, query: np.ndarray, want: int, *, category: str | None, exclude: int | None
    ) -> Candidates:
        """The `want` best photos for `query` (a unit vector) that pass the filters."""
        unfiltered = np.ones(len(self.photos), bool)
        if exclude is not None:
            unfiltered[exclude] = False
        near = self._entry_of_row[self.index.nearest(query, want + 1)]
        near = near[near >= 0]
        near = near[unfiltered[near]][:want]
        near_scores = self.index.scores(query, self.rows[near])
        pool, pool_scores, seen_all = near, near_scores, None
        eligible = int(unfiltered.sum())
        if category:  # a category is a slice of the library: score it all, exactly
            wanted = category.casefold()
            in_category = np.array([p.category.casefold() == wanted for p in self.photos], bool)
            pool = np.flatnonzero(in_category & unfiltered)
            pool_scores = seen_all = self.index.scores(query, self.rows[pool])
            eligible = len(pool)
        order = np.argsort(-pool_scores, kind="stable")[:want]
        sample = np.flatnonzero(self._sample & unfiltered)
        return Candidates(
            [self.photos[i] for i in pool[order]],
            pool_scores[order],
            self.index.scores(query, self.rows[sample]),
            -np.sort(-near_scores),
            eligible,
            seen_all,
        )


def open_library(
    run_dir: Path, catalog_path: Path | str | None = None, settings: SearchSettings | None = None
) -> Library:
    """The searchable photos of the run in `run_dir`, its index synced first when the run is
    not the one it was last synced with (SearchError when there are none)."""
    settings = settings or SearchSettings()
    run = read_run(run_dir, catalog_path)
    folder = index_folder(run.catalog, run.root, run.model_id)
    try:
        if synced_stamp(folder) != run.stamp:
            _sync(run, folder, settings)
        index = VectorIndex(folder, settings)
        if index.approximate != (len(index.row_of) >= settings.ann_min_photos):
            _sync(run, folder, settings)  # the settings changed: build or drop the graph
            index = VectorIndex(folder, settings)
    except (IndexUnusable, OSError) as exc:
        raise SearchError(f"cannot use the search index {folder}: {exc}") from None
    photos, rows, entry_of = _entries(run.rows, index, run_dir)
    if not photos:
        raise SearchError(
            f"the catalog {run.catalog} holds no embeddings of this run for {run.model_id}; "
            f"{_FILL_HINT}"
        )
    return Library(run_dir, run.root, run.model_id, photos, index, rows, entry_of)


def sync_run_index(
    run_dir: Path, catalog_path: Path | str | None = None, settings: SearchSettings | None = None
) -> SyncReport:
    """Bring the search index of the run's archive and model up to date with the run (what a
    scan does once it has written the run folder)."""
    run = read_run(run_dir, catalog_path)
    folder = index_folder(run.catalog, run.root, run.model_id)
    try:
        return _sync(run, folder, settings or SearchSettings())
    except (IndexUnusable, OSError) as exc:
        raise SearchError(f"cannot update the search index {folder}: {exc}") from None


@dataclass(frozen=True)
class _Run:
    root: str
    model_id: str
    catalog: catalog.CatalogLocation
    stamp: str  # which run this is, as the index records it
    rows: list[tuple[str, ...]]


def read_run(run_dir: Path, catalog_path: Path | str | None) -> _Run:
    record_path, images_path = run_dir / "run.json", run_dir / "images.csv"
    if not is_regular_file(record_path) or not is_regular_file(images_path):
        raise SearchError(f"{run_dir} is not a hygiene run folder (no run.json or images.csv)")
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
        model_id = (record.get("categorization") or {}).get("model")
        database = catalog.location(catalog_path or record["catalog"])
        stamp = f"{record.get('run_id')} {record.get('finished_at')}"
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise SearchError(f"cannot read {record_path}: {exc}") from None
    if not model_id:
        raise SearchError(f"the run in {run_dir} has no CLIP embeddings; {_FILL_HINT}")
    return _Run(str(record.get("root", "")), model_id, database, stamp, _read_rows(images_path))


def _sync(run: _Run, folder: Path, settings: SearchSettings) -> SyncReport:
    def fetch(shas: list[str]) -> dict[str, np.ndarray]:
        try:
            conn = catalog.open_catalog_readonly(run.catalog)
            try:
                if len(shas) > 2_000:  # one pass over the model's rows beats many lookups
                    stored = catalog.model_embeddings(conn, run.model_id, set(shas))
                else:
                    stored = catalog.embeddings(conn, run.model_id, shas)
            finally:
                conn.close()
        except (*catalog.database_errors(), catalog.CatalogError, OSError) as exc:
            raise SearchError(
                f"cannot read the catalog {catalog.describe(run.catalog)}: {exc}"
            ) from None
        return {sha: np.frombuffer(blob, dtype=np.float16) for sha, blob in stored.items()}

    wanted = [row[2] for row in run.rows]
    return sync(
        folder,
        model_id=run.model_id,
        root=run.root,
        stamp=run.stamp,
        wanted=wanted,
        fetch=fetch,
        settings=settings,
    )


_COLUMNS = ("path", "status", "sha256", "dup_group", "keeper", "category", "taken_at")


def _read_rows(images_path: Path) -> list[tuple[str, ...]]:
    """The readable files of the run (images.parquet, else images.csv), as tuples of _COLUMNS."""
    parquet = images_path.with_suffix(".parquet")
    if parquet.is_file():
        try:
            import pyarrow.parquet as pq

            table = pq.read_table(parquet, columns=list(_COLUMNS))
            columns = [table.column(name).to_pylist() for name in _COLUMNS]
            rows = [tuple(map(_text, row)) for row in zip(*columns, strict=True)]
            return [row for row in rows if row[1] in READABLE and row[2]]
        except (OSError, KeyError, ValueError):
            pass  # the CSV says the same
    try:
        with images_path.open(encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, [])
            where = [header.index(name) for name in _COLUMNS]
            rows = [tuple(row[i] for i in where) for row in reader]
    except (OSError, csv.Error, UnicodeDecodeError, ValueError, IndexError) as exc:
        raise SearchError(f"cannot read {images_path}: {exc}") from None
    return [row for row in rows if row[1] in READABLE and row[2]]


def _text(value: object) -> str:
    """A parquet cell as images.csv writes it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _entries(
    rows: list[tuple[str, ...]], index: VectorIndex, run_dir: Path
) -> tuple[list[Photo], np.ndarray, dict[str, int]]:
    group_size = Counter(group for _, _, _, group, _, _, _ in rows if group)
    keeper_sha = {
        group: sha for _, _, sha, group, keeper, _, _ in rows if group and keeper == "true"
    }
    thumbs = run_dir / "thumbs"
    written = {entry.name for entry in os.scandir(thumbs)} if thumbs.is_dir() else set()
    photos: list[Photo] = []
    index_rows: list[int] = []
    entry_of_sha: dict[str, int] = {}
    for path, _, sha, group, _, category, taken_at in rows:
        # entries: the embedded contents, each once, in the run's order
        row = index.row_of.get(sha)
        if row is not None and sha not in entry_of_sha:
            entry_of_sha[sha] = len(photos)
            name = f"{sha}.webp"
            thumbnail = str(thumbs / name) if name in written else ""
            copies = group_size.get(group, 1)
            photos.append(Photo(path, sha, category, taken_at, thumbnail, copies))
            index_rows.append(row)
    entry_of: dict[str, int] = {}
    for path, _, sha, group, _, _, _ in rows:  # every file: its own content, else its keeper
        entry = entry_of_sha.get(sha)
        if entry is None:
            entry = entry_of_sha.get(keeper_sha.get(group, ""))
        if entry is not None:
            entry_of[path] = entry
    return photos, np.asarray(index_rows, dtype=np.int64), entry_of


def normalised(path: str, root: str) -> str:
    """A path as images.csv spells it: relative to the root, with forward slashes."""
    candidate = Path(path)
    if root and candidate.is_absolute():
        try:
            candidate = candidate.resolve().relative_to(Path(root).resolve())
        except ValueError:
            return path
    return candidate.as_posix()
