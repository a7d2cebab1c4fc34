"""The categorization stage's CLIP embedding on a Ray cluster.

The survivors whose embeddings the catalog lacks are embedded by actors, one model each: one
actor per GPU where the cluster has GPUs, otherwise CPU actors of a few cores each. An actor
reads the survivors' thumbnails (or originals, for a model wider than a thumbnail) the way the
local stage does (hygiene.categorize.inputs), and writes the embeddings, the prompt embeddings
and the model's logit scale into the shared catalog. The driver then labels every photo from
the catalog, as a re-run does, without loading the model itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hygiene import catalog
from hygiene.categorize.inputs import ModelInputs, Original, Originals
from hygiene.paths import from_text, to_text
from hygiene.records import ImageRow

_ROW_COLUMNS = ("sha256", "rel_path", "size_bytes", "width", "height")
_CPU_ACTOR_CORES = 4  # torch's threads per CPU actor: past a few, a second model beats more


@dataclass(frozen=True)
class EmbedJob:
    """What every actor needs to embed like the local stage."""

    catalog: str  # the shared catalog's URL
    model_id: str  # the key the driver reads the embeddings under
    model: str  # ARCH:PRETRAINED, or ""
    model_path: str
    device: str  # "auto": the actor's own best device
    allow_download: bool
    thumbnail_px: int
    prompts: tuple[str, ...]  # every prompt the categories use
    root: str  # where a model wider than a thumbnail reads the originals
    max_pixels: int


def embed_on_cluster(
    survivors: list[ImageRow], job: EmbedJob, batch_size: int, on_batch: Callable[[int], None]
) -> None:
    """Embed these survivors' contents on the cluster into the catalog, in this order
    (batch_size 0: the device's default). Each row travels with its batch, so an actor
    holds no list of the archive."""
    import ray
    import ray.data

    from hygiene.categorize.embed import default_batch_size

    gpus = int(ray.cluster_resources().get("GPU", 0))
    cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
    if gpus:
        actors, resources = gpus, {"num_gpus": 1, "num_cpus": 1}
        size = batch_size or default_batch_size("cuda")
    else:
        cores = min(_CPU_ACTOR_CORES, cpus)
        actors, resources = max(1, cpus // cores), {"num_cpus": cores}
        size = batch_size or default_batch_size("cpu")
    items = [
        {
            "sha256": row.sha256,
            "rel_path": to_text(row.rel_path),
            "size_bytes": row.size_bytes,
            "width": row.facts.width,
            "height": row.facts.height,
        }
        for row in survivors
    ]
    blocks = max(1, -(-len(items) // size))
    dataset = ray.data.from_items(items, override_num_blocks=blocks).map_batches(
        Embedder,
        fn_constructor_kwargs={"job": job},
        batch_size=size,
        concurrency=actors,
        **resources,
    )
    for done in dataset.iter_batches(batch_size=None, batch_format="numpy"):
        on_batch(int(done["embedded"].sum()))


class Embedder:
    """A Ray actor holding one CLIP model."""

    def __init__(self, job: EmbedJob) -> None:
        from hygiene.categorize.embed import load_model, pick_device
        from hygiene.categorize.stage import embedding_blob

        self._job = job
        self._clip = load_model(
            job.model, job.model_path, pick_device(job.device), allow_download=job.allow_download
        )
        self._conn = catalog.open_catalog(catalog.location(job.catalog))
        prompts = list(dict.fromkeys(job.prompts))
        vectors = zip(prompts, self._clip.encode_texts(prompts), strict=True)
        catalog.record_text_embeddings(
            self._conn, job.model_id, {p: embedding_blob(v) for p, v in vectors}
        )
        catalog.record_logit_scale(self._conn, job.model_id, self._clip.logit_scale)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        import torch

        from hygiene.categorize.stage import embedding_blob

        def thumbnail(sha: str) -> bytes | None:
            return catalog.thumbnail(self._conn, sha)

        job, columns = self._job, (batch[name] for name in _ROW_COLUMNS)
        originals = Originals(
            Path(job.root),
            {
                str(sha): Original(from_text(str(text)), int(size), int(width), int(height))
                for sha, text, size, width, height in zip(*columns, strict=True)
            },
            job.max_pixels,
        )
        inputs = ModelInputs(self._clip.input_px, job.thumbnail_px, originals)
        ready: list[tuple[str, Any]] = []
        for sha in map(str, batch["sha256"]):
            image = inputs.image(sha, thumbnail)
            if image is not None:  # unreadable now: left out, as the local stage does
                ready.append((sha, self._clip.preprocess(image)))
        if ready:
            vectors = self._clip.encode_images(torch.stack([tensor for _, tensor in ready]))
            blobs = {sha: embedding_blob(v) for (sha, _), v in zip(ready, vectors, strict=True)}
            catalog.record_embeddings(self._conn, self._job.model_id, blobs)
        return {"embedded": np.array([len(ready)])}
