"""Which exposure a copy without an EXIF capture time belongs to, from how well its pixels match
the photos that have one. Pure: plain times and residuals in, times out.
"""

from __future__ import annotations

import math

from hygiene.records import seconds_apart

# A copy without EXIF time whose best matches among two frames differ by less than this factor
# in residual copies neither for sure. Chosen on TUNING: the still-frame copies that matched the
# wrong frame were within 1.05 of the right one, the closest decided right one 1.15.
_UNDECIDED_RESIDUAL_RATIO = 1.10


def closest_capture_times(
    taken_at: list[str | None], residuals: dict[int, dict[int, float]], burst_seconds: float
) -> dict[int, str]:
    """For a copy without EXIF time, the capture time of the closest confirmed photo with one.

    `taken_at[i]` is content i's EXIF capture time; `residuals[i][j]` the mean residual of the
    aligned thumbnails of a confirmed pair.

    A copy that matches both a photo and the next frame of its burst belongs with the frame
    whose pixels it matches best (the hashes of two frames a moment apart are often equally
    close); it then counts as taken at that time, so it can neither pull the other frame into
    its group nor join a group of the other frame's copies. When two frames at most
    `burst_seconds` apart match it about equally well (residuals within
    _UNDECIDED_RESIDUAL_RATIO), the pixels cannot say which frame it copies; a second pass also
    weighs the copies placed in the first (a padded copy may match a crop of its frame far
    better than either frame). A copy still undecided gets a time of its own and joins neither
    frame. Two equally close photos taken far apart are one picture whose date was rewritten:
    the copy goes with the closer.
    """
    known = {index: time for index, time in enumerate(taken_at) if time}
    closest: dict[int, str] = {}
    undecided: list[int] = []
    for index, time in enumerate(taken_at):
        if time is None:
            best = _best_time(residuals.get(index, {}), known, burst_seconds)
            if best is not None:
                closest[index] = best
            elif any(other in known for other in residuals.get(index, {})):
                undecided.append(index)
    placed = known | closest
    for index in undecided:
        time = _best_time(residuals.get(index, {}), placed, burst_seconds)
        closest[index] = time or f"undecided between frames (#{index})"  # equals no real time
    return closest


def _best_time(
    related: dict[int, float], times: dict[int, str], burst_seconds: float
) -> str | None:
    """The time of the closest related photo; None when a frame of the same burst is about as
    close."""
    best_by_time: dict[str, float] = {}
    for other, residual in related.items():
        if other in times:
            time = times[other]
            best_by_time[time] = min(residual, best_by_time.get(time, math.inf))
    ranked = sorted(best_by_time.items(), key=lambda item: item[1])
    if not ranked:
        return None
    best_time, best_residual = ranked[0]
    for time, residual in ranked[1:]:
        if residual >= best_residual * _UNDECIDED_RESIDUAL_RATIO:
            break
        if _moments_apart(best_time, time, burst_seconds):
            return None
    return best_time


def _moments_apart(first: str, second: str, burst_seconds: float) -> bool:
    """Two capture times of one burst; a label of an undecided copy is never one."""
    seconds = seconds_apart(first, second)
    return seconds is not None and seconds <= burst_seconds
