"""Search index benchmark (issue 14): exact search engines against approximate (HNSW) indexes, on
random unit vectors ("uniform", the worst case: no neighbours worth the name) and on clustered
unit vectors (a stand-in for CLIP embeddings, whose near neighbours have cosine 0.7-0.95).

Not a test: run it by hand and read the table. Each (data, size, dimensions, engine) runs in its
own process, so its peak RSS is its own; results accumulate in bench/out/search_bench.json (a rerun
of the same configuration replaces its row) and the whole table is printed as markdown.

    .venv/bin/python bench/search_bench.py [--data clustered,uniform] [--sizes 100000,1000000]
        [--dims 512,768] [--queries 200] [--engines exact32,mmap16:32768,brute16,brute8,...]
        [--efs 64,128,256,512] [--time-cap 15] [--table]

Data (made once per data/size/dims by a child process, under bench/out/search/): float32 unit
vectors generated in chunks, written as a raw float16 file and a raw int8 file (each component
times 127 * sqrt(dims) / 6, clipped: the cosine does not care about the scale, and a component of a
unit vector is about N(0, 1/dims), so 6 sigma maps to 127), plus the queries and their exact top 10
(float32 dot products, streamed chunk by chunk). Clustered: count / 50 random unit centres; a vector
is centre + noise of norm s * |centre| with s uniform in [0.3, 0.7] per vector, normalised, so two
vectors of a centre have cosine 1 / sqrt((1 + s1^2)(1 + s2^2)): 0.67-0.92, typically 0.8. Queries
are drawn the same way (random centre, fresh noise) and are not in the set.

Engines (one query at a time, timed; recall@10 against the float32 exact top 10):
  exact32              the float32 matrix in RAM @ query, top 10 by argpartition (numpy's BLAS)
  mmap16:CHUNK[:W]     the float16 file memory-mapped (np.memmap), CHUNK rows at a time copied to
                       a float32 buffer and multiplied; W worker threads (BLAS then single-threaded)
  brute16 / brute8     usearch.index.search(exact=True) over the memory-mapped float16 / int8 file
                       (usearch's SIMD kernels, threads=0: every core)
  hnsw:DT:M:EFC        usearch Index(dtype=DT, connectivity=M, expansion_add=EFC), cosine, added in
                       100,000-row chunks with every core, saved to a file; searched at each --efs
  view:DT:M:EFC        the file saved by hnsw:DT:M:EFC, opened with Index.restore(path, view=True)
  faiss:M:EFC          FAISS IndexHNSWSQ (fp16 scalar quantiser, inner product) for comparison

Exact engines time queries until --time-cap seconds have passed (at least 20, at most --queries);
the row says how many. The files live in the page cache (they were just written, RAM is ample), so
memory-mapped figures are warm-cache figures. Peak RSS is ru_maxrss, which counts the pages of a
memory-mapped file that were touched; rss_file / rss_anon split the RSS at the end of the run. The
load average at the start and end of each child is recorded, to spot other work sharing the cores.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

_K = 10
_CHUNK = 100_000
_PER_CENTRE = 50
_MIN_TIMED = 20
_OUT = Path(__file__).parent / "out"
_DATA = _OUT / "search"


def _stem(kind: str, count: int, dims: int) -> Path:
    return _DATA / f"{kind}-{count}x{dims}"


def _i8_scale(dims: int) -> float:
    return 127 * np.sqrt(dims) / 6


def _normalised(block: np.ndarray) -> np.ndarray:
    return block / np.linalg.norm(block, axis=1, keepdims=True)


def _centres(count: int, dims: int) -> np.ndarray:
    rng = np.random.default_rng(7)
    return _normalised(rng.standard_normal((max(1, count // _PER_CENTRE), dims), np.float32))


def _clustered(rng: np.random.Generator, centres: np.ndarray, rows: int) -> np.ndarray:
    dims = centres.shape[1]
    noise = rng.standard_normal((rows, dims), dtype=np.float32)
    spread = rng.uniform(0.3, 0.7, (rows, 1)).astype(np.float32)
    noise *= spread / np.linalg.norm(noise, axis=1, keepdims=True)
    noise += centres[rng.integers(0, len(centres), rows)]
    return _normalised(noise)


def vector_chunks(kind: str, count: int, dims: int, seed: int = 1):
    """The data set as float32 chunks of _CHUNK rows, the same every time."""
    rng = np.random.default_rng(seed)
    centres = _centres(count, dims) if kind == "clustered" else None
    for start in range(0, count, _CHUNK):
        rows = min(_CHUNK, count - start)
        if centres is None:
            yield _normalised(rng.standard_normal((rows, dims), dtype=np.float32))
        else:
            yield _clustered(rng, centres, rows)


def make_queries(kind: str, count: int, dims: int, queries: int) -> np.ndarray:
    rng = np.random.default_rng(2)
    if kind == "clustered":
        return _clustered(rng, _centres(count, dims), queries)
    return _normalised(rng.standard_normal((queries, dims), dtype=np.float32))


def prepare(kind: str, count: int, dims: int, queries: int) -> dict[str, object]:
    """Write the float16 and int8 files, the queries and their exact top 10."""
    stem = _stem(kind, count, dims)
    stem.parent.mkdir(parents=True, exist_ok=True)
    asked = make_queries(kind, count, dims, queries)
    best_scores = np.full((queries, _K), -np.inf, np.float32)
    best_ids = np.zeros((queries, _K), np.int64)
    scale = _i8_scale(dims)
    started = time.perf_counter()
    with open(f"{stem}.f16", "wb") as f16, open(f"{stem}.i8", "wb") as i8:
        start = 0
        for block in vector_chunks(kind, count, dims):
            block.astype(np.float16).tofile(f16)
            np.clip(np.rint(block * scale), -127, 127).astype(np.int8).tofile(i8)
            scores = np.concatenate([best_scores, asked @ block.T], axis=1)
            fresh = np.broadcast_to(np.arange(start, start + len(block)), (queries, len(block)))
            ids = np.concatenate([best_ids, fresh], axis=1)
            keep = np.argpartition(-scores, _K, axis=1)[:, :_K]
            best_scores = np.take_along_axis(scores, keep, axis=1)
            best_ids = np.take_along_axis(ids, keep, axis=1)
            start += len(block)
    order = np.argsort(-best_scores, axis=1)
    np.save(f"{stem}-queries.npy", asked)
    np.save(f"{stem}-truth.npy", np.take_along_axis(best_ids, order, axis=1))
    np.save(f"{stem}-truth-scores.npy", np.take_along_axis(best_scores, order, axis=1))
    return {"prepare_s": time.perf_counter() - started}


def exact_top(matrix: np.ndarray, query: np.ndarray) -> np.ndarray:
    scores = matrix @ query
    best = np.argpartition(-scores, _K)[:_K]
    return best[np.argsort(-scores[best])]


def top_of(scores: np.ndarray) -> np.ndarray:
    best = np.argpartition(-scores, _K)[:_K]
    return best[np.argsort(-scores[best])]


def percentiles_ms(seconds: list[float]) -> tuple[float, float]:
    p50, p95 = np.percentile(np.asarray(seconds) * 1000, [50, 95])
    return float(p50), float(p95)


def timed(search, asked: np.ndarray, truth: np.ndarray, cap_s: float) -> dict[str, object]:
    """Time search(i) query by query (until cap_s has passed, at least _MIN_TIMED); recall@10."""
    spent, hits = [], 0
    began = time.perf_counter()
    for i in range(len(asked)):
        started = time.perf_counter()
        found = search(i)
        spent.append(time.perf_counter() - started)
        hits += len(set(truth[i].tolist()) & set(np.asarray(found).tolist()))
        if i + 1 >= _MIN_TIMED and time.perf_counter() - began > cap_s:
            break
    p50, p95 = percentiles_ms(spent)
    return {
        "queries_timed": len(spent),
        "first_ms": spent[0] * 1000,
        "p50_ms": p50,
        "p95_ms": p95,
        "recall_at_10": hits / (_K * len(spent)),
    }


def _memmap(stem: Path, dtype: type, count: int, dims: int) -> np.ndarray:
    suffix = ".f16" if dtype is np.float16 else ".i8"
    return np.memmap(f"{stem}{suffix}", dtype=dtype, mode="r", shape=(count, dims))


def _chunked_scorer(matrix: np.ndarray, chunk: int, workers: int):
    count, dims = matrix.shape
    local = threading.local()
    scores = np.empty(count, np.float32)

    def score_rows(start: int, query: np.ndarray) -> None:
        buffer = getattr(local, "buffer", None)
        if buffer is None:
            buffer = local.buffer = np.empty((chunk, dims), np.float32)
        rows = min(chunk, count - start)
        np.copyto(buffer[:rows], matrix[start : start + rows])
        np.matmul(buffer[:rows], query, out=scores[start : start + rows])

    pool = ThreadPoolExecutor(workers) if workers > 1 else None

    def search(query: np.ndarray) -> np.ndarray:
        starts = range(0, count, chunk)
        if pool is None:
            for start in starts:
                score_rows(start, query)
        else:
            list(pool.map(lambda start: score_rows(start, query), starts))
        return top_of(scores)

    return search


def _hnsw_path(kind: str, count: int, dims: int, engine: str) -> Path:
    return Path(f"{_stem(kind, count, dims)}-{engine.replace(':', '-')}.usearch")


def _add_chunks(index, kind: str, count: int, dims: int, dtype: str) -> list[float]:
    """Add the vectors _CHUNK rows at a time; the seconds each chunk took (also appended to
    bench/out/search/progress.log, to follow a long build)."""
    stem = _stem(kind, count, dims)
    matrix = _memmap(stem, np.float16 if dtype == "f16" else np.int8, count, dims)
    spent = []
    for start in range(0, count, _CHUNK):
        started = time.perf_counter()
        block = np.array(matrix[start : start + _CHUNK])  # a private copy, not mapped pages
        if dtype not in ("f16", "i8"):
            block = block.astype(np.float32)
        index.add(np.arange(start, start + len(block)), block, threads=0)
        spent.append(time.perf_counter() - started)
        with open(_DATA / "progress.log", "a") as log:
            print(f"{stem.name} {dtype} {start + len(block)} {spent[-1]:.1f}s", file=log)
    return spent


def _status_mib() -> dict[str, float]:
    figures = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("RssAnon", "RssFile", "VmHWM"):
            figures[name] = int(value.split()[0]) / 1024
    return {"rss_anon_mib": figures["RssAnon"], "rss_file_mib": figures["RssFile"]}


def run_one(
    engine: str, kind: str, count: int, dims: int, efs: list[int], cap_s: float
) -> dict[str, object]:
    stem = _stem(kind, count, dims)
    asked = np.load(f"{stem}-queries.npy")
    truth = np.load(f"{stem}-truth.npy")
    result: dict[str, object] = {
        "data": kind,
        "vectors": count,
        "dims": dims,
        "engine": engine,
        "load_start": os.getloadavg()[0],
        "build_s": 0.0,
    }
    name, *params = engine.split(":")
    if name == "exact32":
        matrix = np.empty((count, dims), np.float32)
        start = 0
        for block in vector_chunks(kind, count, dims):
            matrix[start : start + len(block)] = block
            start += len(block)
        result.update(timed(lambda i: exact_top(matrix, asked[i]), asked, truth, cap_s))
    elif name == "mmap16":
        chunk = int(params[0])
        workers = int(params[1]) if len(params) > 1 else 1
        search = _chunked_scorer(_memmap(stem, np.float16, count, dims), chunk, workers)
        result.update(timed(lambda i: search(asked[i]), asked, truth, cap_s))
    elif name in ("brute16", "brute8"):
        from usearch.index import search

        if name == "brute16":
            matrix = _memmap(stem, np.float16, count, dims)
            wanted = asked.astype(np.float16)
        else:
            matrix = _memmap(stem, np.int8, count, dims)
            wanted = np.clip(np.rint(asked * _i8_scale(dims)), -127, 127).astype(np.int8)
        result.update(
            timed(
                lambda i: search(matrix, wanted[i], _K, metric="cos", exact=True, threads=0).keys,
                asked,
                truth,
                cap_s,
            )
        )
    elif name in ("hnsw", "view"):
        from usearch.index import Index

        dtype, connectivity, expansion_add = params[0], int(params[1]), int(params[2])
        path = _hnsw_path(kind, count, dims, "hnsw:" + ":".join(params))
        if name == "hnsw":
            index = Index(
                ndim=dims,
                metric="cos",
                dtype=dtype,
                connectivity=connectivity,
                expansion_add=expansion_add,
            )
            started = time.perf_counter()
            result["chunk_s"] = _add_chunks(index, kind, count, dims, dtype)
            result["build_s"] = time.perf_counter() - started
            result["build_peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            started = time.perf_counter()
            index.save(str(path))
            result["save_s"] = time.perf_counter() - started
        else:
            started = time.perf_counter()
            index = Index.restore(str(path), view=True)
            result["open_s"] = time.perf_counter() - started
        result["file_mib"] = path.stat().st_size / 2**20
        if dtype == "i8":
            asked = np.clip(np.rint(asked * _i8_scale(dims)), -127, 127).astype(np.int8)
        elif dtype == "f16":
            asked = asked.astype(np.float16)
        for expansion in efs:
            index.expansion_search = expansion
            result[f"ef{expansion}"] = timed(
                lambda i: index.search(asked[i], _K).keys, asked, truth, float("inf")
            )
    elif name == "faiss":
        import faiss

        faiss.omp_set_num_threads(os.cpu_count() or 1)
        connectivity, expansion_add = int(params[0]), int(params[1])
        index = faiss.IndexHNSWSQ(
            dims, faiss.ScalarQuantizer.QT_fp16, connectivity, faiss.METRIC_INNER_PRODUCT
        )
        index.hnsw.efConstruction = expansion_add
        matrix = _memmap(stem, np.float16, count, dims)
        started = time.perf_counter()
        index.train(np.array(matrix[:1000], np.float32))
        for start in range(0, count, _CHUNK):
            index.add(np.array(matrix[start : start + _CHUNK], np.float32))
        result["build_s"] = time.perf_counter() - started
        result["build_peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        path = _hnsw_path(kind, count, dims, engine).with_suffix(".faiss")
        faiss.write_index(index, str(path))
        result["file_mib"] = path.stat().st_size / 2**20
        faiss.omp_set_num_threads(1)  # one query at a time: no point in a thread team
        for expansion in efs:
            index.hnsw.efSearch = expansion
            result[f"ef{expansion}"] = timed(
                lambda i: index.search(asked[i : i + 1], _K)[1][0], asked, truth, float("inf")
            )
    else:
        raise SystemExit(f"unknown engine {engine}")
    result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result.update(_status_mib())
    result["load_end"] = os.getloadavg()[0]
    return result


def _key(row: dict[str, object]) -> tuple:
    return (row["data"], row["vectors"], row["dims"], row["engine"])


def print_table(rows: list[dict[str, object]]) -> None:
    print(
        "| data | vectors | dims | engine | ef | build (s) | file (MiB) | p50 (ms) | p95 (ms) "
        "| recall@10 | queries | peak RSS (MiB) | RSS file/anon (MiB) | load |"
    )
    print("|---|--:|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    for row in sorted(rows, key=lambda r: (r["data"], r["vectors"], r["dims"])):
        efs = sorted(int(key[2:]) for key in row if key.startswith("ef"))
        variants = [(f"{e}", row[f"ef{e}"]) for e in efs] if efs else [("", row)]
        file_mib = f"{row['file_mib']:,.0f}" if "file_mib" in row else ""
        build = f"{row['build_s']:.1f}" if row["build_s"] else ""
        for label, figures in variants:
            print(
                f"| {row['data']} | {row['vectors']:,} | {row['dims']} | {row['engine']} | {label} "
                f"| {build} | {file_mib} | {figures['p50_ms']:.2f} | {figures['p95_ms']:.2f} "
                f"| {figures['recall_at_10']:.3f} | {figures['queries_timed']} "
                f"| {row['peak_rss_mib']:,.0f} "
                f"| {row['rss_file_mib']:,.0f}/{row['rss_anon_mib']:,.0f} "
                f"| {row['load_start']:.1f}-{row['load_end']:.1f} |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="clustered,uniform")
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--dims", default="512,768")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--engines", default="exact32,mmap16:32768,brute16,brute8")
    parser.add_argument("--efs", default="64,128,256,512")
    parser.add_argument("--time-cap", type=float, default=15.0)
    parser.add_argument("--table", action="store_true", help="print the table of the JSON file")
    parser.add_argument("--json", type=Path, default=_OUT / "search_bench.json")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # ENGINE,DATA,SIZE,DIMS in a child
    parser.add_argument("--prepare", help=argparse.SUPPRESS)  # DATA,SIZE,DIMS in a child
    args = parser.parse_args()
    efs = [int(v) for v in args.efs.split(",")]
    if args.prepare:
        kind, count, dims = args.prepare.split(",")
        print(json.dumps(prepare(kind, int(count), int(dims), args.queries)))
        return
    if args.one:
        engine, kind, count, dims = args.one.split(",")
        print(json.dumps(run_one(engine, kind, int(count), int(dims), efs, args.time_cap)))
        return
    rows = json.loads(args.json.read_text()) if args.json.exists() else []
    rows = [row for row in rows if "data" in row]  # drop the rows of the older layout
    if not args.table:
        for count in (int(v) for v in args.sizes.split(",")):
            for dims in (int(v) for v in args.dims.split(",")):
                for kind in args.data.split(","):
                    stem = _stem(kind, count, dims)
                    if not Path(f"{stem}-truth.npy").exists():
                        command = [sys.executable, __file__, "--prepare", f"{kind},{count},{dims}"]
                        command += ["--queries", str(args.queries)]
                        done = subprocess.run(command, capture_output=True, text=True, check=True)
                        print(f"prepared {stem.name}: {done.stdout.strip()}", file=sys.stderr)
                    for engine in args.engines.split(","):
                        command = [sys.executable, __file__, "--one"]
                        command += [f"{engine},{kind},{count},{dims}", "--efs", args.efs]
                        command += ["--time-cap", str(args.time_cap)]
                        env = dict(os.environ)
                        if engine.startswith("mmap16") and engine.count(":") > 1:
                            env["OPENBLAS_NUM_THREADS"] = "1"  # the worker threads share the cores
                        done = subprocess.run(
                            command, capture_output=True, text=True, check=True, env=env
                        )
                        row = json.loads(done.stdout.strip().splitlines()[-1])
                        if args.json.exists():  # another run may have added rows meanwhile
                            rows = [r for r in json.loads(args.json.read_text()) if "data" in r]
                        rows = [old for old in rows if _key(old) != _key(row)] + [row]
                        args.json.parent.mkdir(parents=True, exist_ok=True)
                        args.json.write_text(json.dumps(rows, indent=2) + "\n")
                        print(json.dumps(row), file=sys.stderr)
    print_table(rows)


if __name__ == "__main__":
    main()
