"""Duplicate groups built around keepers, and similar-shot clusters, from confirmed relations.

The input is a graph: nodes are distinct contents (files with identical bytes), edges are
confirmed relations between them. A group grows around a seed that every member is confirmed
against, so two unrelated photos never meet through a third; its keeper is the best-ranked
member confirmed against every other member, and (with the default rule chain) no member better
than the keeper on some aspect and worse on none is removed. Pure: no files, no catalog.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from hygiene.duplicates.exposures import closest_capture_times
from hygiene.duplicates.keeper import (
    Candidate,
    Scale,
    compare_copies,
    describe_keeper,
    group_scale,
    rank_key,
    strictly_better,
    why_not_kept,
)
from hygiene.records import QUALITY_FIELDS, ImageFacts, ImageRow, QualityMetrics
from hygiene.scan.hashing import DIHEDRAL

DupKind = str  # "exact" | "pixel" | "near"
KIND_STRENGTH = {"exact": 0, "pixel": 1, "near": 2}
# A copy counts as turned against another when its pHash is within _TURN_MAX_BITS of a rotation or
# mirror of the other and _TURN_EVIDENCE_BITS closer than to the other as it is. Measured: turned
# copies match within 4 bits and differ from the unturned frame by 22 or more; a cropped texture
# came within 22 bits of a mirror of its original, and a near-symmetric frame decides nothing.
_TURN_MAX_BITS = 10
_TURN_EVIDENCE_BITS = 12
_EXPOSURE_FLAGS = {"dark", "bright"}


@dataclass(frozen=True, slots=True)
class Member:
    seq: int
    rel_path: str
    group: int
    kind: DupKind  # how this file relates to the keeper; the keeper carries the group's kind
    distance: int  # pHash bits between this file and the keeper (0 for exact and pixel)
    size_bytes: int
    keeper: bool
    reason: str  # why this file is kept, or why not


@dataclass(frozen=True, slots=True)
class SimilarShot:
    seq: int
    rel_path: str
    taken_at: str | None


@dataclass
class DuplicateGroup:
    group: int
    kind: DupKind  # the loosest relation in the group
    keeper_seq: int
    rationale: str
    members: list[Member] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Edge:
    kind: DupKind
    distance: int  # pHash bits
    residual: float  # mean luminance difference of the aligned thumbnails (0 for pixel copies)


# Quality measurements as columns named by QUALITY_FIELDS, and where each of these rows is in
# them (RunTable.quality_of for a run table's rows, whose facts leave the measurements out).
QualityReader = Callable[[Sequence[ImageRow]], tuple[dict[str, np.ndarray], np.ndarray]]


def own_quality(rows: Sequence[ImageRow]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The quality measurements the rows' own facts carry, as columns in the rows' order."""
    measured = [row.facts.quality for row in rows]
    if any(metrics is None for metrics in measured):
        raise ValueError("a row without quality measurements (a run table's: RunTable.quality_of)")
    columns = {
        name: np.array([getattr(metrics, name) for metrics in measured], np.float64)
        for name in QUALITY_FIELDS
    }
    return columns, np.arange(len(rows))


@dataclass
class Node:
    """One distinct content: files with identical bytes."""

    rows: list[ImageRow]
    hashes: np.ndarray
    best: Candidate
    # its measurements at row `quality_at` of columns shared by all nodes (see QualityReader);
    # None: those of its facts
    quality_columns: dict[str, np.ndarray] | None = None
    quality_at: int = 0

    @property
    def facts(self) -> ImageFacts:
        return self.rows[0].facts

    @property
    def quality(self) -> QualityMetrics | None:
        if self.quality_columns is None:
            return self.facts.quality
        at = self.quality_at
        return QualityMetrics(*(float(self.quality_columns[name][at]) for name in QUALITY_FIELDS))


