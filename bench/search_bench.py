"""Search index benchmark (issue 14): exact search against an approximate (HNSW) index on random
unit vectors, the worst case for an approximate index (no clusters to exploit).

Not a test: run it by hand and read the table. Each (engine, size, dimensions) runs in its own
process, so its peak RSS is its own.

    .venv/bin/python bench/search_bench.py [--sizes 100000,1000000] [--dims 512,768]
        [--queries 200] [--engines exact,usearch]

exact: the float32 matrix times the query, top 10 by argpartition (one thread per core, numpy's
BLAS). usearch: an HNSW graph over float16 vectors (pip install usearch), cosine metric,
connectivity 32, expansion 256 when adding, and 256 / 1024 when searching (random vectors need
that much: at 20,000 x 512, connectivity 16 and expansion 64 found 27% of the true top 10);
recall@10 is measured against the exact top 10 of the same queries.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

_K = 10
_EXPANSIONS = (256, 1024)
_CHUNK = 100_000


def unit_vectors(count: int, dims: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.empty((count, dims), np.float32)
    for start in range(0, count, _CHUNK):
        block = rng.standard_normal((min(_CHUNK, count - start), dims), dtype=np.float32)
        out[start : start + len(block)] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def exact_top(matrix: np.ndarray, query: np.ndarray) -> np.ndarray:
    scores = matrix @ query
    best = np.argpartition(-scores, _K)[:_K]
    return best[np.argsort(-scores[best])]


def percentiles_ms(seconds: list[float]) -> tuple[float, float]:
    p50, p95 = np.percentile(np.asarray(seconds) * 1000, [50, 95])
    return float(p50), float(p95)


def run_one(engine: str, count: int, dims: int, queries: int) -> dict[str, object]:
    matrix = unit_vectors(count, dims, seed=1)
    asked = unit_vectors(queries, dims, seed=2)
    result: dict[str, object] = {"engine": engine, "vectors": count, "dims": dims}
    if engine == "exact":
        spent = []
        for query in asked:
            started = time.perf_counter()
            exact_top(matrix, query)
            spent.append(time.perf_counter() - started)
        result["build_s"] = 0.0
        result["p50_ms"], result["p95_ms"] = percentiles_ms(spent)
        result["recall_at_10"] = 1.0
    else:
        from usearch.index import Index

        truth = [set(exact_top(matrix, query).tolist()) for query in asked]
        index = Index(ndim=dims, metric="cos", dtype="f16", connectivity=32, expansion_add=256)
        started = time.perf_counter()
        index.add(np.arange(count), matrix, threads=0)
        result["build_s"] = time.perf_counter() - started
        del matrix  # what a query needs is the index, not the float32 copy
        for expansion in _EXPANSIONS:
            index.expansion_search = expansion
            spent, hits = [], 0
            for query, wanted in zip(asked, truth, strict=True):
                started = time.perf_counter()
                found = index.search(query, _K)
                spent.append(time.perf_counter() - started)
                hits += len(wanted & set(found.keys.tolist()))
            p50, p95 = percentiles_ms(spent)
            result[f"ef{expansion}"] = {
                "p50_ms": p50,
                "p95_ms": p95,
                "recall_at_10": hits / (_K * len(asked)),
            }
    result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--dims", default="512,768")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--engines", default="exact,usearch")
    parser.add_argument(
        "--json", type=Path, default=Path(__file__).parent / "out" / "search_bench.json"
    )
    parser.add_argument("--one", help=argparse.SUPPRESS)  # ENGINE,SIZE,DIMS in a child process
    args = parser.parse_args()
    if args.one:
        engine, count, dims = args.one.split(",")
        print(json.dumps(run_one(engine, int(count), int(dims), args.queries)))
        return
    rows = []
    for count in (int(v) for v in args.sizes.split(",")):
        for dims in (int(v) for v in args.dims.split(",")):
            for engine in args.engines.split(","):
                command = [sys.executable, __file__, "--one", f"{engine},{count},{dims}"]
                command += ["--queries", str(args.queries)]
                done = subprocess.run(command, capture_output=True, text=True, check=True)
                rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
                print(json.dumps(rows[-1]), file=sys.stderr)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(rows, indent=2) + "\n")
    print(
        "| engine | vectors | dims | build (s) | p50 (ms) | p95 (ms) | recall@10 | peak RSS (MiB) |"
    )
    print("|---|--:|--:|--:|--:|--:|--:|--:|")
    for row in rows:
        variants = (
            [("", row)]
            if row["engine"] == "exact"
            else [(f" ef={e}", row[f"ef{e}"]) for e in (64, 128)]
        )
        for label, figures in variants:
            print(
                f"| {row['engine']}{label} | {row['vectors']:,} | {row['dims']} "
                f"| {row['build_s']:.1f} | {figures['p50_ms']:.2f} | {figures['p95_ms']:.2f} "
                f"| {figures['recall_at_10']:.3f} | {row['peak_rss_mib']:,.0f} |"
            )


if __name__ == "__main__":
    main()
