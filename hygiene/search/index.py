"""The embedded search index: one archive's CLIP vectors under one model, kept beside the catalog
and brought up to date with each run, so a query reads a memory-mapped matrix instead of every
embedding in the catalog.

On disk, in <catalog>-search/<key>/ (key: a hash of the archive root and the model id):
- vectors.f16  the unit vectors, float16, one row each, appended as photos arrive
- keys.bin     each row's content hash (32 raw bytes of the sha256), appended alongside
- live.bin     one byte per row: 1 while the photo belongs to the archive's latest synced run
- meta.json    the row count, dimensions, model, root and which run was synced last
- hnsw.usearch an HNSW graph of the live rows (usearch), only once they reach ann_min_photos;
               below that a query scans the float16 rows exactly

The append-only files may hold more rows than meta.json says after a crash: those are cut off on
the next sync. live.bin, meta.json and the graph are replaced by rename, so a reader sees either
the old or the new state. Rows that leave are marked dead, and the files are rewritten without
them once they reach a quarter of the live ones.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hygiene.config import SearchSettings, user_cache_dir

FORMAT = 1
SHA_BYTES = 32
# the HNSW graph; chosen in bench/search_bench.py (see docs/benchmarks.md, "Search index")
_ANN_DTYPE = "f16"
_ANN_CONNECTIVITY = 16
_ANN_EXPANSION_ADD = 128
_COMPACT_MIN_DEAD = 1_024


class IndexUnusable(RuntimeError):
    """The index folder cannot be used (unreadable, or written by another format)."""


def index_folder(catalog_location: Path | str, root: str, model_id: str) -> Path:
    """Beside a SQLite catalog; for a PostgreSQL one, in the user's cache under a digest of
    its URL (the index is a local cache of what the shared catalog holds)."""
    key = hashlib.sha256(f"{root}\0{model_id}".encode()).hexdigest()[:20]
    if isinstance(catalog_location, str):
        database = hashlib.sha256(catalog_location.encode()).hexdigest()[:16]
        return user_cache_dir() / "hygiene" / f"postgres-{database}-search" / key
    return Path(f"{catalog_location}-search") / key


class VectorIndex:
    """A synced index, opened for queries. Rows are addressed by number; `row_of` maps a
    content hash to its live row."""

    def __init__(self, folder: Path, settings: SearchSettings) -> None:
        self.folder = folder
        self.settings = settings
        try:
            meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
            if meta.get("format") != FORMAT:
                raise IndexUnusable(f"{folder} was written by another hygiene (format)")
            self.meta: dict = meta
            rows, dims = int(meta["rows"]), int(meta["dims"])
            self.model_id: str = str(meta["model_id"])
            keys = _read_keys(folder, rows)
            self.live = np.fromfile(folder / "live.bin", dtype=np.uint8, count=rows).astype(bool)
            self.vectors = (
                np.memmap(folder / "vectors.f16", np.float16, "r", shape=(rows, dims))
                if rows
                else np.zeros((0, dims), np.float16)
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise IndexUnusable(f"cannot read the search index {folder}: {exc}") from None
        if len(keys) != rows or len(self.live) != rows:
            raise IndexUnusable(f"the search index {folder} is incomplete")
        self.row_of: dict[str, int] = {key: row for row, key in enumerate(keys) if self.live[row]}
        self._ann = None
        if (folder / "hnsw.usearch").is_file():
            from usearch.index import Index

            try:
                self._ann = Index.restore(str(folder / "hnsw.usearch"), view=True)
            except Exception:  # a damaged graph: exact until the next sync rebuilds it
                self._ann = None
            if self._ann is not None:
                self._ann.expansion_search = settings.ann_expansion

    @property
    def dims(self) -> int:
        return int(self.vectors.shape[1])

    @property
    def approximate(self) -> bool:
        return self._ann is not None

    def vector(self, row: int) -> np.ndarray:
        return np.asarray(self.vectors[row], dtype=np.float32)

    def scores(self, query: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """The cosine of `query` (a unit vector) with each of `rows`, in float32."""
        return np.asarray(self.vectors[rows], dtype=np.float32) @ query.astype(np.float32)

    def nearest(self, query: np.ndarray, count: int) -> np.ndarray:
        """The `count` live rows closest to `query`, best first: the HNSW graph's answer when
        the index has one, else an exact scan of the float16 matrix (usearch's SIMD kernels
        read it as it lies on disk, with no float32 copy). The caller rescores them."""
        if self._ann is not None:
            return np.asarray(self._ann.search(query.astype(np.float32), count).keys, np.int64)
        if not len(self.vectors):
            return np.zeros(0, np.int64)
        from usearch.index import search

        dead = len(self.live) - len(self.row_of)
        wanted = min(count + dead, len(self.vectors))
        found = search(self.vectors, query.astype(np.float16), wanted, metric="ip", exact=True)
        rows = np.asarray(found.keys, np.int64)
        return rows[self.live[rows]][:count]


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write_atomic(path: Path, data: bytes) -> None:
    partial = path.with_name(path.name + ".partial")
    with partial.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)


@dataclass(frozen=True)
class SyncReport:
    added: int
    dropped: int
    live: int
    approximate: bool


def sync(
    folder: Path,
    *,
    model_id: str,
    root: str,
    stamp: str,
    wanted: list[str],
    fetch: Callable[[list[str]], dict[str, np.ndarray]],
    settings: SearchSettings,
) -> SyncReport:
    """Make the live rows exactly the contents of `wanted` that have an embedding: append the
    ones missing (their vectors come from `fetch`, which returns those it has), mark the rest
    dead, rebuild or update the graph, and record `stamp` (the run synced)."""
    with _locked(folder):
        meta, keys, live, dims = _read_state(folder, model_id)
        row_of = {key: row for row, key in enumerate(keys)}
        wanted_set = set(wanted)
        missing = [
            sha for sha in dict.fromkeys(wanted) if sha not in row_of or not live[row_of[sha]]
        ]
        revived = [sha for sha in missing if sha in row_of]
        fetched = fetch([sha for sha in missing if sha not in row_of]) if missing else {}
        new_keys = [sha for sha in missing if sha in fetched]
        for sha in revived:
            live[row_of[sha]] = True
        dropped_rows = [row for row, key in enumerate(keys) if live[row] and key not in wanted_set]
        live[dropped_rows] = False
        if new_keys:
            block = np.stack([fetched[sha] for sha in new_keys]).astype(np.float32)
            if dims and block.shape[1] != dims:
                raise IndexUnusable(
                    f"{folder}: vectors of {block.shape[1]} dimensions, index {dims}"
                )
            dims = block.shape[1]
            block /= np.maximum(np.linalg.norm(block, axis=1, keepdims=True), 1e-9)
            _append(folder, block.astype(np.float16), new_keys)
            keys.extend(new_keys)
            live = np.concatenate([live, np.ones(len(new_keys), bool)])
        # dead rows cost every exact scan (and the disk): a quarter of the live ones at most
        compact = (len(live) - int(live.sum())) >= max(_COMPACT_MIN_DEAD, int(live.sum()) // 4)
        if compact:
            keys, live = _compact(folder, keys, live, dims)
        _write_atomic(folder / "live.bin", live.astype(np.uint8).tobytes())
        approximate = _update_graph(
            folder,
            keys,
            live,
            dims,
            new_rows=len(new_keys),
            dropped=dropped_rows,
            revived=[row_of[sha] for sha in revived],
            rebuilt=compact,
            settings=settings,
        )
        meta.update(
            format=FORMAT, model_id=model_id, root=root, rows=len(keys), dims=dims, synced=stamp
        )
        _write_atomic(folder / "meta.json", json.dumps(meta, indent=1).encode())
    return SyncReport(len(new_keys), len(dropped_rows), int(live.sum()), approximate)


def synced_stamp(folder: Path) -> str | None:
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return str(meta.get("synced")) if meta.get("format") == FORMAT else None


def _read_state(folder: Path, model_id: str) -> tuple[dict, list[str], np.ndarray, int]:
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        meta = {}
    keys: list[str] = []
    live = np.zeros(0, bool)
    if meta.get("format") == FORMAT and meta.get("model_id") == model_id:
        rows = int(meta["rows"])
        try:
            keys = _read_keys(folder, rows)
            live = np.fromfile(folder / "live.bin", dtype=np.uint8, count=rows).astype(bool)
        except OSError:
            pass
    if not keys or len(keys) != meta.get("rows") or len(live) != len(keys):
        # empty, another format or model, or a compaction cut short: a cache, so start over
        for name in ("meta.json", "keys.bin", "vectors.f16", "live.bin", "hnsw.usearch"):
            (folder / name).unlink(missing_ok=True)
        return {}, [], np.zeros(0, bool), 0
    rows, dims = len(keys), int(meta["dims"])
    for name, width in (("keys.bin", SHA_BYTES), ("vectors.f16", 2 * dims)):
        with (folder / name).open("r+b") as handle:  # rows a crashed sync appended
            handle.truncate(rows * width)
    return meta, keys, live, dims


def _read_keys(folder: Path, rows: int) -> list[str]:
    """The first `rows` content hashes, as hex (numpy's bytes type would drop trailing zeros)."""
    with (folder / "keys.bin").open("rb") as handle:
        text = handle.read(rows * SHA_BYTES).hex()
    width = 2 * SHA_BYTES
    return [text[at : at + width] for at in range(0, len(text) - width + 1, width)]


def _append(folder: Path, block: np.ndarray, new_keys: list[str]) -> None:
    with (folder / "vectors.f16").open("ab") as handle:
        handle.write(np.ascontiguousarray(block).tobytes())
        handle.flush()
        os.fsync(handle.fileno())
    with (folder / "keys.bin").open("ab") as handle:
        handle.write(b"".join(bytes.fromhex(sha) for sha in new_keys))
        handle.flush()
        os.fsync(handle.fileno())


def _compact(
    folder: Path, keys: list[str], live: np.ndarray, dims: int
) -> tuple[list[str], np.ndarray]:
    rows = np.flatnonzero(live)
    vectors = np.memmap(folder / "vectors.f16", np.float16, "r", shape=(len(keys), dims))
    _write_atomic(folder / "vectors.f16", np.ascontiguousarray(vectors[rows]).tobytes())
    kept = [keys[row] for row in rows.tolist()]
    _write_atomic(folder / "keys.bin", b"".join(bytes.fromhex(sha) for sha in kept))
    return kept, np.ones(len(kept), bool)


def _update_graph(
    folder: Path,
    keys: list[str],
    live: np.ndarray,
    dims: int,
    *,
    new_rows: int,
    dropped: list[int],
    revived: list[int],
    rebuilt: bool,
    settings: SearchSettings,
) -> bool:
    """Keep hnsw.usearch in step with the live rows; True when the index has one."""
    path = folder / "hnsw.usearch"
    if int(live.sum()) < settings.ann_min_photos or not dims:
        path.unlink(missing_ok=True)
        return False
    from usearch.index import Index

    vectors = np.memmap(folder / "vectors.f16", np.float16, "r", shape=(len(keys), dims))
    graph = None
    if not rebuilt and path.is_file():
        try:
            graph = Index.restore(str(path))
        except Exception:  # a damaged graph is built again
            graph = None
    if graph is None:
        graph = Index(
            ndim=dims,
            metric="cos",
            dtype=_ANN_DTYPE,
            connectivity=_ANN_CONNECTIVITY,
            expansion_add=_ANN_EXPANSION_ADD,
        )
        adding = np.flatnonzero(live)
    else:
        if dropped:
            graph.remove(np.asarray(dropped, dtype=np.uint64))
        start = len(keys) - new_rows
        adding = np.asarray(revived + list(range(start, len(keys))), dtype=np.int64)
    for begin in range(0, len(adding), 65_536):
        rows = adding[begin : begin + 65_536]
        graph.add(rows.astype(np.uint64), np.asarray(vectors[rows], np.float32), threads=0)
    partial = path.with_name(path.name + ".partial")
    graph.save(str(partial))
    os.replace(partial, path)
    return True