def groups_around_keepers(
    nodes: list[Node],
    edges: dict[int, dict[int, Edge]],
    rules: tuple[str, ...],
    confirm: Callable[[int, int], bool],
    similar: Sequence[tuple[int, int]] = (),
    burst_seconds: float = 10.0,
) -> list[DuplicateGroup]:
    """Seed groups with central nodes; a node joins only a seed it is confirmed against.

    Seeds go in order of fewest quality flags, then most confirmed relations (an original
    matches all its copies; a cropped or padded copy matches fewer), then keeper rank. Closest
    relations join first, and a node whose EXIF capture time differs from one already in the
    group is another exposure (a burst frame next to a copy that lost its EXIF), so it stays
    out. The keeper is then chosen among the members.

    Copies that are all flagged (dark, bright, blurry) form no group of their own when one of
    them looks like (confirmed or `similar`) a member of a group that holds an unflagged copy:
    they are degraded versions of a picture kept elsewhere, matched to each other on what the
    degradation left (two frames of a burst look alike once both are blown out), and a group
    of them could only keep a degraded copy. The quality flags report them instead. Among
    copies that are all too dark or too bright, only identical bytes or pixels join: clipping
    hides what tells two frames apart even when no good copy of either is in sight.
    """

    def rank(index: int) -> tuple[object, ...]:
        return rank_key(nodes[index].best, rules)

    def time_of(index: int) -> str | None:
        return nodes[index].facts.taken_at or closest_time.get(index)

    def seed_order(index: int) -> tuple[object, ...]:
        # Relations to another exposure do not count: a downscale that matches two frames of a
        # burst must not outrank the frame itself, which alone matches its own crops.
        own_time = time_of(index)
        relations = sum(
            1
            for other in edges.get(index, {})
            if own_time is None or time_of(other) in (None, own_time)
        )
        return (len(nodes[index].best.degraded), -relations, rank(index))

    closest_time = closest_capture_times(
        [node.facts.taken_at for node in nodes],
        {index: {o: e.residual for o, e in related.items()} for index, related in edges.items()},
        burst_seconds,
    )
    looks_alike = _looks_alike(edges, similar)
    held_well: set[int] = set()  # members of groups with an unflagged copy
    assigned: set[int] = set()
    groups: list[DuplicateGroup] = []
    # A lone file with no confirmed relation can neither seed a group nor join one.
    related = [i for i in range(len(nodes)) if edges.get(i) or len(nodes[i].rows) > 1]
    for seed in sorted(related, key=seed_order):
        if seed in assigned:
            continue
        times = {time_of(seed)} - {None}
        joined = [seed]
        closest_first = sorted(
            edges.get(seed, {}).items(),
            key=lambda item: (KIND_STRENGTH[item[1].kind], item[1].distance, rank(item[0])),
        )
        for other, _ in closest_first:
            taken_at = time_of(other)
            if other in assigned or (taken_at is not None and times and taken_at not in times):
                continue
            times |= {taken_at} - {None}
            joined.append(other)
        if _degraded_versions(joined, nodes, looks_alike, held_well):
            joined = [seed]
        elif _exposure_lost(joined, nodes):
            joined = [seed, *(i for i in joined[1:] if edges[seed][i].kind != "near")]
        if len(joined) > 1 or len(nodes[seed].rows) > 1:
            assigned.update(joined)
            if any(not nodes[index].best.degraded for index in joined):
                held_well.update(joined)
            groups.append(_group(len(groups) + 1, nodes, joined, edges, rules, confirm))
    return groups


def _looks_alike(
    edges: dict[int, dict[int, Edge]], similar: Sequence[tuple[int, int]]
) -> dict[int, set[int]]:
    related: dict[int, set[int]] = defaultdict(set)
    for index, others in edges.items():
        related[index].update(others)
    for a, b in similar:
        related[a].add(b)
        related[b].add(a)
    return related


def _degraded_versions(
    joined: list[int], nodes: list[Node], looks_alike: dict[int, set[int]], held_well: set[int]
) -> bool:
    """Whether every member is flagged and one looks like a member of a group with a good copy."""
    if len(joined) < 2 or any(not nodes[index].best.degraded for index in joined):
        return False
    return any(looks_alike[index] & held_well for index in joined)


def _exposure_lost(joined: list[int], nodes: list[Node]) -> bool:
    """Whether every member is flagged dark or bright: clipped or crushed tones hide what tells
    two frames apart, so only byte or pixel identity counts among them."""
    return len(joined) > 1 and all(
        _EXPOSURE_FLAGS & set(nodes[index].best.degraded) for index in joined
    )


