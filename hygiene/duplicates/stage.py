"""Exact, pixel-identical and near-duplicate groups with a keeper each; similar-shot clusters.

Evidence flows one way: identical bytes (confirmed byte by byte) -> identical decoded pixels ->
hash candidates from a sub-quadratic search, each confirmed on aligned thumbnails. A group is
built around its keeper and every member is confirmed against that keeper directly, so groups
cannot chain two unrelated photos together through a third.
"""

from __future__ import annotations

import filecmp
import sqlite3
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hygiene import catalog
from hygiene.config import DuplicateSettings, QualityThresholds
from hygiene.duplicates.candidates import (
    candidate_pairs,
    candidates_key,
    engine_candidate_pairs,
    proposals_from_bytes,
    proposals_to_bytes,
)
from hygiene.duplicates.confirm import ConfirmSettings, Thumbnails, confirmed_edges, match_limits
from hygiene.duplicates.grouping import (
    DuplicateGroup,
    Member,
    Node,
    QualityReader,
    SimilarShot,
    groups_around_keepers,
    own_quality,
    similar_clusters,
)
from hygiene.duplicates.keeper import Candidate, rank_key
from hygiene.heap import release_freed_memory
from hygiene.protect import is_protected, protected_prefixes
from hygiene.records import ImageRow
from hygiene.scan import DIHEDRAL, flag_columns


@dataclass
class DuplicateReport:
    groups: list[DuplicateGroup]
    similar: list[list[SimilarShot]]  # clusters, each with at least two distinct photos

    def members_by_seq(self) -> dict[int, Member]:
        return {m.seq: m for g in self.groups for m in g.members}

    @property
    def removable(self) -> list[Member]:
        return [m for g in self.groups for m in g.members if not m.keeper]


def find_duplicates(
    rows: list[ImageRow],
    root: Path,
    conn: sqlite3.Connection,
    settings: DuplicateSettings,
    quality: QualityThresholds,
    *,
    max_pixels: int,
    quality_of: QualityReader = own_quality,
    engine_pairs: list[tuple[str, str]] | None = None,
    on_pairs: Callable[[int, int], None] | None = None,
    workers: int = 1,
) -> DuplicateReport:
    """`quality_of` gives a row's quality measurements: RunTable.quality_of for a run table's
    rows, whose facts leave them out. `engine_pairs` (relative paths) replace the hash search as
    near-duplicate candidates when another engine proposes them; they are confirmed the same
    way. `on_pairs(done, total)` hears how far the confirmation of candidate pairs has got.
    With `workers` > 1 the pairs are confirmed in that many processes."""
    protected = _protected_matcher(root, settings.protected_roots)
    nodes = _nodes(rows, root, settings.keeper_rules, quality, protected, quality_of)
    if engine_pairs is None:

        def window_colours(wanted: list[Node]) -> list[bytes]:
            found = catalog.window_colours(conn, root, [node.rows[0].rel_path for node in wanted])
            return [found.get(node.rows[0].rel_path, b"") for node in wanted]

        inputs_key = candidates_key(nodes, settings, catalog.scan_keys(conn, root))
        stored = catalog.candidate_set(conn, inputs_key)
        if stored is not None:
            proposals = proposals_from_bytes(stored)
        else:
            proposals = candidate_pairs(nodes, settings, window_colours)
            catalog.record_candidate_set(conn, inputs_key, proposals_to_bytes(proposals))
    else:
        proposals = engine_candidate_pairs(nodes, engine_pairs, settings)
    release_freed_memory()  # the hash search's temporaries
    confirm_settings = ConfirmSettings(catalog.location_of(conn), str(root), max_pixels, settings)
    edges, similar_pairs = confirmed_edges(
        conn, nodes, proposals, confirm_settings, workers=workers, on_pairs=on_pairs or _unheard
    )
    thumbnails = Thumbnails(lambda sha: catalog.thumbnail(conn, sha))

    def confirm(a: int, b: int) -> bool:
        """Whether b matches a on thumbnails under some rotation or mirror, or as a crop."""
        frame_a, frame_b = thumbnails.get(nodes[a]), thumbnails.get(nodes[b])
        if frame_a is None or frame_b is None:
            return False
        checks = [(frame_a, frame_b, t, False) for t in range(len(DIHEDRAL))]
        checks += [(frame_a, frame_b, 0, True), (frame_b, frame_a, 0, True)]
        limits = match_limits(settings)
        return any(
            thumbnails.compare(x, y, t, crop=c, limits=limits).is_duplicate(limits)
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
    quality_of: QualityReader,
) -> list[Node]:
    # Measurements stay columns and flags are derived for all rows at once: QualityMetrics made
    # per file here, though let go after, left the heap fragmented under the hash search.
    columns, at = quality_of(rows)
    flags = flag_columns(columns, quality)
    names, positions = list(flags), at.tolist()
    raised = [
        tuple(name for name, up in zip(names, ups, strict=True) if up)
        for ups in zip(*(column[at].tolist() for column in flags.values()), strict=True)
    ]
    by_content: dict[tuple[int, str], list[int]] = defaultdict(list)
    for index, row in enumerate(rows):
        by_content[(row.size_bytes, row.sha256)].append(index)  # size first, as dedupe tools do
    nodes = []
    for same_hash in by_content.values():
        for same_bytes in _split_by_bytes(same_hash, rows, root):
            ordered = [(_candidate(rows[i], raised[i], protected), i) for i in same_bytes]
            if len(ordered) > 1:  # most contents have one file: nothing to rank
                ordered.sort(key=lambda p: rank_key(p[0], rules))
            first = ordered[0][1]
            hashes = np.frombuffer(rows[first].facts.near_hashes, dtype=np.uint64)
            members = [rows[i] for _, i in ordered]
            nodes.append(Node(members, hashes, ordered[0][0], columns, positions[first]))
    return nodes


def _split_by_bytes(indexes: list[int], rows: list[ImageRow], root: Path) -> list[list[int]]:
    """Equal sha256 is confirmed byte by byte before files are called exact duplicates."""
    groups: list[list[int]] = []
    for index in indexes:
        for group in groups:
            if _same_bytes(root / rows[group[0]].rel_path, root / rows[index].rel_path):
                group.append(index)
                break
        else:
            groups.append([index])
    return groups


def _same_bytes(a: Path, b: Path) -> bool:
    try:
        return filecmp.cmp(a, b, shallow=False)
    except OSError:
        return False  # unreadable now: do not vouch for it


def _candidate(
    row: ImageRow, degraded: tuple[str, ...], protected: Callable[[str], bool]
) -> Candidate:
    facts = row.facts
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


def _unheard(done: int, total: int) -> None:
    pass


def _protected_matcher(root: Path, protected_roots: tuple[str, ...]) -> Callable[[str], bool]:
    prefixes = protected_prefixes(root, protected_roots)
    return lambda rel_path: is_protected(rel_path, prefixes)
