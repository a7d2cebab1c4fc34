"""What the report shows, gathered in one record: from the finished run in memory (the
pipeline), or from a run folder when `hygiene report` renders an earlier run again."""

from __future__ import annotations

import csv
import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from hygiene import catalog
from hygiene.categorize import CategorizeReport
from hygiene.duplicates import DuplicateReport
from hygiene.outputs.tables import (
    CATEGORIES_COLUMNS,
    DUPLICATES_COLUMNS,
    SIMILAR_COLUMNS,
    RunTables,
    duplicate_rows,
    images_text_table,
    similar_rows,
    text_value,
)
from hygiene.paths import to_text
from hygiene.records import RunTable


@dataclass(frozen=True)
class ReportData:
    record: dict[str, Any]  # run.json
    images: pa.Table  # images.csv's rows, every value as the file has it (text)
    duplicates: list[dict[str, str]]  # duplicates.csv rows
    similar: list[dict[str, str]]  # similar.csv rows
    review_reasons: dict[str, str]  # path -> why categorization asks for a review ("" if not)
    category_names: list[str]
    plan: dict[str, Any]  # plan.json's document
    embedding_paths: list[str]  # the categorized photos, and their CLIP vectors (one per row)
    embeddings: np.ndarray


def run_report_data(
    record: dict[str, Any],
    tables: RunTables,
    table: RunTable,
    duplicates: DuplicateReport,
    categories: CategorizeReport | None,
    plan: dict[str, Any],
) -> ReportData:
    """The report's data from the run that just finished: nothing is read back from disk."""
    paths, vectors, reasons = [], [], {}
    if categories is not None:
        for seq, rel_path in zip(table.seq.tolist(), table.rel_path, strict=True):
            if (item := categories.by_seq.get(seq)) is not None:
                text = to_text(rel_path)
                reasons[text] = item.verdict.reason
                paths.append(text)
                vectors.append(categories.vectors[categories.shas[item.representative_seq]])
    return ReportData(
        record,
        tables.images_text,
        _text_rows(DUPLICATES_COLUMNS, duplicate_rows(duplicates)),
        _text_rows(SIMILAR_COLUMNS, similar_rows(duplicates)),
        reasons,
        list(categories.names) if categories is not None else [],
        plan,
        paths,
        _matrix(vectors),
    )


def read_report_data(run_dir: Path, conn: sqlite3.Connection) -> ReportData:
    """The report's data from a run folder's files, for rendering an earlier run again."""
    record = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    images = _read_csv(run_dir / "images.csv")
    if images and "mtime_ns" not in images[0]:
        # A folder written before images.csv recorded mtimes: the catalog's (possibly newer)
        # record is the best there is.
        found = catalog.mtimes_for_root(conn, record["root"])
        mtimes = {to_text(path): mtime for path, mtime in found.items()}
        images = [{**row, "mtime_ns": mtimes.get(row["path"], "")} for row in images]
    header, categories = _read_csv_with_header(run_dir / "categories.csv")
    paths, vectors = _read_embeddings(run_dir / "embeddings.parquet")
    return ReportData(
        record,
        images_text_table(images),
        _read_csv(run_dir / "duplicates.csv"),
        _read_csv(run_dir / "similar.csv"),
        {row["path"]: row.get("reason", "") for row in categories},
        header[len(CATEGORIES_COLUMNS) :],
        json.loads((run_dir / "plan.json").read_text(encoding="utf-8")),
        paths,
        vectors,
    )


def _text_rows(
    columns: tuple[str, ...], rows: Iterable[tuple[object, ...]]
) -> list[dict[str, str]]:
    return [
        {name: text_value(value) for name, value in zip(columns, row, strict=True)} for row in rows
    ]


def _matrix(vectors: list[np.ndarray]) -> np.ndarray:
    return np.array(vectors, dtype=np.float32) if vectors else np.zeros((0, 0), np.float32)


def _read_csv(path: Path) -> list[dict[str, str]]:
    return _read_csv_with_header(path)[1]


def _read_csv_with_header(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    if not path.is_file():
        return [], []
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def _read_embeddings(path: Path) -> tuple[list[str], np.ndarray]:
    if not path.is_file():
        return [], _matrix([])
    table = pq.read_table(path)
    vectors = [np.asarray(v, np.float32) for v in table.column("vector").to_pylist()]
    return table.column("path").to_pylist(), _matrix(vectors)
