"""Warm search latency (issue 14): a text query end to end in a long-lived process, as the local
app runs it: the CLIP text encoder already loaded, the library's index already open.

Not a test: run it by hand and read the figures. The library is synthetic (clustered unit
vectors, as CLIP places photos of a few thousand scenes) and the model has random weights (the
cost of a forward pass does not depend on them). Each query is timed from its text to the cut
ranking: tokenizing, the text encoder, the index search, the floor.

    .venv/bin/python bench/search_latency.py [--photos 100000] [--model ViT-B-32]
        [--graph] [--queries 50] [--threads 2]

--graph builds the HNSW graph (ann_min_photos 0) instead of searching exactly.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from hygiene.config import SearchSettings
from hygiene.search.index import VectorIndex, sync
from hygiene.search.library import Library, Photo
from hygiene.search.rank import rank

_SCENES = 20_000


def clustered(count: int, dims: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((_SCENES, dims), dtype=np.float32)
    out = np.empty((count, dims), np.float32)
    for start in range(0, count, 100_000):
        size = min(100_000, count - start)
        block = centres[rng.integers(0, _SCENES, size)]
        block += 0.45 * rng.standard_normal((size, dims), dtype=np.float32)
        out[start : start + size] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def build_library(folder: Path, photos: int, dims: int, settings: SearchSettings) -> Library:
    vectors = clustered(photos, dims, seed=1)
    shas = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(photos)]
    by_sha = dict(zip(shas, vectors.astype(np.float16), strict=True))
    started = time.perf_counter()
    sync(
        folder,
        model_id="bench",
        root="/bench",
        stamp="bench",
        wanted=shas,
        fetch=lambda wanted: {sha: by_sha[sha] for sha in wanted},
        settings=settings,
    )
    print(f"index built in {time.perf_counter() - started:.1f} s", flush=True)
    index = VectorIndex(folder, settings)
    entries = [
        Photo(f"{i // 1000:03d}/IMG_{i:06d}.JPG", sha, "Other", "", "", 1)
        for i, sha in enumerate(shas)
    ]
    rows = np.array([index.row_of[sha] for sha in shas], np.int64)
    return Library(folder, "/bench", "bench", entries, index, rows, {})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=100_000)
    parser.add_argument("--model", default="ViT-B-32")
    parser.add_argument("--graph", action="store_true")
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import open_clip
    import torch

    torch.set_num_threads(args.threads)
    model = open_clip.create_model(args.model, pretrained=None).eval()
    tokenizer = open_clip.get_tokenizer(args.model)
    dims = int(model.text_projection.shape[1])
    settings = SearchSettings(ann_min_photos=0 if args.graph else 10**12)
    with tempfile.TemporaryDirectory() as scratch:
        library = build_library(Path(scratch) / "index", args.photos, dims, settings)
        phrases = [f"a photo of scene number {i} at the beach" for i in range(args.queries + 3)]
        encode_ms, search_ms, total_ms = [], [], []
        for i, phrase in enumerate(phrases):
            started = time.perf_counter()
            with torch.inference_mode():
                vector = model.encode_text(tokenizer([phrase]))[0].numpy()
            vector = vector / np.linalg.norm(vector)
            encoded = time.perf_counter()
            ranking = rank(library, vector, top=12)
            done = time.perf_counter()
            if i >= 3:  # the first queries warm the caches
                encode_ms.append((encoded - started) * 1000)
                search_ms.append((done - encoded) * 1000)
                total_ms.append((done - started) * 1000)
        assert ranking.hits or ranking.floor is not None

    def p(values: list[float]) -> str:
        p50, p95 = np.percentile(values, [50, 95])
        return f"p50 {p50:.1f} ms, p95 {p95:.1f} ms"

    figures = {
        "photos": args.photos,
        "model": args.model,
        "index": "HNSW" if args.graph else "exact",
        "encode": p(encode_ms),
        "search": p(search_ms),
        "total": p(total_ms),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
