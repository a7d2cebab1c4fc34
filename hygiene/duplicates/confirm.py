"""Confirm candidate pairs on their thumbnails, on every core.

Each pair's verdict is its own: "pixel" (identical decoded pixels), "near", "similar" or "none",
with the mean residual of the aligned thumbnails. The parent looks verdicts up in the catalog's
cache and hands the rest, in batches, to a supervised pool whose workers read thumbnails from
the catalog themselves (read-only) and send back verdicts and any full-resolution pixel hashes
they had to compute; the parent records both. A batch that fails is tried again pair by pair,
and a pair that fails alone is judged unrelated for this run and not cached.
"""

from __future__ import annotations

import functools
import hashlib
import sqlite3
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from pathlib import Path
from typing import TypeVar

import numpy as np

from hygiene import catalog
from hygiene.config import DuplicateSettings
from hygiene.duplicates.candidates import Proposal
from hygiene.duplicates.exposures import closest_capture_times
from hygiene.duplicates.grouping import Edge, Node
from hygiene.duplicates.verify import Comparison, Frame, MatchLimits, compare, rgb_array
from hygiene.records import ImageRow, seconds_apart
from hygiene.scan import (
    DecodeError,
    decode,
    decode_thumbnail,
    pixel_sha256_hex,
    reduced_in_decoder,
)
from hygiene.workers import SupervisedPool, WorkerFailure, set_preload

# Bump when the way a pair is judged changes: cached verdicts from other versions are ignored.
VERIFY_VERSION = 3
_UNCOMPARED = 1.0  # residual recorded when no thumbnails were compared
_BATCH_PAIRS = 32  # pairs per pool task: consecutive pairs share a photo, whose thumbnail a
# worker then decodes once
_POOL_MIN_PAIRS = 2 * _BATCH_PAIRS  # fewer comparisons than this are not worth starting workers
_BATCH_TIMEOUT_S = 300.0  # a batch decodes at most a few full-resolution files
# decoded thumbnails a cache keeps: about 0.9 MB each with the grey and scaled copies derived
# from them. Consecutive pairs share a photo, so a few serve a batch: the compare corpus took
# no longer with 16 than with 48, and each confirming worker peaked 33 MB lower.
_FRAMES_KEPT = 16
_TILE_PHOTOS = _FRAMES_KEPT // 2  # photos a side of a tile of pairs (see _tiled_batches)
_RELATION_RANK = {"none": 0, "similar": 1, "near": 2, "pixel": 3}

_K = TypeVar("_K")
_V = TypeVar("_V")
Verdict = tuple[str, float]  # (relation, mean residual of the aligned thumbnails)


@dataclass(frozen=True, slots=True)
class PairCheck:
    """Compare node b with node a under `transform`, or as a crop of a."""

    a: int
    b: int
    transform: int
    crop: bool
    distance: int  # pHash bits between the proposed alignment's hashes
    limit: int  # the most bits a near duplicate may be apart under this alignment


@dataclass(frozen=True, slots=True)
class ConfirmSettings:
    """What a worker needs besides the pairs: where the thumbnails and files are, and the limits."""

    catalog_path: str
    root: str
    max_pixels: int
    duplicates: DuplicateSettings


@dataclass(frozen=True, slots=True)
class _Batch:
    checks: list[PairCheck]
    nodes: dict[int, Node]  # the nodes the checks name, reduced to what a comparison reads


@dataclass(frozen=True, slots=True)
class _BatchResult:
    verdicts: list[Verdict]
    pixel_hashes: dict[str, str]  # sha256 -> full-resolution pixel hash computed on the way


# ---------------------------------------------------------------- the parent


