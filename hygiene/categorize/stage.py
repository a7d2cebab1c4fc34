"""The categorization stage: embed the survivors with CLIP, score them against the categories.

Only survivors are embedded: readable images, one per duplicate group (the keeper; the group's
other files share its category) and one per distinct content. The input is the WebP thumbnail
the scan already decoded, so no file is decoded twice, unless the model's input is larger than
a thumbnail (see inputs.py). Model inputs are prepared by a thread pool while the model runs on
the previous batch. Embeddings are cached in the catalog per content and model, and prompt
embeddings per model, so a re-run embeds only new files and changing prompts or thresholds
re-scores without re-embedding.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from hygiene import catalog
from hygiene.categorize.classify import CategorySet, Verdict, decide, probabilities, text_matrix
from hygiene.categorize.embed import ClipModel, ModelSource, default_batch_size
from hygiene.categorize.inputs import ModelInputs, Originals
from hygiene.duplicates import DuplicateReport
from hygiene.records import ImageRow

_PREFETCH_BATCHES = 2


@dataclass(frozen=True, slots=True)
class Labelled:
    verdict: Verdict
    probabilities: np.ndarray  # one per category, in CategorySet order
    representative_seq: int  # the file whose embedding decided (itself, or its group's keeper)


@dataclass
class CategorizeReport:
    model_id: str
    names: list[str]
    by_seq: dict[int, Labelled] = field(default_factory=dict)
    vectors: dict[str, np.ndarray] = field(default_factory=dict)  # sha256 -> embedding
    shas: dict[int, str] = field(default_factory=dict)  # seq -> sha256, for labelled files
    embedded: int = 0
    from_cache: int = 0
    model_loaded: bool = False  # False when everything came from the catalog's caches


def representatives(rows: list[ImageRow], duplicates: DuplicateReport) -> dict[int, ImageRow]:
    """seq -> the row whose embedding labels it (a group's keeper labels the whole group)."""
    by_seq = {row.seq: row for row in rows}
    keeper_of = {m.seq: group.keeper_seq for group in duplicates.groups for m in group.members}
    return {row.seq: by_seq[keeper_of.get(row.seq, row.seq)] for row in rows}


def categorize(
    conn: sqlite3.Connection,
    rows: list[ImageRow],
    duplicates: DuplicateReport,
    model: ClipModel | ModelSource,
    categories: CategorySet,
    *,
    batch_size: int,
    workers: int,
    thumbnail_px: int,
    originals: Originals | None = None,
    on_batch: Callable[[int], None] = lambda n: None,
) -> CategorizeReport:
    """Label the survivors; a ModelSource is loaded only if an embedding, a prompt embedding or
    the model's logit scale is missing from the catalog. `batch_size` 0 takes the loaded
    model's device default. `originals` lets a model whose input exceeds `thumbnail_px` read
    the files themselves; without it every model sees thumbnails."""
    source = model if isinstance(model, ModelSource) else ModelSource.of(model)
    report = CategorizeReport(source.model_id, [c.name for c in categories.categories])
    chosen = representatives(rows, duplicates)
    needed = sorted({row.sha256 for row in chosen.values()})
    cached = catalog.embeddings(conn, source.model_id, needed)
    report.vectors = {sha: _vector(blob) for sha, blob in cached.items()}
    report.from_cache = len(cached)
    missing = [sha for sha in needed if sha not in cached]
    if missing:
        clip = source.get()
        size = batch_size or default_batch_size(clip.device)
        inputs = ModelInputs(clip.input_px, thumbnail_px, originals)
        for shas, batch in _prepared_batches(conn, missing, inputs, clip.preprocess, size, workers):
            blobs = {
                sha: embedding_blob(v)
                for sha, v in zip(shas, clip.encode_images(batch), strict=True)
            }
            catalog.record_embeddings(conn, source.model_id, blobs)
            # Score what the cache will hold, so a re-run from the cache gives the same numbers.
            fresh = {sha: _vector(blob) for sha, blob in blobs.items()}
            report.vectors.update(fresh)
            report.embedded += len(shas)
            on_batch(len(shas))
    texts = text_matrix(categories, lambda prompts: _text_vectors(conn, source, prompts))
    labelled_shas = [sha for sha in needed if sha in report.vectors]
    if labelled_shas:
        scale = _logit_scale(conn, source)
        matrix = np.stack([report.vectors[sha] for sha in labelled_shas])
        verdicts = decide(matrix, texts, scale, categories)
        probs = probabilities(matrix, texts, scale)
        by_sha = {sha: (v, p) for sha, v, p in zip(labelled_shas, verdicts, probs, strict=True)}
        for seq, rep in chosen.items():
            if rep.sha256 in by_sha:
                verdict, prob = by_sha[rep.sha256]
                report.by_seq[seq] = Labelled(verdict, prob, rep.seq)
                report.shas[rep.seq] = rep.sha256
    report.model_loaded = source.loaded
    return report


def _logit_scale(conn: sqlite3.Connection, source: ModelSource) -> float:
    if not source.loaded and (known := catalog.logit_scale(conn, source.model_id)) is not None:
        return known
    scale = source.get().logit_scale
    catalog.record_logit_scale(conn, source.model_id, scale)
    return scale


def _prepared_batches(
    conn: sqlite3.Connection,
    shas: list[str],
    inputs: ModelInputs,
    preprocess: Callable[[Image.Image], Any],
    batch_size: int,
    workers: int,
) -> Iterator[tuple[list[str], Any]]:
    """Batches of model-ready tensors, prepared ahead by threads while the model works.

    An image that cannot be read is left out of its batch together with its own hash, so a
    late failure never shifts labels onto other files.
    """
    import torch

    database = catalog.location_of(conn)
    local = threading.local()

    def conn_for_thread() -> sqlite3.Connection:
        if not hasattr(local, "conn"):
            local.conn = catalog.open_catalog_readonly(catalog.location(database))
        return local.conn

    def prepare(sha: str) -> Any:
        image = inputs.image(sha, lambda key: catalog.thumbnail(conn_for_thread(), key))
        return None if image is None else preprocess(image)

    chunks = [shas[i : i + batch_size] for i in range(0, len(shas), batch_size)]
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        pending: deque[tuple[list[str], list[Future[Any]]]] = deque()
        upcoming = iter(chunks)
        for chunk in upcoming:
            pending.append((chunk, [pool.submit(prepare, sha) for sha in chunk]))
            if len(pending) > _PREFETCH_BATCHES:
                break
        while pending:
            chunk, futures = pending.popleft()
            nxt = next(upcoming, None)
            if nxt is not None:
                pending.append((nxt, [pool.submit(prepare, sha) for sha in nxt]))
            ready = [(sha, f.result()) for sha, f in zip(chunk, futures, strict=True)]
            ready = [(sha, tensor) for sha, tensor in ready if tensor is not None]
            if ready:
                yield [sha for sha, _ in ready], torch.stack([tensor for _, tensor in ready])


def _text_vectors(conn: sqlite3.Connection, source: ModelSource, prompts: list[str]) -> np.ndarray:
    cached = catalog.text_embeddings(conn, source.model_id, prompts)
    missing = [p for p in dict.fromkeys(prompts) if p not in cached]
    if missing:
        vectors = source.get().encode_texts(missing)
        fresh = {p: embedding_blob(v) for p, v in zip(missing, vectors, strict=True)}
        catalog.record_text_embeddings(conn, source.model_id, fresh)
        cached.update(fresh)
    return np.stack([_vector(cached[p]) for p in prompts])


def embedding_blob(vector: np.ndarray) -> bytes:
    """An embedding as the catalog stores it (float16)."""
    return vector.astype(np.float16).tobytes()


def _vector(blob: bytes) -> np.ndarray:
    vector = np.frombuffer(blob, dtype=np.float16).astype(np.float32)
    return vector / max(float(np.linalg.norm(vector)), 1e-9)
