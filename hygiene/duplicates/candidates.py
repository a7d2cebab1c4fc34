"""Candidate pairs for the duplicate stage: the hash search (whole frames under every rotation
and mirror, crop windows whose colours agree, centre bands), photos taken moments apart, and
crops that kept their capture time. Each candidate carries the alignment to confirm it with;
stage.py confirms.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from hygiene.config import DuplicateSettings
from hygiene.duplicates.grouping import Node
from hygiene.duplicates.nearsearch import hamming_pairs
from hygiene.records import timestamp
from hygiene.scan import CENTRE_BAND_SLOT, DIHEDRAL
from hygiene.scan.hashing import CROP_WINDOWS, LAYOUT_CELLS, LAYOUT_STEP

# a, b, transform, b is a crop of a, pHash distance, whether the distance limit applies
Proposal = tuple[int, int, int, bool, int, bool]


_CROP_ROTATIONS = (0, 2, 4, 6, 8, 10, 12, 14)


def engine_candidate_pairs(
    nodes: list[Node], pairs: list[tuple[str, str]], settings: DuplicateSettings
) -> list[Proposal]:
    """Another engine's pairs, plus photos taken seconds apart, as unaligned proposals."""
    node_of = {row.rel_path: index for index, node in enumerate(nodes) for row in node.rows}
    hashes = [node.hashes[0] for node in nodes]
    found: dict[tuple[int, int], Proposal] = {}
    known = [(node_of[a], node_of[b]) for a, b in pairs if a in node_of and b in node_of]
    for a, b in known + _taken_close_together(nodes, settings.similar_max_seconds):
        if a != b:
            distance = int(np.bitwise_count(hashes[a] ^ hashes[b]))
            found[(min(a, b), max(a, b))] = (a, b, 0, False, distance, False)
    return list(found.values())


_CANDIDATES_VERSION = 1  # raise when candidate_pairs proposes differently from the same inputs


def candidates_key(nodes: list[Node], settings: DuplicateSettings, scan_keys: Iterable[str]) -> str:
    """A digest of everything candidate_pairs reads, in node order: equal keys, equal pairs.

    The colour layouts are not read for it: they come from the same thumbnail as colourfulness,
    under the same scan settings (`scan_keys`), so a content whose layouts changed changed those.
    """
    digest = hashlib.blake2b(digest_size=20)
    searched = (
        settings.near_max_distance,
        settings.crop_max_distance,
        settings.max_colour_difference,
        settings.similar_max_seconds,
    )
    digest.update(repr((_CANDIDATES_VERSION, sorted(scan_keys), searched)).encode())
    for node in nodes:
        facts = node.facts
        read = (facts.taken_at, facts.colourfulness, facts.width, facts.height)
        digest.update(node.hashes.tobytes())
        digest.update(repr(read).encode())
    return digest.hexdigest()


def proposals_to_bytes(proposals: list[Proposal]) -> bytes:
    return np.array(proposals, np.int64).reshape(-1, 6).tobytes()


def proposals_from_bytes(stored: bytes) -> list[Proposal]:
    table = np.frombuffer(stored, np.int64).reshape(-1, 6)
    return [(a, b, t, bool(c), d, bool(h)) for a, b, t, c, d, h in table.tolist()]


# The colour layouts (hashing.window_colours) of these nodes, in order; b"" where unknown.
LayoutReader = Callable[[list[Node]], list[bytes]]


