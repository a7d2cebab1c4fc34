"""Exact, pixel-identical and near-duplicate groups with a keeper each; similar-shot clusters.

Evidence flows one way: identical bytes (confirmed byte by byte) -> identical decoded pixels ->
hash candidates from a sub-quadratic search, each confirmed on aligned thumbnails. A group is
built around its keeper and every member is confirmed against that keeper directly, so groups
cannot chain two unrelated photos together through a third.
"""

from __future__ import annotations

import filecmp
import functools
import hashlib
import sqlite3
from collections import OrderedDict, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from dataclasses import fields as dataclass_fields
from pathlib import Path

import numpy as np

from hygiene import catalog
from hygiene.config import DuplicateSettings, QualityThresholds
from hygiene.duplicates.candidates import Proposal, candidate_pairs, engine_candidate_pairs
from hygiene.duplicates.grouping import (
    DuplicateGroup,
    Edge,
    Member,
    Node,
    SimilarShot,
    groups_around_keepers,
    similar_clusters,
)
from hygiene.duplicates.keeper import Candidate, rank_key
from hygiene.duplicates.verify import Comparison, MatchLimits, compare, rgb_array
from hygiene.protect import is_protected, protected_prefixes
from hygiene.records import ImageRow, seconds_apart
from hygiene.scan import (
    DIHEDRAL,
    DecodeError,
    decode,
    decode_thumbnail,
    pixel_sha256_hex,
    quality_flags,
)

# Bump when the way a pair is judged changes: cached verdicts from other versions are ignored.
VERIFY_VERSION = 3


@dataclass
class DuplicateReport:
    groups: list[DuplicateGroup]
    similar: list[list[SimilarShot]]  # clusters, each with at least two distinct photos

    def members_by_seq(self) -> dict[int, Member]:
        return {m.seq: m for g in self.groups for m in g.members}

    @property
    def removable(self) -> list[Member]:
        return [m for g in self.groups for m in g.members if not m.keeper]


class _Thumbnails:
    """Decoded thumbnails for verification, in a bounded cache (memory must not grow with N)."""

    def __init__(self, load: Callable[[str], bytes | None], capacity: int = 128) -> None:
        self._load = load
        self._cache: OrderedDict[str, np.ndarray | None] = OrderedDict()
        self._capacity = capacity

    def get(self, node: Node) -> np.ndarray | None:
        sha256, facts = node.rows[0].sha256, node.facts
        if sha256 in self._cache:
            self._cache.move_to_end(sha256)
            return self._cache[sha256]
        webp = self._load(sha256)
        box = (facts.content_left, facts.content_top, facts.content_right, facts.content_bottom)
        value = rgb_array(decode_thumbnail(webp), box) if webp else None
        self._cache[sha256] = value
        if len(self._cache) > self._capacity:
            self._cache.popitem(last=False)
        return value


def find_duplicates(
    rows: list[ImageRow],
    root: Path,
    conn: sqlite3.Connection,
    settings: DuplicateSettings,
    quality: QualityThresholds,
    *,
    max_pixels: int,
    engine_pairs: list[tuple[str, str]] | None = None,
    on_pairs: Callable[[int, int], None] | None = None,
) -> DuplicateReport:
    """`engine_pairs` (relative paths) replace the hash search as near-duplicate candidates
    when another engine proposes them; they are confirmed the same way. `on_pairs(done, total)`
    hears how far the confirmation of candidate pairs has got."""
    protected = _protected_matcher(root, settings.protected_roots)
    nodes = _nodes(rows, root, settings.keeper_rules, quality, protected)
    thumbnails = _Thumbnails(lambda sha: catalog.thumbnail(conn, sha))
    pixel_hash = _PixelHashes(root, conn, max_pixels)
    if engine_pairs is None:
        proposals = candidate_pairs(nodes, settings)
    else:
        proposals = engine_candidate_pairs(nodes, engine_pairs, settings)
    edges, similar_pairs = _confirmed_edges(
        conn, nodes, proposals, settings, thumbnails, pixel_hash, on_pairs or _unheard
    )

    def confirm(a: int, b: int) -> bool:
        """Whether b matches a on thumbnails under some rotation or mirror, or as a crop."""
        rgb_a, rgb_b = thumbnails.get(nodes[a]), thumbnails.get(nodes[b])
        if rgb_a is None or rgb_b is None:
            return False
        checks = [(rgb_a, rgb_b, t, False) for t in range(len(DIHEDRAL))]
        checks += [(rgb_a, rgb_b, 0, True), (rgb_b, rgb_a, 0, True)]
        return any(
            compare(x, y, t, b_is_crop_of_a=c).is_duplicate(_match_limits(settings))
            for x, y, t, c in checks
        )

    groups = groups_around_keepers(
        nodes,
        edges,
        settings.keeper_rules,
        confirm,
        similar_pairs,
        burst_seconds=settings.similar_max_seconds,
    )
    return DuplicateReport(groups, similar_clusters(nodes, similar_pairs, groups))


