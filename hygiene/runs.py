"""Run folders: naming, placement and the run.json record beside the outputs."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from hygiene import __version__
from hygiene.categorize import CategorizeReport
from hygiene.config import Config
from hygiene.export import RunSummary
from hygiene.pipeline import ScanStats


class RunFolderError(ValueError):
    """The requested output folder cannot be used; str() says why."""


def new_run_id(now: datetime | None = None) -> str:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{secrets.token_hex(2)}"


def prepare_run_folder(root: Path, out: Path | None, config: Config, run_id: str) -> Path:
    """Create the folder a scan writes to; refuse one inside the archive (scan is read-only)."""
    folder = (out if out is not None else Path(config.output.reports_dir) / run_id).resolve()
    if folder == root or root in folder.parents:
        raise RunFolderError(
            f"the output folder {folder} is inside the archive {root}; "
            "scan never writes into the archive: pass --out with a folder outside it"
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunFolderError(f"cannot create output folder {folder}: {exc.strerror}") from None
    if not os.access(folder, os.W_OK):
        raise RunFolderError(f"output folder {folder} is not writable")
    return folder


def write_run_record(
    folder: Path,
    *,
    run_id: str,
    root: Path,
    catalog_path: Path,
    config: Config,
    stats: ScanStats,
    summary: RunSummary,
    started_at: datetime,
    categories: CategorizeReport | None,
    clip_status: str,
) -> Path:
    record = {
        "tool": "hygiene",
        "version": __version__,
        "run_id": run_id,
        "root": str(root),
        "catalog": str(catalog_path),
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
            "distribution": dict(summary.categories),
        },
    }
    path = folder / "run.json"
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return path