def confirmed_edges(
    conn: sqlite3.Connection,
    nodes: list[Node],
    proposals: list[Proposal],
    settings: ConfirmSettings,
    *,
    workers: int,
    on_pairs: Callable[[int, int], None],
) -> tuple[dict[int, dict[int, Edge]], list[tuple[int, int]]]:
    """Confirmed relations (edges) between nodes, and the pairs that are only similar shots.

    A pair keeps its strongest verdict over its alignments and, among equally strong ones, the
    closest (the smallest residual). Alignments go in rounds: the hashed whole-frame ones; the
    hashed crops of pairs those left unconfirmed; the crops proposed by equal capture times, for
    pairs still unconfirmed; last, the hashed crops of pairs the whole frames already confirmed
    as near (not pixel-identical), but only where the residual can matter. It decides which
    frame of a burst an untimed copy goes with, and the order in which a group gathers frames
    taken at different times; where every photo around both sides has one capture time at
    most, a crop alignment could change no group, and it is not tried (the pair keeps its
    whole-frame residual and distance).
    """
    verdicts: dict[tuple[int, int], tuple[str, int, float]] = {}
    found: dict[int, Verdict] = {}  # proposal index -> verdict
    check_key = _check_key(settings.duplicates)
    done = 0

    def judged(count: int) -> None:
        nonlocal done
        done += count
        on_pairs(done, len(proposals))

    def relation(index: int) -> str:
        a, b = proposals[index][:2]
        return verdicts.get(_pair(a, b), ("none",))[0]

    def confirmed(index: int) -> bool:
        return relation(index) in ("near", "pixel")

    hashed = [i for i, p in enumerate(proposals) if p[5]]
    whole = [i for i in hashed if not proposals[i][3]]
    crops = [i for i in hashed if proposals[i][3]]
    with _Confirmer(conn, nodes, settings, workers) as confirmer:

        def judge(indices: list[int]) -> None:
            _judge_round(
                conn, nodes, proposals, indices, check_key, settings, confirmer, judged, found
            )
            for index in indices:
                _keep_strongest(verdicts, _check_of(proposals[index], settings), found[index])

        judge(whole)
        # a crop is at best "near", which never replaces "pixel"
        deferred = [i for i in crops if relation(i) == "near"]
        judge([i for i in crops if not confirmed(i)])
        judge([i for i, p in enumerate(proposals) if not p[5] and not confirmed(i)])
        while True:  # a residual judged here can place an untimed copy at another time
            mixed = _mixed_times(
                nodes, _edges(verdicts)[0], settings.duplicates.similar_max_seconds
            )
            wanted = [i for i in deferred if mixed & set(proposals[i][:2])]
            if not wanted:
                break
            judging = set(wanted)
            deferred = [i for i in deferred if i not in judging]
            judge(wanted)
        judged(len(proposals) - done)  # the rest were skipped, or their pairs were confirmed
    verdicts = {}  # applied again in proposal order, as ties keep the first
    for index in sorted(found):
        _keep_strongest(verdicts, _check_of(proposals[index], settings), found[index])
    return _edges(verdicts)


def _check_of(proposal: Proposal, settings: ConfirmSettings) -> PairCheck:
    a, b, transform, crop, distance, gated = proposal
    limit = _near_limit(crop, settings.duplicates) if gated else 64
    return PairCheck(a, b, transform, crop, distance, limit)


def _judge_round(
    conn: sqlite3.Connection,
    nodes: list[Node],
    proposals: list[Proposal],
    indices: list[int],
    check_key: str,
    settings: ConfirmSettings,
    confirmer: _Confirmer,
    judged: Callable[[int], None],
    found: dict[int, Verdict],
) -> None:
    """Verdicts for these proposals into `found`: from the catalog's cache, else judged."""
    keys: dict[int, str] = {}
    pending: list[int] = []
    for index in indices:
        a, b, transform, crop, _, gated = proposals[index]
        keys[index] = f"{check_key}:{transform}:{crop:d}:{gated:d}"  # depends on the alignment
        sha_a, sha_b = nodes[a].rows[0].sha256, nodes[b].rows[0].sha256
        cached = catalog.pair_relation(conn, sha_a, sha_b, keys[index])
        if cached is None:
            pending.append(index)
        else:
            found[index] = cached
    judged(len(indices) - len(pending))
    checks = [_check_of(proposals[index], settings) for index in pending]
    for index, (verdict, cacheable) in zip(
        pending, confirmer.run(checks, on_judged=judged), strict=True
    ):
        found[index] = verdict
        if cacheable:
            a, b = proposals[index][:2]
            sha_a, sha_b = nodes[a].rows[0].sha256, nodes[b].rows[0].sha256
            catalog.record_pair_relation(conn, sha_a, sha_b, keys[index], *verdict)


