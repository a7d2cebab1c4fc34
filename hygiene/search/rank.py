"""Rank a library against a query vector and keep only what stands out. Pure.

The similarity is the cosine of unit CLIP embeddings. Its scale differs between models and
between text and image queries (a matching caption scores about 0.3 with ViT-B-32, a near-copy
of a photo above 0.9), so the default floor comes from the query's own scores over the library.
A photo is a match when its score
- stands out from the bulk: above the median by _OUTLIER_SPREADS robust standard deviations
  (1.4826 x the median absolute deviation), or reaches _CERTAIN_MATCH, where two embeddings are
  all but the same; or
- lies above a clear break among the best scores: the widest drop between neighbours among the
  top _BREAK_WINDOW, when it is at least _BREAK_SHARE of the way from the median to the best
  (a library of a few kinds of photo has such a break and scores too spread out for the first
  rule; a large real library has no such break, and the first rule decides).
An explicit threshold is an absolute cosine floor instead; 0 keeps the top results whatever
they score.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hygiene.search.library import Library, Photo

_OUTLIER_SPREADS = 3.0
_CERTAIN_MATCH = 0.9
_BREAK_WINDOW = 50
_BREAK_SHARE = 0.25
_MIN_SPREAD = 0.01  # a library of near-identical scores still needs a real margin
_MIN_PHOTOS_FOR_FLOOR = 8  # fewer scores say nothing about what is usual


@dataclass(frozen=True, slots=True)
class Hit:
    rank: int
    score: float
    photo: Photo


@dataclass(frozen=True, slots=True)
class Ranking:
    hits: list[Hit]
    floor: float | None  # the similarity a result needed (None when none applied)
    under_floor: int  # photos that passed every filter but scored under the floor


def default_floor(scores: np.ndarray) -> float | None:
    """Where a query's matches end, from its scores over the library (None for a library too
    small to say what is usual)."""
    if len(scores) < _MIN_PHOTOS_FOR_FLOOR:
        return None
    median = float(np.median(scores))
    spread = 1.4826 * float(np.median(np.abs(scores - median)))
    floor = min(median + _OUTLIER_SPREADS * max(spread, _MIN_SPREAD), _CERTAIN_MATCH)
    best = -np.sort(-scores)[:_BREAK_WINDOW]
    drops = best[:-1] - best[1:]
    widest = int(np.argmax(drops))
    if drops[widest] >= _BREAK_SHARE * (best[0] - median):
        floor = min(floor, float(best[widest]))
    return floor


def _floor(scores: np.ndarray, threshold: float | None) -> float | None:
    if threshold is None:
        return default_floor(scores)
    return threshold if threshold > 0 else None


def rank(
    library: Library,
    query: np.ndarray,
    *,
    top: int,
    threshold: float | None = None,
    category: str | None = None,
    exclude: int | None = None,
) -> Ranking:
    """The best `top` photos for `query` (a unit vector), best first.

    `threshold` None uses default_floor, 0 (or less) applies none; `category` keeps one category
    (any case); `exclude` is an entry left out (the photo a "more like this" query starts from).
    """
    scores = library.vectors @ query.astype(np.float32)
    # the photo a "more like this" starts from is no evidence of what is usual
    floor = _floor(scores if exclude is None else np.delete(scores, exclude), threshold)
    eligible = np.ones(len(scores), dtype=bool)
    if exclude is not None:
        eligible[exclude] = False
    if category:
        wanted = category.casefold()
        eligible &= np.array([p.category.casefold() == wanted for p in library.photos], bool)
    passing = eligible if floor is None else eligible & (scores >= floor)
    order = np.flatnonzero(passing)
    order = order[np.argsort(-scores[order], kind="stable")][:top]
    hits = [
        Hit(i + 1, float(scores[index]), library.photos[index]) for i, index in enumerate(order)
    ]
    return Ranking(hits, floor, int((eligible & ~passing).sum()))
