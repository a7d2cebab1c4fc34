"""The 3D cluster cloud: each searchable photo of a run placed in three dimensions by UMAP of its
CLIP embedding (cosine metric, fixed seed), computed once per run and kept in the run folder
(hygiene.outputs.layout), where the report's map finds it too.

Distances in the cloud are approximate (UMAP keeps neighbourhoods, not distances); search scores
stay exact. A library too small for UMAP's neighbourhood graph is placed by PCA instead.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass

import numpy as np

from hygiene.outputs.layout import Layout, read_layout, write_layout
from hygiene.search.library import Library

_SEED = 42
_NEIGHBOURS = 15
_MIN_FOR_UMAP = 16  # below this the neighbourhood graph is the whole library: PCA says as much


@dataclass(frozen=True)
class Cloud:
    positions: np.ndarray  # (photos, 3) float32, centred, within [-1, 1]
    method: str  # "umap" or "pca"


def library_key(library: Library) -> str:
    """Which photos, in which order, under which model: a layout is valid for these only."""
    digest = hashlib.sha256(library.model_id.encode())
    for photo in library.photos:
        digest.update(bytes.fromhex(photo.sha256))
    return digest.hexdigest()


def cloud_for(library: Library) -> Cloud:
    """The run's cached layout, else a new one (written beside the run's other outputs)."""
    key = library_key(library)
    cached = read_layout(library.run_dir)
    if cached is not None and cached.key == key:
        return Cloud(cached.positions, cached.method)
    vectors = np.stack([library.vector(entry) for entry in range(len(library.photos))])
    cloud = layout(vectors)
    shas = [photo.sha256 for photo in library.photos]
    write_layout(library.run_dir, Layout(key, cloud.method, shas, cloud.positions))
    return cloud


def layout(vectors: np.ndarray) -> Cloud:
    """Three coordinates per unit vector, scaled into [-1, 1]."""
    if len(vectors) < _MIN_FOR_UMAP:
        points, method = _pca(vectors), "pca"
    else:
        import umap  # slow to import (numba): only when a layout is computed

        reducer = umap.UMAP(
            n_components=3,
            metric="cosine",
            n_neighbors=min(_NEIGHBOURS, len(vectors) - 1),
            random_state=_SEED,
        )
        with warnings.catch_warnings():  # "n_jobs overridden by random_state": wanted here
            warnings.filterwarnings("ignore", category=UserWarning, module="umap")
            points, method = reducer.fit_transform(vectors), "umap"
    points = np.asarray(points, dtype=np.float32)
    points -= points.mean(axis=0) if len(points) else 0
    scale = float(np.abs(points).max()) if points.size else 0.0
    return Cloud(points / scale if scale > 0 else points, method)


def _pca(vectors: np.ndarray) -> np.ndarray:
    centred = vectors - vectors.mean(axis=0)
    if len(vectors) < 2:
        return np.zeros((len(vectors), 3), np.float32)
    _, _, axes = np.linalg.svd(centred, full_matrices=False)
    points = centred @ axes[:3].T
    return np.pad(points, ((0, 0), (0, 3 - points.shape[1])))