def _mixed_times(
    nodes: list[Node], edges: dict[int, dict[int, Edge]], burst_seconds: float
) -> set[int]:
    """Nodes around which more than one capture time shows: among a node and the nodes it is
    confirmed with, counting the time an untimed copy is placed at (exposures.py)."""
    placed = closest_capture_times(
        [node.facts.taken_at for node in nodes],
        {index: {o: e.residual for o, e in related.items()} for index, related in edges.items()},
        burst_seconds,
    )

    def time_of(index: int) -> str | None:
        return nodes[index].facts.taken_at or placed.get(index)

    mixed: set[int] = set()
    for index, related in edges.items():
        times = {time_of(index)} | {time_of(other) for other in related}
        if len(times - {None}) > 1:
            mixed.add(index)
    return mixed


def _pair(a: int, b: int) -> tuple[int, int]:
    return min(a, b), max(a, b)


def _keep_strongest(
    verdicts: dict[tuple[int, int], tuple[str, int, float]], check: PairCheck, verdict: Verdict
) -> None:
    kind, residual = verdict
    pair = _pair(check.a, check.b)
    earlier = verdicts.get(pair)
    if earlier is None or (-_RELATION_RANK[kind], residual) < (
        -_RELATION_RANK[earlier[0]],
        earlier[2],
    ):
        verdicts[pair] = (kind, check.distance, residual)


def _edges(
    verdicts: dict[tuple[int, int], tuple[str, int, float]],
) -> tuple[dict[int, dict[int, Edge]], list[tuple[int, int]]]:
    edges: dict[int, dict[int, Edge]] = defaultdict(dict)
    similar: list[tuple[int, int]] = []
    for (a, b), (kind, distance, residual) in verdicts.items():
        if kind == "similar":
            similar.append((a, b))
        elif kind != "none":
            edge = Edge(kind, 0, 0.0) if kind == "pixel" else Edge(kind, distance, residual)
            edges[a][b] = edges[b][a] = edge
    return edges, similar


