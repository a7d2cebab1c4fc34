"""What a run can search: its embedded photos, their unit vectors and what a result shows.

A run's embeddings live in the catalog (per content and model), filled by the categorize stage
for the photos that survive deduplication: each duplicate group is represented by its keeper,
whose result row counts the group's copies. Exact copies (the same bytes) are one entry.
"""

from __future__ import annotations

import csv
import json
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
            stored = catalog.embeddings(conn, model_id, sorted({row["sha256"] for row in rows}))
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


def _read_rows(images_path: Path) -> list[dict[str, str]]:
    try:
        with images_path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, csv.Error, UnicodeDecodeError) as exc:
        raise SearchError(f"cannot read {images_path}: {exc}") from None
    return [row for row in rows if row.get("status") in READABLE and row.get("sha256")]


def _entries(
    rows: list[dict[str, str]], stored: dict[str, bytes], run_dir: Path
) -> tuple[list[Photo], np.ndarray, dict[str, int]]:
    group_size = Counter(row["dup_group"] for row in rows if row.get("dup_group"))
    keeper_sha = {
        row["dup_group"]: row["sha256"]
        for row in rows
        if row.get("dup_group") and row.get("keeper") == "true"
    }
    photos: list[Photo] = []
    vectors: list[np.ndarray] = []
    entry_of_sha: dict[str, int] = {}
    for row in rows:  # entries first: the embedded contents, each once, in the run's order
        sha = row["sha256"]
        if sha in stored and sha not in entry_of_sha:
            entry_of_sha[sha] = len(photos)
            thumbnail = run_dir / "thumbs" / f"{sha}.webp"
            photos.append(
                Photo(
                    path=row["path"],
                    sha256=sha,
                    category=row.get("category", ""),
                    taken_at=row.get("taken_at", ""),
                    thumbnail=str(thumbnail) if thumbnail.is_file() else "",
                    copies=group_size.get(row.get("dup_group", ""), 1),
                )
            )
            vector = np.frombuffer(stored[sha], dtype=np.float16).astype(np.float32)
            vectors.append(vector / max(float(np.linalg.norm(vector)), 1e-9))
    entry_of: dict[str, int] = {}
    for row in rows:  # then every file: its own content, else its group's keeper
        entry = entry_of_sha.get(row["sha256"])
        if entry is None:
            entry = entry_of_sha.get(keeper_sha.get(row.get("dup_group", ""), ""))
        if entry is not None:
            entry_of[row["path"]] = entry
    return photos, np.stack(vectors), entry_of


def _normalised(path: str, root: str) -> str:
    """A path as images.csv spells it: relative to the root, with forward slashes."""
    candidate = Path(path)
    if root and candidate.is_absolute():
        try:
            candidate = candidate.resolve().relative_to(Path(root).resolve())
        except ValueError:
            return path
    return candidate.as_posix()