def candidate_pairs(
    nodes: list[Node], settings: DuplicateSettings, window_colours: LayoutReader
) -> list[Proposal]:
    """The closest proposed alignment for every pair of nodes the hash search brings together.

    (a, b, t, False, d): b looks like DIHEDRAL[t] of a.
    (a, b, 0, True, d): b looks like a crop of a.
    """
    if len(nodes) < 2:
        return []
    hashes = np.stack([n.hashes for n in nodes])
    rotations = len(DIHEDRAL)
    radius = settings.near_max_distance
    # Columns: a, b, transform, crop, distance. Kept as arrays: there can be millions.
    found = []
    whole = hamming_pairs(hashes[:, 0], hashes[:, :rotations].ravel(), radius)
    a_nodes, transforms = np.divmod(whole.query, rotations)
    found.append(_columns(a_nodes, whole.index, transforms, False, whole.distance))
    bands = hamming_pairs(hashes[:, CENTRE_BAND_SLOT], hashes[:, CENTRE_BAND_SLOT], radius)
    found.append(_columns(bands.query, bands.index, 0, False, bands.distance))
    burst = np.array(_taken_close_together(nodes, settings.similar_max_seconds), np.int64)
    if len(burst):
        distance = np.bitwise_count(hashes[burst[:, 0], 0] ^ hashes[burst[:, 1], 0])
        found.append(_columns(burst[:, 0], burst[:, 1], 0, False, distance))
    crops = _colour_gated_crops(nodes, hashes, settings, window_colours)
    found.append(_columns(crops.originals, crops.crops, 0, True, crops.distance))
    table = np.concatenate(found)
    table = table[table[:, 0] != table[:, 1]]
    pair = np.minimum(table[:, 0], table[:, 1]) * len(nodes) + np.maximum(table[:, 0], table[:, 1])
    # The closest whole-frame and the closest crop alignment of each pair are both kept: a crop
    # often also looks close to its original's centre band, an alignment that cannot confirm it.
    pair = pair * 2 + table[:, 3]
    closest_first = np.lexsort((table[:, 4], pair))
    _, first = np.unique(pair[closest_first], return_index=True)
    hash_proposals = [
        (a, b, t, bool(c), d, True) for a, b, t, c, d in table[closest_first[first]].tolist()
    ]
    return hash_proposals + _same_capture_crops(nodes, burst, hashes)


def _colour_gated_crops(
    nodes: list[Node], hashes: np.ndarray, settings: DuplicateSettings, layouts: LayoutReader
) -> CropMatches:
    """crop_window_matches through the ColourGate; the gate's layouts are let go on return."""
    gate = ColourGate(
        lambda named: layouts([nodes[i] for i in named]),
        np.array([node.facts.colourfulness for node in nodes]),
        settings.max_colour_difference,
    )
    return crop_window_matches(hashes, settings.crop_max_distance, keep=gate.agrees)


@dataclass(frozen=True, slots=True)
class CropMatches:
    """Photos whose whole-frame pHash is near the pHash of a crop window of another."""

    originals: np.ndarray  # node of the larger frame
    window: np.ndarray  # which of its CROP_WINDOWS matched
    crops: np.ndarray  # node whose whole frame matched it
    distance: np.ndarray  # pHash bits apart


def crop_window_matches(
    hashes: np.ndarray,
    max_distance: int,
    keep: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
) -> CropMatches:
    """Every (original, window, crop) within `max_distance` bits; `hashes` is (nodes, views).
    `keep(crops, positions)`, if given, says which matches to keep, a position being
    original * len(CROP_WINDOWS) + window."""
    windows = hashes[:, len(DIHEDRAL) : CENTRE_BAND_SLOT]
    # A crop's hash sits further from its window than a re-encode's from its original: more bit
    # rotations of the band boundaries find more of those pairs, at twice the lookups.
    found = hamming_pairs(
        windows.ravel(), hashes[:, 0], max_distance, rotations=_CROP_ROTATIONS, keep=keep
    )
    originals, window = np.divmod(found.index, windows.shape[1])
    return CropMatches(originals, window, found.query, found.distance)


# Below this colourfulness one side may count as greyscale where a pair is confirmed (on a
# smaller, blurrier copy than the one the layouts come from), and colours then prove nothing.
_COLOURFUL = 0.04


