"""What a run can search: its embedded photos, their unit vectors and what a result shows.

A run's embeddings live in the catalog (per content and model), filled by the categorize stage
for the photos that survive deduplication: each duplicate group is represented by its keeper,
whose result row counts the group's copies. Exact copies (the same bytes) are one entry.
"""

from __future__ import annotations

import csv
import json
import os
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hygiene import catalog
from hygiene.records import READABLE

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
class Library:
    run_dir: Path
    root: str
    model_id: str
    photos: list[Photo]
    vectors: np.ndarray  # (len(photos), D) float32, unit rows
    entry_of: dict[str, int] = field(repr=False)  # every readable file's path -> its entry

    def find(self, path: str) -> int | None:
        """The entry a file of the run belongs to (itself, or its group's keeper, or the first of
        its exact copies), by its path relative to the root or as given."""
        return self.entry_of.get(_normalised(path, self.root))


def open_library(run_dir: Path, catalog_path: Path | None = None) -> Library:
    """The searchable photos of the run in `run_dir` (SearchError when there are none)."""
    record_path, images_path = run_dir / "run.json", run_dir / "images.csv"
    if not record_path.is_file() or not images_path.is_file():
        raise SearchError(f"{run_dir} is not a hygiene run folder (no run.json or images.csv)")
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
        model_id = (record.get("categorization") or {}).get("model")
        database = catalog_path or Path(record["catalog"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SearchError(f"cannot read {record_path}: {exc}") from None
    if not model_id:
        raise SearchError(f"the run in {run_dir} has no CLIP embeddings; {_FILL_HINT}")
    rows = _read_rows(images_path)
    try:
        conn = catalog.open_catalog_readonly(database)
        try:
            stored = catalog.model_embeddings(conn, model_id, {row[2] for row in rows})
        finally:
            conn.close()
    except (sqlite3.Error, catalog.CatalogError, OSError) as exc:
        raise SearchError(f"cannot read the catalog {database}: {exc}") from None
    if not stored:
        raise SearchError(
            f"the catalog {database} holds no embeddings of this run for {model_id}; {_FILL_HINT}"
        )
    photos, vectors, entry_of = _entries(rows, stored, run_dir)
    return Library(run_dir, str(record.get("root", "")), model_id, photos, vectors, entry_of)


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
    rows: list[tuple[str, ...]], stored: dict[str, bytes], run_dir: Path
) -> tuple[list[Photo], np.ndarray, dict[str, int]]:
    group_size = Counter(group for _, _, _, group, _, _, _ in rows if group)
    keeper_sha = {
        group: sha for _, _, sha, group, keeper, _, _ in rows if group and keeper == "true"
    }
    thumbs = run_dir / "thumbs"
    written = {entry.name for entry in os.scandir(thumbs)} if thumbs.is_dir() else set()
    photos: list[Photo] = []
    blobs: list[bytes] = []
    entry_of_sha: dict[str, int] = {}
    for path, _, sha, group, _, category, taken_at in rows:
        # entries: the embedded contents, each once, in the run's order
        if sha in stored and sha not in entry_of_sha:
            entry_of_sha[sha] = len(photos)
            name = f"{sha}.webp"
            thumbnail = str(thumbs / name) if name in written else ""
            copies = group_size.get(group, 1)
            photos.append(Photo(path, sha, category, taken_at, thumbnail, copies))
            blobs.append(stored[sha])
    vectors = np.frombuffer(b"".join(blobs), dtype=np.float16).reshape(len(blobs), -1)
    vectors = vectors.astype(np.float32)
    norms = np.sqrt(np.einsum("ij,ij->i", vectors, vectors))  # no squared copy of the matrix
    vectors /= np.maximum(norms, 1e-9)[:, None]
    entry_of: dict[str, int] = {}
    for path, _, sha, group, _, _, _ in rows:  # every file: its own content, else its keeper
        entry = entry_of_sha.get(sha)
        if entry is None:
            entry = entry_of_sha.get(keeper_sha.get(group, ""))
        if entry is not None:
            entry_of[path] = entry
    return photos, vectors, entry_of


def _normalised(path: str, root: str) -> str:
    """A path as images.csv spells it: relative to the root, with forward slashes."""
    candidate = Path(path)
    if root and candidate.is_absolute():
        try:
            candidate = candidate.resolve().relative_to(Path(root).resolve())
        except ValueError:
            return path
    return candidate.as_posix()