def _confirm_all(
    index: int,
    joined: list[int],
    edges: dict[int, dict[int, Edge]],
    confirm: Callable[[int, int], bool],
) -> bool:
    """Make sure `index` is confirmed against every member, checking the pairs not yet compared.

    The hash search may have paired a member only with the seed; a keeper must still match it
    directly (no chaining), so the missing pairs are compared on thumbnails now.
    """
    for other in joined:
        if other == index or other in edges.get(index, {}):
            continue
        if not confirm(index, other):
            return False
        via_seed = edges[joined[0]][other]
        edges[index][other] = edges[other][index] = Edge(
            "near", via_seed.distance, via_seed.residual
        )
    return True


def _group(
    group: int,
    nodes: list[Node],
    joined: list[int],
    edges: dict[int, dict[int, Edge]],
    rules: tuple[str, ...],
    confirm: Callable[[int, int], bool],
) -> DuplicateGroup:
    """Choose the keeper among everything that joined, then describe each file against it.

    When the chain starts with best_quality (the default), no member strictly better than the
    keeper (`keeper.strictly_better`) is removed: it becomes the keeper when it is confirmed
    against every member, and is kept too when it is not. A chain that starts with another rule
    is followed as written.
    """
    turned = _turned_nodes(nodes, joined)
    files = [(i, c) for i in joined for c in _candidates_of(nodes[i], turned=i in turned)]
    scale = group_scale([c for _, c in files])
    ranked = sorted(files, key=lambda f: rank_key(f[1], rules, scale))
    confirmed = _ConfirmedKeepers(joined, edges, confirm)
    guarded = rules[:1] == ("best_quality",)
    keeper_node, keeper = _choose_keeper(ranked, confirmed, promote_better=guarded)
    relations = []
    for index, candidate in files:
        if candidate.seq == keeper.seq:
            continue
        edge = Edge("exact", 0, 0.0) if index == keeper_node else edges[keeper_node][index]
        relations.append((candidate, edge))
    kind = max((e.kind for _, e in relations), key=KIND_STRENGTH.__getitem__, default="exact")
    result = DuplicateGroup(group, kind, keeper.seq, "")
    result.members.append(_member(keeper, group, kind, 0, True, "kept"))
    reasons: dict[str, int] = defaultdict(int)
    for candidate, edge in relations:
        kept, reason = _verdict(candidate, keeper, rules, scale, keep_better=guarded)
        reasons[f"{edge.kind} ({reason})"] += 1
        result.members.append(_member(candidate, group, edge.kind, edge.distance, kept, reason))
    summary = "; ".join(f"{count} {text}" for text, count in sorted(reasons.items()))
    strengths = _strengths(keeper, [c for c, _ in relations])
    result.rationale = f"kept: {describe_keeper(keeper, strengths)}; others: {summary}"
    return result


class _ConfirmedKeepers:
    """Which nodes may be the keeper: the seed, and nodes confirmed against every member."""

    def __init__(
        self,
        joined: list[int],
        edges: dict[int, dict[int, Edge]],
        confirm: Callable[[int, int], bool],
    ) -> None:
        self._joined, self._edges, self._confirm = joined, edges, confirm
        self._known: dict[int, bool] = {joined[0]: True}  # the seed matches every member

    def __call__(self, index: int) -> bool:
        if index not in self._known:
            self._known[index] = _confirm_all(index, self._joined, self._edges, self._confirm)
        return self._known[index]


def _choose_keeper(
    ranked: list[tuple[int, Candidate]],
    confirmed: Callable[[int], bool],
    *,
    promote_better: bool,
) -> tuple[int, Candidate]:
    """The best-ranked confirmed file, replaced while a confirmed file is strictly better."""
    keeper_node, keeper = next((i, c) for i, c in ranked if confirmed(i))
    tried = {keeper.seq}
    while promote_better:
        better = (
            (i, c)
            for i, c in ranked
            if c.seq not in tried and strictly_better(c, keeper) and confirmed(i)
        )
        promoted = next(better, None)
        if promoted is None:
            return keeper_node, keeper
        keeper_node, keeper = promoted
        tried.add(keeper.seq)
    return keeper_node, keeper