# ---------------------------------------------------------------- nodes and exact duplicates


def _nodes(
    rows: list[ImageRow],
    root: Path,
    rules: tuple[str, ...],
    quality: QualityThresholds,
    protected: Callable[[str], bool],
) -> list[Node]:
    by_content: dict[tuple[int, str], list[ImageRow]] = defaultdict(list)
    for row in rows:
        by_content[(row.size_bytes, row.sha256)].append(row)  # size first, as dedupe tools do
    nodes = []
    for same_hash in by_content.values():
        for same_bytes in _split_by_bytes(same_hash, root):
            candidates = [_candidate(r, quality, protected) for r in same_bytes]
            ordered = sorted(
                zip(candidates, same_bytes, strict=True), key=lambda p: rank_key(p[0], rules)
            )
            hashes = np.frombuffer(same_bytes[0].facts.near_hashes, dtype=np.uint64)
            nodes.append(Node([r for _, r in ordered], hashes, ordered[0][0]))
    return nodes


def _split_by_bytes(rows: list[ImageRow], root: Path) -> list[list[ImageRow]]:
    """Equal sha256 is confirmed byte by byte before files are called exact duplicates."""
    groups: list[list[ImageRow]] = []
    for row in rows:
        for group in groups:
            if _same_bytes(root / group[0].rel_path, root / row.rel_path):
                group.append(row)
                break
        else:
            groups.append([row])
    return groups


def _same_bytes(a: Path, b: Path) -> bool:
    try:
        return filecmp.cmp(a, b, shallow=False)
    except OSError:
        return False  # unreadable now: do not vouch for it


def _candidate(
    row: ImageRow, quality: QualityThresholds, protected: Callable[[str], bool]
) -> Candidate:
    facts = row.facts
    degraded = quality_flags(facts, quality)
    return Candidate(
        seq=row.seq,
        rel_path=row.rel_path,
        size_bytes=row.size_bytes,
        width=facts.width,
        height=facts.height,
        format=facts.format,
        content_fraction=facts.content_fraction,
        colourfulness=facts.colourfulness,
        taken_at=facts.taken_at,
        degraded=degraded,
        protected=protected(row.rel_path),
    )


def _protected_matcher(root: Path, protected_roots: tuple[str, ...]) -> Callable[[str], bool]:
    prefixes = protected_prefixes(root, protected_roots)
    return lambda rel_path: is_protected(rel_path, prefixes)


# ---------------------------------------------------------------- candidates and confirmation


class _PixelHashes:
    """Full-resolution pixel hashes, computed only for the files a decision needs, and cached in
    the stage's own table (the scan's contents are never written here)."""

    def __init__(self, root: Path, conn: sqlite3.Connection, max_pixels: int) -> None:
        self._root, self._conn, self._max_pixels = root, conn, max_pixels

    def get(self, node: Node) -> str | None:
        facts = node.facts
        if facts.pixel_sha256:
            return facts.pixel_sha256
        row = node.rows[0]
        if (digest := catalog.pixel_hash(self._conn, row.sha256)) is not None:
            node.rows = [_with_pixel_hash(r, digest) for r in node.rows]
            return digest
        try:
            data = (self._root / row.rel_path).read_bytes()
            fmt = "HEIF" if facts.format in ("HEIF", "AVIF") else facts.format
            fmt = "JPEG" if fmt == "MPO" else fmt
            decoded = decode(data, fmt, max_pixels=self._max_pixels, min_side_px=1 << 30)
        except (OSError, DecodeError):
            return None
        digest = pixel_sha256_hex(decoded.rgb)
        catalog.record_pixel_hash(self._conn, row.sha256, digest)
        node.rows = [_with_pixel_hash(r, digest) for r in node.rows]
        return digest


def _with_pixel_hash(row: ImageRow, digest: str) -> ImageRow:
    return replace(row, facts=replace(row.facts, pixel_sha256=digest))


def _check_key(settings: DuplicateSettings) -> str:
    """Names the code and settings a cached pair verdict came from."""
    fields = (VERIFY_VERSION, *(getattr(settings, f.name) for f in dataclass_fields(settings)))
    return hashlib.sha256(repr(fields).encode()).hexdigest()[:16]


