"""Write a run's machine-readable outputs: images.csv, images.parquet and summary counts.

Rows come from the run's RunTable in discovery order and are written in chunks; the quality
flags are the run's flag columns (scan.flag_columns), derived from the stored raw metrics.
Every path is written in its text form (hygiene.paths.to_text), which any file name has.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from hygiene.categorize import CategorizeReport, Labelled
from hygiene.duplicates import DuplicateReport, Member
from hygiene.paths import to_text
from hygiene.records import RunTable

IMAGES_COLUMNS: tuple[str, ...] = (
    "path",
    "status",
    "error",
    "size_bytes",
    "sha256",
    "width",
    "height",
    "format",
    "taken_at",
    "dup_group",
    "dup_kind",
    "keeper",
    "dark",
    "bright",
    "blurry",
    "brightness",
    "blur",
    "category",
    "confidence",
    "margin",
    "uncertain",
    "action",
    "mtime_ns",
)
DUPLICATES_COLUMNS = (
    "group",
    "kind",
    "path",
    "distance",
    "keeper",
    "size_bytes",
    "reason",
    "rationale",
)
SIMILAR_COLUMNS = ("cluster", "path", "taken_at")
CATEGORIES_COLUMNS = ("path", "category", "best", "confidence", "margin", "uncertain", "reason")
_PARQUET_SCHEMA = pa.schema(
    [
        ("path", pa.string()),
        ("status", pa.string()),
        ("error", pa.string()),
        ("size_bytes", pa.int64()),
        ("sha256", pa.string()),
        ("width", pa.int32()),
        ("height", pa.int32()),
        ("format", pa.string()),
        ("taken_at", pa.string()),
        ("dup_group", pa.int64()),
        ("dup_kind", pa.string()),
        ("keeper", pa.bool_()),
        ("dark", pa.bool_()),
        ("bright", pa.bool_()),
        ("blurry", pa.bool_()),
        ("brightness", pa.float32()),
        ("blur", pa.float32()),
        ("category", pa.string()),
        ("confidence", pa.float32()),
        ("margin", pa.float32()),
        ("uncertain", pa.bool_()),
        ("action", pa.string()),
        ("mtime_ns", pa.int64()),
    ]
)
_TEXT_SCHEMA = pa.schema([(name, pa.string()) for name in IMAGES_COLUMNS])
# Rows built, written and converted at a time: each costs about 3 KB while it is (a dict, its
# text, its Arrow row; on 10,000 files the traced peak fell from 80 to 57 MiB when chunks went
# from all the rows to 2,000), so this bounds the stage's working memory, not the run's length.
_CHUNK_ROWS = 2_000


# Every status a file can have, in the order summaries list them: ok (a readable image), corrupt
# (really broken), unverified (not checked: over a cap, timed out, crashed the decoder; retried
# on the next run), skipped (not an image, a link, unreadable).
STATUSES: tuple[str, ...] = ("ok", "damaged", "corrupt", "unverified", "skipped")


def _per_status() -> Counter[str]:
    return Counter(dict.fromkeys(STATUSES, 0))  # run.json lists every status, even at 0


@dataclass
class RunSummary:
    files: int = 0
    duplicate_groups: int = 0
    duplicate_files: int = 0  # files a plan could remove (not keepers, not protected)
    reclaimable_bytes: int = 0
    similar_clusters: int = 0
    categories: Counter[str] = field(default_factory=Counter)
    bytes_total: int = 0
    by_status: Counter[str] = field(default_factory=_per_status)
    bytes_by_status: Counter[str] = field(default_factory=_per_status)
    flags: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class RunTables:
    """What write_outputs wrote: the summary counts, and images.csv's rows as text (every column
    a string, exactly as in the file) for the report."""

    summary: RunSummary
    images_text: pa.Table


def write_outputs(
    table: RunTable,
    flags: dict[str, np.ndarray],
    out_dir: Path,
    duplicates: DuplicateReport,
    categories: CategorizeReport | None,
    actions: dict[str, str],
) -> RunTables:
    summary = RunSummary()
    _write_duplicates(duplicates, out_dir, summary)
    members = duplicates.members_by_seq()
    labels = categories.by_seq if categories is not None else {}
    labelled_paths: list[tuple[str, int]] = []
    text_chunks: list[pa.Table] = []
    csv_path, parquet_path = out_dir / "images.csv", out_dir / "images.parquet"
    with (
        csv_path.open("w", newline="", encoding="utf-8") as csv_file,
        pq.ParquetWriter(parquet_path, _PARQUET_SCHEMA) as parquet,
    ):
        writer = csv.writer(csv_file, lineterminator="\n")
        writer.writerow(IMAGES_COLUMNS)
        rows = _image_rows(table, flags, summary, members, labels, labelled_paths)
        rows = (
            {
                **row,
                "path": to_text(str(row["path"])),
                "action": actions.get(str(row["path"]), "keep"),
            }
            for row in rows
        )
        for chunk in _chunks(rows, _CHUNK_ROWS):
            # by column: one conversion per value, not a dict per row per format
            columns = {name: [row[name] for row in chunk] for name in IMAGES_COLUMNS}
            text = {name: [text_value(v) for v in values] for name, values in columns.items()}
            writer.writerows(zip(*text.values(), strict=True))
            parquet.write_table(pa.table(columns, schema=_PARQUET_SCHEMA))
            text_chunks.append(pa.table(text, schema=_TEXT_SCHEMA))
    if categories is not None:
        _write_categories(categories, labelled_paths, out_dir, summary)
    images_text = pa.concat_tables(text_chunks) if text_chunks else images_text_table([])
    return RunTables(summary, images_text)


def images_text_table(rows: list[dict[str, object]]) -> pa.Table:
    """images.csv rows (as written, or as read back) as a table of strings."""
    return pa.Table.from_pylist(
        [{name: text_value(row.get(name)) for name in IMAGES_COLUMNS} for row in rows],
        schema=_TEXT_SCHEMA,
    )


def _write_categories(
    report: CategorizeReport, labelled: list[tuple[str, int]], out_dir: Path, summary: RunSummary
) -> None:
    """categories.csv (every category's probability per image) and embeddings.parquet."""
    with (out_dir / "categories.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow([*CATEGORIES_COLUMNS, *report.names])
        for path, seq in labelled:
            item = report.by_seq[seq]
            verdict = item.verdict
            summary.categories[verdict.category] += 1
            writer.writerow(
                [
                    to_text(path),
                    verdict.category,
                    verdict.best,
                    round(verdict.confidence, 4),
                    round(verdict.margin, 4),
                    _csv_value(verdict.uncertain),
                    verdict.reason,
                    *(round(float(p), 4) for p in item.probabilities),
                ]
            )
    schema = pa.schema([("path", pa.string()), ("vector", pa.list_(pa.float32()))])
    rows_by_seq = {seq: to_text(path) for path, seq in labelled}
    with pq.ParquetWriter(out_dir / "embeddings.parquet", schema) as parquet:
        for start in range(0, len(labelled), _CHUNK_ROWS):
            chunk = labelled[start : start + _CHUNK_ROWS]
            vectors = [
                report.vectors[report.shas[report.by_seq[seq].representative_seq]]
                for _, seq in chunk
            ]
            parquet.write_table(
                pa.table(
                    {
                        "path": [rows_by_seq[seq] for _, seq in chunk],
                        "vector": [v.astype(np.float32) for v in vectors],
                    },
                    schema=schema,
                )
            )


def _image_rows(
    table: RunTable,
    flags: dict[str, np.ndarray],
    summary: RunSummary,
    members: dict[int, Member],
    labels: dict[int, Labelled],
    labelled_paths: list[tuple[str, int]],
) -> Iterator[dict[str, object]]:
    summary.files = len(table)
    summary.bytes_total = int(table.size_bytes.sum())
    raised = {name: int(column.sum()) for name, column in flags.items()}
    summary.flags.update({name: count for name, count in raised.items() if count})
    # plain lists: indexing a numpy array gives a numpy scalar, slow to make one value at a time
    brightness, blur = table.quality["luma_mean"].tolist(), table.quality["blur"].tolist()
    sizes, mtimes = table.size_bytes.tolist(), table.mtime_ns.tolist()
    flag_lists = {name: column.tolist() for name, column in flags.items()}
    for index, seq in enumerate(table.seq.tolist()):
        rel_path, status = table.rel_path[index], table.status[index]
        size_bytes = sizes[index]
        row: dict[str, object] = dict.fromkeys(IMAGES_COLUMNS)
        row.update(
            path=rel_path,
            status=status,
            error=table.error[index],
            size_bytes=size_bytes,
            sha256=table.sha256[index],
            mtime_ns=mtimes[index],
        )
        summary.by_status[status] += 1
        summary.bytes_by_status[status] += size_bytes
        if (facts := table.facts[index]) is not None:
            row.update(
                width=facts.width,
                height=facts.height,
                format=facts.format,
                taken_at=facts.taken_at,
                brightness=round(brightness[index], 4),
                blur=round(blur[index], 4),
                **{name: bool(column[index]) for name, column in flag_lists.items()},
            )
        if (member := members.get(seq)) is not None:
            row.update(dup_group=member.group, dup_kind=member.kind, keeper=member.keeper)
        if (label := labels.get(seq)) is not None:
            verdict = label.verdict
            row.update(
                category=verdict.category,
                confidence=round(verdict.confidence, 4),
                margin=round(verdict.margin, 4),
                uncertain=verdict.uncertain,
            )
            labelled_paths.append((rel_path, seq))
        yield row


def duplicate_rows(report: DuplicateReport) -> Iterator[tuple[object, ...]]:
    """duplicates.csv rows (DUPLICATES_COLUMNS), keeper flags as booleans."""
    for group in report.groups:
        for member in group.members:
            yield (
                group.group,
                member.kind,
                to_text(member.rel_path),
                member.distance,
                member.keeper,
                member.size_bytes,
                member.reason,
                group.rationale,
            )


def similar_rows(report: DuplicateReport) -> Iterator[tuple[object, ...]]:
    """similar.csv rows (SIMILAR_COLUMNS)."""
    for cluster_id, cluster in enumerate(report.similar, start=1):
        for shot in cluster:
            yield cluster_id, to_text(shot.rel_path), shot.taken_at


def _write_duplicates(report: DuplicateReport, out_dir: Path, summary: RunSummary) -> None:
    summary.duplicate_groups = len(report.groups)
    summary.duplicate_files = len(report.removable)
    summary.reclaimable_bytes = sum(m.size_bytes for m in report.removable)
    summary.similar_clusters = len(report.similar)
    for name, columns, rows in (
        ("duplicates.csv", DUPLICATES_COLUMNS, duplicate_rows(report)),
        ("similar.csv", SIMILAR_COLUMNS, similar_rows(report)),
    ):
        with (out_dir / name).open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(columns)
            writer.writerows([_csv_value(value) for value in row] for row in rows)


def text_value(value: object) -> str:
    """A value as the CSV files write it."""
    return str(_csv_value(value))


def _csv_value(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _chunks(rows: Iterator[dict[str, object]], size: int) -> Iterator[list[dict[str, object]]]:
    chunk: list[dict[str, object]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