def _verdict(
    candidate: Candidate,
    keeper: Candidate,
    rules: tuple[str, ...],
    scale: Scale,
    *,
    keep_better: bool,
) -> tuple[bool, str]:
    """Whether a file that is not the keeper is kept all the same, and why (or why not)."""
    if candidate.protected:
        return True, "in a protected folder: always kept"
    against_keeper = compare_copies(candidate, keeper, with_size=True)
    if keep_better and against_keeper.strictly_better:
        words = ", ".join(against_keeper.better)
        return True, f"{words} than the keeper, not confirmed against every copy: kept too"
    if keep_better and candidate.taken_at and not keeper.taken_at and not against_keeper.worse:
        return True, "as good as the keeper and carries the capture date it lacks: kept too"
    if rank_key(candidate, rules, scale) >= rank_key(keeper, rules, scale):
        return False, why_not_kept(keeper, candidate, rules, scale)
    if against_keeper.worse and not against_keeper.better:  # the keeper was promoted over it
        return False, ", ".join(against_keeper.worse)
    return False, "ranks higher but is not confirmed against every copy"


def _strengths(keeper: Candidate, others: list[Candidate]) -> tuple[str, ...]:
    """Where the keeper beats the files removed, on quality ("sharper", "better exposed")."""
    words: dict[str, None] = {}
    for other in others:
        if not other.protected:
            words.update(dict.fromkeys(compare_copies(keeper, other).better))
    return tuple(words)


def _turned_nodes(nodes: list[Node], joined: list[int]) -> set[int]:
    """Members rotated or mirrored against the orientation most members share.

    Orientations are counted over distinct contents; a tie goes to the orientation of a member
    with camera metadata (EXIF date or model), the likely original; a tie left over turns no one.
    """
    reference = nodes[joined[0]].hashes
    turn = {index: _turn_against(reference, nodes[index].hashes) for index in joined}
    votes = Counter(turn.values())
    camera = {turn[i] for i in joined if nodes[i].facts.taken_at or nodes[i].facts.camera_model}
    ranked = sorted(((votes[t], t in camera), t) for t in votes)
    if len(ranked) > 1 and ranked[-1][0] == ranked[-2][0]:
        return set()
    usual = ranked[-1][1]
    return {index for index, t in turn.items() if t != usual}


def _turn_against(reference: np.ndarray, hashes: np.ndarray) -> int:
    """The DIHEDRAL index that maps the reference frame onto this one; 0 when not clearly turned."""
    distances = [int(np.bitwise_count(reference[t] ^ hashes[0])) for t in range(len(DIHEDRAL))]
    best = min(range(len(DIHEDRAL)), key=distances.__getitem__)
    clear = distances[best] <= _TURN_MAX_BITS
    return best if clear and distances[0] - distances[best] >= _TURN_EVIDENCE_BITS else 0


def _member(
    candidate: Candidate, group: int, kind: DupKind, distance: int, keeper: bool, reason: str
) -> Member:
    return Member(
        candidate.seq,
        candidate.rel_path,
        group,
        kind,
        distance,
        candidate.size_bytes,
        keeper,
        reason,
    )


def _candidates_of(node: Node, *, turned: bool = False) -> list[Candidate]:
    """The node's files as keeper candidates, best first (node.rows is kept in rank order),
    with the measurements the relative comparison needs."""
    best = replace(node.best, quality=node.quality, turned=turned)
    return [best] + [_as_candidate_like(best, row) for row in node.rows[1:]]


def _as_candidate_like(best: Candidate, row: ImageRow) -> Candidate:
    return replace(best, seq=row.seq, rel_path=row.rel_path)


def similar_clusters(
    nodes: list[Node], pairs: list[tuple[int, int]], groups: list[DuplicateGroup]
) -> list[list[SimilarShot]]:
    """Connected similar pairs, merged per duplicate group; only clusters of distinct photos."""
    seq_group = {m.seq: g.group for g in groups for m in g.members}
    unit = [seq_group.get(node.rows[0].seq, -1 - index) for index, node in enumerate(nodes)]
    parent = {u: u for u in unit}

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        parent[find(unit[a])] = find(unit[b])
    paired = {find(unit[a]) for a, _ in pairs}  # any other root holds a single unit
    clusters: dict[int, list[SimilarShot]] = defaultdict(list)
    distinct: dict[int, set[int]] = defaultdict(set)
    for index, node in enumerate(nodes):
        root = find(unit[index])
        if root not in paired:
            continue
        row = node.rows[0]
        clusters[root].append(SimilarShot(row.seq, row.rel_path, row.facts.taken_at))
        distinct[root].add(unit[index])
    kept = [sorted(c, key=lambda s: s.seq) for r, c in clusters.items() if len(distinct[r]) > 1]
    return sorted(kept, key=lambda cluster: cluster[0].seq)