def _confirmed_edges(
    conn: sqlite3.Connection,
    nodes: list[Node],
    proposals: list[Proposal],
    settings: DuplicateSettings,
    thumbnails: _Thumbnails,
    pixel_hash: _PixelHashes,
    on_pairs: Callable[[int, int], None],
) -> tuple[dict[int, dict[int, Edge]], list[tuple[int, int]]]:
    # pair -> (relation, pHash distance, residual): its strongest verdict over its alignments,
    # and among equally strong ones the closest
    verdicts: dict[tuple[int, int], tuple[str, int, float]] = {}
    check_key = _check_key(settings)
    for done, (a, b, transform, crop, distance, gated) in enumerate(proposals):
        if done % _PROGRESS_EVERY == 0:
            on_pairs(done, len(proposals))
        pair = (min(a, b), max(a, b))
        if not gated and verdicts.get(pair, ("none",))[0] in ("near", "pixel"):
            continue  # the extra alignments only matter where the hashed ones failed
        sha_a, sha_b = nodes[a].rows[0].sha256, nodes[b].rows[0].sha256
        key = f"{check_key}:{transform}:{crop:d}:{gated:d}"  # the verdict depends on alignment
        cached = catalog.pair_relation(conn, sha_a, sha_b, key)
        if cached is None:
            limit = _near_limit(crop, settings) if gated else 64
            cached = _relation(
                nodes[a],
                nodes[b],
                transform,
                crop,
                distance,
                limit,
                settings,
                thumbnails,
                pixel_hash,
            )
            catalog.record_pair_relation(conn, sha_a, sha_b, key, *cached)
        kind, residual = cached
        earlier = verdicts.get(pair)
        if earlier is None or (-_RELATION_RANK[kind], residual) < (
            -_RELATION_RANK[earlier[0]],
            earlier[2],
        ):
            verdicts[pair] = (kind, distance, residual)
    on_pairs(len(proposals), len(proposals))
    edges: dict[int, dict[int, Edge]] = defaultdict(dict)
    similar: list[tuple[int, int]] = []
    for (a, b), (kind, distance, residual) in verdicts.items():
        if kind == "similar":
            similar.append((a, b))
        elif kind != "none":
            edge = Edge(kind, 0, 0.0) if kind == "pixel" else Edge(kind, distance, residual)
            edges[a][b] = edges[b][a] = edge
    return edges, similar


_UNCOMPARED = 1.0  # residual recorded when a thumbnail is missing
_PROGRESS_EVERY = 64  # candidate pairs between two progress reports


def _unheard(done: int, total: int) -> None:
    pass


_RELATION_RANK = {"none": 0, "similar": 1, "near": 2, "pixel": 3}


def _relation(
    a: Node,
    b: Node,
    transform: int,
    crop: bool,
    distance: int,
    limit: int,
    settings: DuplicateSettings,
    thumbnails: _Thumbnails,
    pixel_hash: _PixelHashes,
) -> tuple[str, float]:
    """(relation, mean residual of the aligned thumbnails); relation "none" when unrelated."""
    rgb_a, rgb_b = thumbnails.get(a), thumbnails.get(b)
    same_size = (a.facts.width, a.facts.height) == (b.facts.width, b.facts.height)
    if transform == 0 and not crop and same_size and distance <= settings.pixel_max_distance:
        # Identical pixels always gave identical thumbnails (376 of 376 pixel pairs on the
        # benchmark corpora), so only those pairs pay for a full-resolution decode.
        unknown = rgb_a is None or rgb_b is None
        hashed = a.facts.pixel_sha256 and b.facts.pixel_sha256  # by the scan: free to compare
        if unknown or hashed or np.array_equal(rgb_a, rgb_b):
            first, second = pixel_hash.get(a), pixel_hash.get(b)
            if first is not None and first == second:
                return "pixel", 0.0
    if rgb_a is None or rgb_b is None:
        return "none", _UNCOMPARED
    comparison = compare(rgb_a, rgb_b, transform, b_is_crop_of_a=crop)
    distinct_captures = _different_capture_times(a.facts.taken_at, b.facts.taken_at)
    close = distance <= limit and not distinct_captures
    if close and comparison.is_duplicate(_match_limits(settings)):
        return "near", comparison.mean_residual
    if transform == 0 and not crop and _similar(comparison, a, b, settings):
        return "similar", comparison.mean_residual
    return "none", comparison.mean_residual


@functools.cache
def _match_limits(settings: DuplicateSettings) -> MatchLimits:
    return MatchLimits(
        min_correlation=settings.min_correlation,
        max_changed_fraction=settings.max_changed_fraction,
        max_colour_difference=settings.max_colour_difference,
        similar_min_correlation=settings.similar_min_correlation,
    )


def _near_limit(crop: bool, settings: DuplicateSettings) -> int:
    return settings.crop_max_distance if crop else settings.near_max_distance


def _similar(comparison: Comparison, a: Node, b: Node, settings: DuplicateSettings) -> bool:
    if not comparison.is_similar(_match_limits(settings)):
        return False
    seconds = seconds_apart(a.facts.taken_at, b.facts.taken_at)
    return seconds is None or seconds <= settings.similar_max_seconds


def _different_capture_times(first: str | None, second: str | None) -> bool:
    """Two EXIF capture times that differ mean two exposures, however alike they look."""
    return first is not None and second is not None and first != second