class _Confirmer:
    """Runs pair checks in the parent when they are few, in a worker pool otherwise (started on
    first need and kept for the stage)."""

    def __init__(
        self, conn: sqlite3.Connection, nodes: list[Node], settings: ConfirmSettings, workers: int
    ) -> None:
        self._conn, self._nodes, self._settings = conn, nodes, settings
        self._workers = workers if settings.catalog_path else 1
        self._pool: SupervisedPool[_Batch, _BatchResult] | None = None
        self._local: _PairJudge | None = None

    def __enter__(self) -> _Confirmer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._pool is not None:
            self._pool.close()

    def run(
        self, checks: list[PairCheck], on_judged: Callable[[int], None]
    ) -> list[tuple[Verdict, bool]]:
        """(verdict, whether it may be cached) for each check, in order; `on_judged(count)`
        hears of each batch finished."""
        positions = _batches(checks)
        judged = self._judged([[checks[i] for i in batch] for batch in positions], on_judged)
        order = [i for batch in positions for i in batch]
        by_position = dict(zip(order, judged, strict=True))
        return [by_position[i] for i in range(len(checks))]

    def _judged(
        self, batches: list[list[PairCheck]], on_judged: Callable[[int], None]
    ) -> list[tuple[Verdict, bool]]:
        """Verdicts of the batches' checks, in order."""
        checks = [check for batch in batches for check in batch]
        if self._workers <= 1 or len(checks) < _POOL_MIN_PAIRS:
            judge, verdicts = self._local_judge(), []
            for batch in batches:
                verdicts += [(judge.verdict(*self._pair_nodes(c), c), True) for c in batch]
                on_judged(len(batch))
            return verdicts
        results: dict[PairCheck, tuple[Verdict, bool]] = {}
        retry: list[PairCheck] = []
        for batch, outcome in self._map(batches):
            if isinstance(outcome, WorkerFailure):
                retry.extend(batch.checks)
                continue
            pairs = zip(batch.checks, outcome.verdicts, strict=True)
            results.update((check, (verdict, True)) for check, verdict in pairs)
            on_judged(len(batch.checks))
        for batch, outcome in self._map([[check] for check in retry]):
            on_judged(1)
            if isinstance(outcome, WorkerFailure):  # judged unrelated this time, not cached
                results[batch.checks[0]] = (("none", _UNCOMPARED), False)
            else:
                results[batch.checks[0]] = (outcome.verdicts[0], True)
        return [results[check] for check in checks]

    def _pair_nodes(self, check: PairCheck) -> tuple[Node, Node]:
        return self._nodes[check.a], self._nodes[check.b]

    def _map(
        self, batches: list[list[PairCheck]]
    ) -> Iterator[tuple[_Batch, _BatchResult | WorkerFailure]]:
        pool = self._started_pool()
        for batch, outcome in pool.map_unordered(self._batch(checks) for checks in batches):
            if not isinstance(outcome, WorkerFailure):
                self._record_pixel_hashes(outcome.pixel_hashes)
            yield batch, outcome

    def _batch(self, checks: list[PairCheck]) -> _Batch:
        used = {index for check in checks for index in (check.a, check.b)}
        return _Batch(checks, {index: _for_comparison(self._nodes[index]) for index in used})

    def _record_pixel_hashes(self, found: dict[str, str]) -> None:
        for sha256, digest in found.items():
            catalog.record_pixel_hash(self._conn, sha256, digest)

    def _started_pool(self) -> SupervisedPool[_Batch, _BatchResult]:
        if self._pool is None:
            set_preload(["hygiene.duplicates.confirm"])
            self._pool = SupervisedPool(
                judge_batch,
                workers=self._workers,
                timeout_s=_BATCH_TIMEOUT_S,
                initializer=init_worker,
                initargs=(self._settings,),
            )
        return self._pool

    def _local_judge(self) -> _PairJudge:
        if self._local is None:
            conn = self._conn
            self._local = _PairJudge(
                self._settings,
                thumbnail=lambda sha: catalog.thumbnail(conn, sha),
                known_pixel_hash=lambda sha: catalog.pixel_hash(conn, sha),
                record_pixel_hash=lambda sha, digest: catalog.record_pixel_hash(conn, sha, digest),
            )
        return self._local


def _batches(checks: list[PairCheck]) -> list[list[int]]:
    """The checks' positions in batches, in the order of the two below that decodes fewer
    thumbnails into a frame cache like a worker's. Each verdict is the pair's own, so the order
    changes nothing but the work."""
    as_proposed = [
        list(range(start, min(start + _BATCH_PAIRS, len(checks))))
        for start in range(0, len(checks), _BATCH_PAIRS)
    ]
    tiled = _tiled_batches(checks)
    return min((tiled, as_proposed), key=lambda batches: _frames_decoded(checks, batches))


