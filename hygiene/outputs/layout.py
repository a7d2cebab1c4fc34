"""The 3D layout of a run's searchable photos (the app's cluster cloud), kept in the run folder
as cloud3d.npz: each photo's content hash and its three coordinates, plus which photos (a key)
and how they were placed. The app writes it; the report reads it for its map when it exists."""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FILE_NAME = "cloud3d.npz"


@dataclass(frozen=True)
class Layout:
    key: str  # which photos, in which order, under which model
    method: str  # "umap" or "pca"
    shas: list[str]
    positions: np.ndarray  # (len(shas), 3) float32, centred, within [-1, 1]


def read_layout(run_dir: Path) -> Layout | None:
    """The run's layout, or None when there is none (or it cannot be read)."""
    try:
        with np.load(run_dir / FILE_NAME, allow_pickle=False) as stored:
            shas = [str(sha) for sha in stored["shas"].tolist()]
            positions = np.asarray(stored["positions"], np.float32)
            key, method = str(stored["key"]), str(stored["method"])
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return None
    if positions.shape != (len(shas), 3):
        return None
    return Layout(key, method, shas, positions)


def write_layout(run_dir: Path, layout: Layout) -> None:
    """Write by rename; a read-only run folder only means the layout is computed again."""
    partial = run_dir / (FILE_NAME + ".partial")
    try:
        with partial.open("wb") as handle:
            np.savez(
                handle,
                key=np.array(layout.key),
                method=np.array(layout.method),
                shas=np.array(layout.shas, dtype="U64"),
                positions=layout.positions.astype(np.float32),
            )
        os.replace(partial, run_dir / FILE_NAME)
    except OSError:
        partial.unlink(missing_ok=True)
