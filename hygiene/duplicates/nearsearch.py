"""Sub-quadratic search for pairs of 64-bit hashes within a Hamming radius (multi-index hashing).

Each hash is cut into four 16-bit bands; two hashes that differ in at most three bits agree
exactly on at least one band (pigeonhole), so looking up each query's bands in a table finds
them all. Repeating with the bits rotated by a few places moves the band boundaries, which also
finds most pairs that differ in up to ~10 bits. Work grows with the number of hashes times the
bucket size, not with the square of the number of hashes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

_BANDS = 4
_BAND_BITS = 16
_KEYS = 1 << _BAND_BITS


@dataclass(frozen=True, slots=True)
class HashPairs:
    query: np.ndarray  # positions in the query array
    index: np.ndarray  # positions in the index array
    distance: np.ndarray  # Hamming distance, uint8


def hamming_pairs(
    index: np.ndarray,
    queries: np.ndarray,
    max_distance: int,
    *,
    rotations: tuple[int, ...] = (0, 8),
    max_bucket: int = 4096,
    max_lookups: int = 250_000,
    keep: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
) -> HashPairs:
    """Unique (query, index) pairs whose hashes differ in at most `max_distance` bits, and that
    `keep(queries, indexes)` (a boolean mask per pair, if given) keeps.

    Buckets holding more than `max_bucket` hashes (blank frames all hash alike) are not expanded:
    they would make the search quadratic and carry no evidence. Queries are looked up in runs of
    at most `max_lookups` (query, bucket entry) pairs, so the search's working memory stays
    bounded (about 40 bytes a lookup) however many photos share a bucket.
    """
    index = np.ascontiguousarray(index, dtype=np.uint64)
    queries = np.ascontiguousarray(queries, dtype=np.uint64)
    pair_keys = np.empty(0, np.int64)  # query * len(index) + index, unique, kept small
    for rotation in rotations:
        rotated_index, rotated_queries = _rotate(index, rotation), _rotate(queries, rotation)
        found = [pair_keys]
        for band in range(_BANDS):
            table = _BandTable(_band(rotated_index, band), max_bucket)
            keys = _band(rotated_queries, band)
            for start, stop in _runs(table.counts[keys], max_lookups):
                q, i = table.lookup(keys[start:stop], offset=start)
                close = np.bitwise_count(queries[q] ^ index[i]) <= max_distance
                q, i = q[close], i[close]
                if keep is not None:  # before the pairs are held: there may be millions
                    kept = keep(q, i)
                    q, i = q[kept], i[kept]
                found.append(q * len(index) + i)
        # The same pair turns up under many rotations; deduplicating as we go bounds memory.
        pair_keys = np.unique(np.concatenate(found))
    query, position = np.divmod(pair_keys, max(len(index), 1))
    distance = np.bitwise_count(queries[query] ^ index[position]).astype(np.uint8)
    return HashPairs(query, position, distance)


def _runs(counts: np.ndarray, max_total: int) -> list[tuple[int, int]]:
    """(start, stop) runs of consecutive positions whose counts add up to at most `max_total`
    (a single larger count gets a run of its own)."""
    ends = np.cumsum(counts)
    runs, start = [], 0
    while start < len(counts):
        before = int(ends[start - 1]) if start else 0
        stop = max(int(np.searchsorted(ends, before + max_total, side="right")), start + 1)
        runs.append((start, stop))
        start = stop
    return runs


class _BandTable:
    def __init__(self, keys: np.ndarray, max_bucket: int) -> None:
        # 16-bit keys: numpy's stable sort of them is a radix sort, several times quicker. The
        # positions are held as int32 where they fit: a table can index millions of windows.
        order = np.argsort(keys, kind="stable")
        self.order = order.astype(np.int32) if len(keys) < 2**31 else order
        del order
        every_key = np.arange(_KEYS, dtype=np.uint16)  # uint16 both: no int64 copy of the keys
        self.starts = np.searchsorted(keys[self.order], every_key).astype(np.int64)
        self.counts = np.diff(self.starts, append=len(keys))
        self.counts[self.counts > max_bucket] = 0

    def lookup(self, keys: np.ndarray, offset: int) -> tuple[np.ndarray, np.ndarray]:
        counts = self.counts[keys]
        total = int(counts.sum())
        query_pos = np.repeat(np.arange(offset, offset + len(keys)), counts)
        first = np.repeat(self.starts[keys] - (np.cumsum(counts) - counts), counts)
        return query_pos, self.order[first + np.arange(total)]


def _band(hashes: np.ndarray, band: int) -> np.ndarray:
    return ((hashes >> np.uint64(band * _BAND_BITS)) & np.uint64(_KEYS - 1)).astype(np.uint16)


def _rotate(hashes: np.ndarray, bits: int) -> np.ndarray:
    if bits == 0:
        return hashes
    shift, back = np.uint64(bits), np.uint64(64 - bits)
    return (hashes << shift) | (hashes >> back)