def _tiled_batches(checks: list[PairCheck]) -> list[list[int]]:
    """Batches tile by tile: the order for groups of many copies.

    In a group of n copies every pair is checked; in the order the search proposes them, one
    photo stays while the other runs over the whole group, so a group larger than the frame
    cache decodes every thumbnail again for each of its members. Taken tile by tile instead
    (photos numbered by first appearance, _TILE_PHOTOS of them a side), a tile needs at most
    twice that many frames, which the cache holds; a batch keeps to one row of tiles, so the
    worker that takes it keeps that row's photos while the others stream past.
    """
    rank: dict[int, int] = {}
    for check in checks:
        rank.setdefault(check.a, len(rank))
        rank.setdefault(check.b, len(rank))

    def tile(position: int) -> tuple[int, int, int, int]:
        low, high = sorted((rank[checks[position].a], rank[checks[position].b]))
        return low // _TILE_PHOTOS, high // _TILE_PHOTOS, low, high

    batches: list[list[int]] = []
    row = None
    for (this_row, *_), position in sorted((tile(p), p) for p in range(len(checks))):
        if this_row != row or len(batches[-1]) == _BATCH_PAIRS:
            batches.append([])
            row = this_row
        batches[-1].append(position)
    return batches


def _frames_decoded(checks: list[PairCheck], batches: list[list[int]]) -> int:
    """How many thumbnails a cache of _FRAMES_KEPT frames decodes taking the checks in this
    order (as Thumbnails does: a, then b, least recently used out)."""
    cache: OrderedDict[int, None] = OrderedDict()
    decoded = 0
    for batch in batches:
        for position in batch:
            for node in (checks[position].a, checks[position].b):
                if node in cache:
                    cache.move_to_end(node)
                    continue
                decoded += 1
                cache[node] = None
                if len(cache) > _FRAMES_KEPT:
                    cache.popitem(last=False)
    return decoded


def _for_comparison(node: Node) -> Node:
    """The node as a worker needs it: one of its files (all have the same bytes), no hashes."""
    return Node(node.rows[:1], np.empty(0, np.uint64), node.best)


def _check_key(settings: DuplicateSettings) -> str:
    """Names the code and settings a cached pair verdict came from."""
    fields = (VERIFY_VERSION, *(getattr(settings, f.name) for f in dataclass_fields(settings)))
    return hashlib.sha256(repr(fields).encode()).hexdigest()[:16]


# ---------------------------------------------------------------- the workers

_judge: _PairJudge | None = None
_found_pixel_hashes: dict[str, str] = {}


def init_worker(settings: ConfirmSettings) -> None:
    global _judge
    import cv2

    cv2.setNumThreads(1)  # the pool already uses every core
    conn = catalog.open_catalog_readonly(catalog.location(settings.catalog_path))
    _judge = _PairJudge(
        settings,
        thumbnail=lambda sha: catalog.thumbnail(conn, sha),
        known_pixel_hash=lambda sha: catalog.pixel_hash(conn, sha),
        record_pixel_hash=_found_pixel_hashes.__setitem__,
    )


def judge_batch(batch: _Batch) -> _BatchResult:
    assert _judge is not None, "init_worker was not called"
    _found_pixel_hashes.clear()
    verdicts = [_judge.verdict(batch.nodes[c.a], batch.nodes[c.b], c) for c in batch.checks]
    return _BatchResult(verdicts, dict(_found_pixel_hashes))


# ---------------------------------------------------------------- one pair