class ColourGate:
    """The colour test of crop-window matches, applied inside the hash search (as
    hamming_pairs' `keep`): chance matches grow with the square of the archive (1.79M among
    70,000 generated scenes), and held until a test afterwards they took the parent to 1 GiB.
    Holds every photo's layouts meanwhile, 1,152 bytes each.

    pHash bits see only luminance, and a 14-bit radius over 23 windows pairs photos of the same
    layout (sky over ground) by chance: 35,167 such pairs among 10,000 generated scenes with no
    duplicates in them. Their colours seldom agree.
    """

    def __init__(
        self,
        layouts_of: Callable[[list[int]], list[bytes]],
        colourfulness: np.ndarray,
        max_difference: float,
    ) -> None:
        views, cells = 1 + len(CROP_WINDOWS), LAYOUT_CELLS**2 * 3
        nodes = np.arange(len(colourfulness))
        self._layouts, known = _read_layouts(nodes, layouts_of, views, cells)
        self._judged = known & (colourfulness >= _COLOURFUL)
        self._max_difference = max_difference

    def differences(self, crops: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """Mean chroma difference between each crop's colour layout and that of the window
        (position = original * len(CROP_WINDOWS) + window) its hash matched; NaN where either
        side is greyscale or has no layout."""
        originals, windows = np.divmod(positions, len(CROP_WINDOWS))
        window_layout = self._layouts[originals, 1 + windows].astype(np.int16)
        steps = np.abs(window_layout - self._layouts[crops, 0]).mean(axis=1)
        judged = self._judged[originals] & self._judged[crops]
        return np.where(judged, steps * LAYOUT_STEP, np.nan)

    def agrees(self, crops: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """Per match: within the colour limit, or colours cannot tell."""
        return ~(self.differences(crops, positions) > self._max_difference)


def layout_differences(
    matches: CropMatches,
    layouts_of: Callable[[list[int]], list[bytes]],
    colourfulness: np.ndarray,
) -> np.ndarray:
    """ColourGate.differences of matches already found (bench/crop_colours.py reads every
    match, gated or not); `layouts_of(nodes)` reads the layouts of the nodes named, b"" where
    there is none; `colourfulness` is per node."""
    gate = ColourGate(layouts_of, colourfulness, max_difference=np.inf)
    positions = matches.originals * len(CROP_WINDOWS) + matches.window
    return gate.differences(matches.crops, positions)


_LAYOUT_BLOCK = 2_000  # nodes whose layouts are asked for at once


def _read_layouts(
    named: np.ndarray, layouts_of: Callable[[list[int]], list[bytes]], views: int, cells: int
) -> tuple[np.ndarray, np.ndarray]:
    """These nodes' layouts, int8 (nodes, views, cells), asked for a block at a time; and
    whether each node has one."""
    table = np.zeros((len(named), views, cells), np.int8)
    known = np.zeros(len(named), bool)
    for start in range(0, len(named), _LAYOUT_BLOCK):
        block = named[start : start + _LAYOUT_BLOCK].tolist()
        for offset, layout in enumerate(layouts_of(block)):
            if len(layout) == views * cells:
                table[start + offset] = np.frombuffer(layout, np.int8).reshape(views, cells)
                known[start + offset] = True
    return table, known


def _same_capture_crops(
    nodes: list[Node], close_in_time: np.ndarray, hashes: np.ndarray
) -> list[Proposal]:
    """Both crop alignments of every pair with the same EXIF capture time, whatever the hashes.

    An editor's crop keeps the original's capture time but can move the hash far from any window
    the search indexes; one shutter press plus a template match on the pixels is the evidence.
    Only the larger frame is searched for the smaller one: two frames of the same size (a burst
    in one second, where the camera lacks sub-second times) are never each other's crop.
    """
    proposals: list[Proposal] = []
    for a, b in close_in_time.tolist():
        if nodes[a].facts.taken_at != nodes[b].facts.taken_at:
            continue
        distance = int(np.bitwise_count(hashes[a, 0] ^ hashes[b, 0]))
        if _pixels(nodes[b]) < _pixels(nodes[a]):
            proposals.append((a, b, 0, True, distance, False))
        elif _pixels(nodes[a]) < _pixels(nodes[b]):
            proposals.append((b, a, 0, True, distance, False))
    return proposals


def _pixels(node: Node) -> int:
    return node.facts.width * node.facts.height


def _columns(
    a: np.ndarray, b: np.ndarray, transform: object, crop: bool, distance: np.ndarray
) -> np.ndarray:
    out = np.empty((len(a), 5), np.int64)
    out[:, 0], out[:, 1], out[:, 2], out[:, 3], out[:, 4] = a, b, transform, crop, distance
    return out


_BURST_NEIGHBOURS = 50  # a burst of hundreds of frames in seconds is compared frame to nearby frame


def _taken_close_together(nodes: list[Node], max_seconds: float) -> list[tuple[int, int]]:
    """Pairs of photos taken within `max_seconds` of each other (burst candidates)."""
    timed = sorted(
        (when, index)
        for index, node in enumerate(nodes)
        if (when := timestamp(node.facts.taken_at)) is not None
    )
    pairs = []
    for position, (when, index) in enumerate(timed):
        for later, other in timed[position + 1 : position + 1 + _BURST_NEIGHBOURS]:
            if later - when > max_seconds:
                break
            pairs.append((index, other))
    return pairs
