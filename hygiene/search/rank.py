"""Rank a library against a query vector and keep only what stands out. Pure.

The similarity is the cosine of unit CLIP embeddings. The library (the embedded index, or a
PostgreSQL store) hands over its best candidates and the scores of a fixed sample of its
photos. The scale of the scores differs between models and between text and image queries (a
matching caption scores about 0.3 with ViT-B-32, a near-copy of a photo above 0.9), so the
default floor comes from the query's own scores. A photo is a match when its score
- stands out from the bulk (the sample): above its median by _OUTLIER_SPREADS robust standard
  deviations (1.4826 x the median absolute deviation), or reaches _CERTAIN_MATCH, where two
  embeddings are all but the same; or
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

from hygiene.search.library import Photo, Searchable

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


def default_floor(usual: np.ndarray, best: np.ndarray) -> float | None:
    """Where a query's matches end, from the scores of the library's sample (`usual`) and its
    best scores, best first (None for a library too small to say what is usual)."""
    if len(usual) < _MIN_PHOTOS_FOR_FLOOR:
        return None
    median = float(np.median(usual))
    spread = 1.4826 * float(np.median(np.abs(usual - median)))
    floor = min(median + _OUTLIER_SPREADS * max(spread, _MIN_SPREAD), _CERTAIN_MATCH)
    best = best[:_BREAK_WINDOW]
    if len(best) < 2:
        return floor
    drops = best[:-1] - best[1:]
    widest = int(np.argmax(drops))
    if drops[widest] >= _BREAK_SHARE * (best[0] - median):
        floor = min(floor, float(best[widest]))
    return floor


def rank(
    library: Searchable,
    query: np.ndarray,
    *,
    top: int,
    threshold: float | None = None,
    category: str | None = None,
    exclude: int | None = None,
) -> Ranking:
    """The best `top` photos for `query` (a unit vector), best first.

    `threshold` None uses default_floor, 0 (or less) applies none; `category` keeps one category
    (any case); `exclude` is an entry left out (the photo a "more like this" query starts from,
    which is no evidence of what is usual either).
    """
    found = library.candidates(query, max(top, _BREAK_WINDOW), category=category, exclude=exclude)
    if threshold is None:
        floor = default_floor(found.usual, found.best)
    else:
        floor = threshold if threshold > 0 else None
    passing = len(found.scores) if floor is None else int((found.scores >= floor).sum())
    if floor is None:
        under = 0
    elif found.eligible_scores is not None:
        under = int((found.eligible_scores < floor).sum())
    else:  # the candidates are the best: past them every photo scores under the floor
        under = found.eligible - passing
    shown = min(top, passing)  # the scores come best first: the passing ones lead
    hits = [Hit(i + 1, float(found.scores[i]), found.photos[i]) for i in range(shown)]
    return Ranking(hits, floor, under)
