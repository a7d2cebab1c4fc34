"""Run folders: naming, placement and the run.json record beside the outputs."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from hygiene import __version__
from hygiene.catalog import describe
from hygiene.categorize import CategorizeReport
from hygiene.config import Config
from hygiene.outputs.tables import RunSummary
from hygiene.scan import ScanStats


class RunFolderError(ValueError):
    """The requested output folder cannot be used; str() says why."""


def new_run_id(now: datetime | None = None) -> str:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{secrets.token_hex(2)}"


RUN_MARKER = ".hygiene-run"


def prepare_run_folder(
    root: Path, out: Path | None, config: Config, run_id: str, catalog_path: Path | str
) -> Path:
    """Create (or reuse) the folder a scan writes to.

    A run folder may only hold hygiene's own output: it must be new, empty, or marked as a
    hygiene run folder. It may not be inside the archive or contain it (scan never writes into
    the archive, and a report rewritten into a folder of photos must not touch them), and the
    catalog may not live inside the archive either.
    """
    folder = (out if out is not None else Path(config.output.reports_dir) / run_id).resolve()
    if folder == root or root in folder.parents:
        raise RunFolderError(
            f"the output folder {folder} is inside the archive {root}; "
            "scan never writes into the archive: pass --out with a folder outside it"
        )
    if folder in root.parents:
        raise RunFolderError(
            f"the output folder {folder} contains the archive {root}; "
            "pass --out with a new or empty folder outside the archive"
        )
    inside = isinstance(catalog_path, Path) and (
        catalog_path == root or root in catalog_path.parents
    )
    if inside:
        raise RunFolderError(
            f"the catalog {catalog_path} is inside the archive {root}; "
            "pass --catalog with a path outside it"
        )
    check_run_folder(folder, allow_new=True)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / RUN_MARKER).write_text(
            "This folder was made by hygiene; it holds only hygiene's output.\n", encoding="utf-8"
        )
    except OSError as exc:
        raise RunFolderError(f"cannot create output folder {folder}: {exc.strerror}") from None
    if not os.access(folder, os.W_OK):
        raise RunFolderError(f"output folder {folder} is not writable")
    return folder


def check_run_folder(folder: Path, *, allow_new: bool = False) -> None:
    """Refuse a folder that holds anything hygiene did not make (RunFolderError says why)."""
    if not folder.exists() and not folder.is_symlink():
        if allow_new:
            return
        raise RunFolderError(f"{folder} does not exist")
    if folder.is_symlink() or not folder.is_dir():
        raise RunFolderError(f"{folder} is not a folder; pass a new or empty folder")
    if (folder / RUN_MARKER).is_file() or _legacy_run_folder(folder):
        return
    try:
        empty = next(os.scandir(folder), None) is None
    except OSError as exc:
        raise RunFolderError(f"cannot read {folder}: {exc.strerror}") from None
    if not empty:
        raise RunFolderError(
            f"{folder} already holds files that hygiene did not write; "
            "pass a new or empty folder (hygiene only reuses folders it made)"
        )


def _legacy_run_folder(folder: Path) -> bool:
    """A run folder of hygiene 0.1, made before the marker existed: its run.json says so."""
    try:
        record = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and record.get("tool") == "hygiene" and "run_id" in record


def write_run_record(
    folder: Path,
    *,
    run_id: str,
    root: Path,
    catalog_path: Path | str,
    config: Config,
    stats: ScanStats,
    summary: RunSummary,
    started_at: datetime,
    categories: CategorizeReport | None,
    clip_status: str,
) -> dict[str, object]:
    """Write run.json and return what it holds."""
    record: dict[str, object] = {
        "tool": "hygiene",
        "version": __version__,
        "run_id": run_id,
        "root": str(root),
        "catalog": describe(catalog_path),
        "started_at": started_at.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
        "config_sources": list(config.sources),
        "scan": asdict(stats),
        "files": summary.files,
        "bytes": summary.bytes_total,
        "by_status": dict(summary.by_status),
        "bytes_by_status": dict(summary.bytes_by_status),
        "flags": dict(summary.flags),
        "duplicates": {
            "groups": summary.duplicate_groups,
            "removable_files": summary.duplicate_files,
            "reclaimable_bytes": summary.reclaimable_bytes,
            "similar_clusters": summary.similar_clusters,
        },
        "categorization": {
            "skipped": categories is None,
            "status": clip_status,
            "model": categories.model_id if categories else None,
            "embedded": categories.embedded if categories else 0,
            "from_cache": categories.from_cache if categories else 0,
            "model_loaded": categories.model_loaded if categories else False,
            "distribution": dict(summary.categories),
        },
    }
    (folder / "run.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return record