class _PairJudge:
    def __init__(
        self,
        settings: ConfirmSettings,
        *,
        thumbnail: Callable[[str], bytes | None],
        known_pixel_hash: Callable[[str], str | None],
        record_pixel_hash: Callable[[str, str], None],
    ) -> None:
        self._settings = settings.duplicates
        self._thumbnails = Thumbnails(thumbnail)
        self._pixel_hashes = _PixelHashes(
            Path(settings.root), settings.max_pixels, known_pixel_hash, record_pixel_hash
        )

    def verdict(self, a: Node, b: Node, check: PairCheck) -> Verdict:
        """(relation, mean residual of the aligned thumbnails); "none" when unrelated."""
        settings = self._settings
        frame_a, frame_b = self._thumbnails.get(a), self._thumbnails.get(b)
        same_size = (a.facts.width, a.facts.height) == (b.facts.width, b.facts.height)
        whole = check.transform == 0 and not check.crop
        if whole and same_size and check.distance <= settings.pixel_max_distance:
            # Identical pixels decoded the same way always gave identical thumbnails (376 of
            # 376 pixel pairs on the benchmark corpora), so only those pairs pay for a
            # full-resolution decode; a JPEG reduced in its decoder and a PNG of the same
            # pixels resized after decoding have slightly different thumbnails.
            unknown = frame_a is None or frame_b is None
            hashed = a.facts.pixel_sha256 and b.facts.pixel_sha256  # by the scan: free
            other_path = reduced_in_decoder(a.facts) != reduced_in_decoder(b.facts)
            if unknown or hashed or other_path or np.array_equal(frame_a.rgb, frame_b.rgb):
                first, second = self._pixel_hashes.get(a), self._pixel_hashes.get(b)
                if first is not None and first == second:
                    return "pixel", 0.0
        if frame_a is None or frame_b is None:
            return "none", _UNCOMPARED
        distinct_captures = _different_capture_times(a.facts.taken_at, b.facts.taken_at)
        close = check.distance <= check.limit and not distinct_captures
        if not close and not (whole and _within_burst(a, b, settings)):
            return "none", _UNCOMPARED  # neither a duplicate nor a similar shot, whatever it shows
        limits = match_limits(settings)
        # with the limits, a crop that cannot be a duplicate is not placed at full size: a
        # crop is a duplicate or nothing
        comparison = self._thumbnails.compare(
            frame_a, frame_b, check.transform, crop=check.crop, limits=limits
        )
        if close and comparison.is_duplicate(limits):
            return "near", comparison.mean_residual
        if whole and _similar(comparison, a, b, settings):
            return "similar", comparison.mean_residual
        return "none", comparison.mean_residual


class Thumbnails:
    """Decoded thumbnails for verification, and comparisons of them, in bounded caches (memory
    must not grow with N).

    Copies whose thumbnails are the same bytes over the same content box (a photo and its copy
    with the metadata stripped, a PNG and a BMP of the same pixels) share one frame, and a
    comparison of two frames is kept: such copies are each compared with the same third photo,
    and what a comparison finds depends on the pixels alone.
    """

    def __init__(self, load: Callable[[str], bytes | None], capacity: int = _FRAMES_KEPT) -> None:
        self._load = load
        self._frames: OrderedDict[object, Frame] = OrderedDict()
        self._identities: OrderedDict[str, object] = OrderedDict()  # sha256 -> frame identity
        self._comparisons: OrderedDict[tuple[object, ...], Comparison] = OrderedDict()
        self._capacity = capacity

    def get(self, node: Node) -> Frame | None:
        sha256, facts = node.rows[0].sha256, node.facts
        identity = _kept(self._identities, sha256)
        if identity is _NO_THUMBNAIL:
            return None
        frame = None if identity is None else _kept(self._frames, identity)
        if frame is not None:
            return frame
        encoded = self._load(sha256)
        if not encoded:
            _keep(self._identities, sha256, _NO_THUMBNAIL, _IDENTITIES_KEPT)
            return None
        box = (facts.content_left, facts.content_top, facts.content_right, facts.content_bottom)
        identity = (hashlib.blake2b(encoded, digest_size=16).digest(), box)
        _keep(self._identities, sha256, identity, _IDENTITIES_KEPT)
        frame = _kept(self._frames, identity)
        if frame is None:
            frame = Frame(rgb_array(decode_thumbnail(encoded), box), identity=identity)
            _keep(self._frames, identity, frame, self._capacity)
        return frame

    def compare(
        self, a: Frame, b: Frame, transform: int, *, crop: bool, limits: MatchLimits
    ) -> Comparison:
        """verify.compare(a, b, transform, b_is_crop_of_a=crop, unless_far_from=limits)."""
        if a.identity is None or b.identity is None:  # a frame not from get(): nothing to key on
            return compare(a, b, transform, b_is_crop_of_a=crop, unless_far_from=limits)
        key = (a.identity, b.identity, transform, crop, limits)
        found = _kept(self._comparisons, key)
        if found is None:
            found = compare(a, b, transform, b_is_crop_of_a=crop, unless_far_from=limits)
            _keep(self._comparisons, key, found, _COMPARISONS_KEPT)
        return found


_NO_THUMBNAIL = object()
_IDENTITIES_KEPT = 4096  # about 1.1 MiB (tracemalloc)
_COMPARISONS_KEPT = 4096  # about 1.1 MiB


def _kept(cache: OrderedDict[_K, _V], key: _K) -> _V | None:
    """cache[key], marked as used; None when not there."""
    value = cache.get(key)
    if value is not None:
        cache.move_to_end(key)
    return value


def _keep(cache: OrderedDict[_K, _V], key: _K, value: _V, capacity: int) -> None:
    cache[key] = value
    if len(cache) > capacity:
        cache.popitem(last=False)


class _PixelHashes:
    """Full-resolution pixel hashes, computed only for the files a decision needs; the ones
    computed here are handed to `record` (the stage keeps them in its own catalog table)."""

    def __init__(
        self,
        root: Path,
        max_pixels: int,
        known: Callable[[str], str | None],
        record: Callable[[str, str], None],
    ) -> None:
        self._root, self._max_pixels = root, max_pixels
        self._known, self._record = known, record
        self._computed: dict[str, str | None] = {}

    def get(self, node: Node) -> str | None:
        facts, row = node.facts, node.rows[0]
        if facts.pixel_sha256:
            return facts.pixel_sha256
        if row.sha256 in self._computed:
            return self._computed[row.sha256]
        digest = self._known(row.sha256) or self._decoded_hash(row)
        self._computed[row.sha256] = digest
        return digest

    def _decoded_hash(self, row: ImageRow) -> str | None:
        facts = row.facts
        try:
            data = (self._root / row.rel_path).read_bytes()
            fmt = "HEIF" if facts.format in ("HEIF", "AVIF") else facts.format
            fmt = "JPEG" if fmt == "MPO" else fmt
            decoded = decode(data, fmt, max_pixels=self._max_pixels, reduce_to_px=1 << 30)
        except (OSError, DecodeError):
            return None
        digest = pixel_sha256_hex(decoded.rgb)
        self._record(row.sha256, digest)
        return digest


@functools.cache
def match_limits(settings: DuplicateSettings) -> MatchLimits:
    return MatchLimits(
        min_correlation=settings.min_correlation,
        max_changed_fraction=settings.max_changed_fraction,
        max_colour_difference=settings.max_colour_difference,
        similar_min_correlation=settings.similar_min_correlation,
    )


def _near_limit(crop: bool, settings: DuplicateSettings) -> int:
    return settings.crop_max_distance if crop else settings.near_max_distance


def _similar(comparison: Comparison, a: Node, b: Node, settings: DuplicateSettings) -> bool:
    return comparison.is_similar(match_limits(settings)) and _within_burst(a, b, settings)


def _within_burst(a: Node, b: Node, settings: DuplicateSettings) -> bool:
    """Whether two photos can be similar shots by their capture times (unknown counts as yes)."""
    seconds = seconds_apart(a.facts.taken_at, b.facts.taken_at)
    return seconds is None or seconds <= settings.similar_max_seconds


def _different_capture_times(first: str | None, second: str | None) -> bool:
    """Two EXIF capture times that differ mean two exposures, however alike they look."""
    return first is not None and second is not None and first != second
