"""The keeper rule chain: which copy of a photo to keep, and the words that say why. Pure."""

from __future__ import annotations

import math
from dataclasses import dataclass

KEEPER_RULES: tuple[str, ...] = (
    "not_degraded",
    "most_pixels",
    "colour",
    "least_lossy",
    "oldest_date",
    "protected",
    "shortest_path",
)
_LOSSLESS_FORMATS = frozenset({"PNG", "TIFF", "BMP"})
_GREYSCALE_CHROMA = 0.02
_PIXEL_STEP = 1.1  # within 10% of the most pixels counts as as many (padding estimates)
_BYTES_STEP = 1.5  # within 1.5x of the most bytes per pixel counts as as little compressed


@dataclass(frozen=True, slots=True)
class Candidate:
    """What the rules look at for one file."""

    seq: int
    rel_path: str
    size_bytes: int
    width: int
    height: int
    format: str
    content_fraction: float
    colourfulness: float
    taken_at: str | None
    degraded: tuple[str, ...]  # quality flags raised: "dark", "bright", "blurry"
    protected: bool

    @property
    def content_pixels(self) -> float:
        return self.width * self.height * max(self.content_fraction, 1e-6)


@dataclass(frozen=True, slots=True)
class Scale:
    """What "as many pixels" and "as little compression" are measured against.

    Within a group the best file sets the scale, so a copy within 10% of the most pixels (or
    25% of the most bytes per pixel) ties with it, whatever the absolute numbers are.
    """

    pixels: float = 1.0
    bytes_per_pixel: float = 1.0


def group_scale(candidates: list[Candidate]) -> Scale:
    return Scale(
        max(c.content_pixels for c in candidates),
        max(_bytes_per_pixel(c) for c in candidates),
    )


def rank_key(
    candidate: Candidate, rules: tuple[str, ...], scale: Scale = Scale()
) -> tuple[object, ...]:
    """Sort key: the best keeper sorts first."""
    return tuple(_RULE_KEYS[rule](candidate, scale) for rule in rules)


def why_not_kept(keeper: Candidate, other: Candidate, rules: tuple[str, ...], scale: Scale) -> str:
    """The first rule on which `keeper` beats `other`, in words."""
    for rule in rules:
        if _RULE_KEYS[rule](keeper, scale) < _RULE_KEYS[rule](other, scale):
            return _REASONS[rule](keeper, other)
    return "same rank (kept the first by path)"


def describe_keeper(keeper: Candidate) -> str:
    parts = [f"{keeper.width}x{keeper.height} {keeper.format}"]
    if keeper.taken_at:
        parts.append(f"taken {keeper.taken_at.replace('T', ' ')}")
    if keeper.protected:
        parts.append("in a protected folder")
    if keeper.degraded:
        parts.append(f"best available although {', '.join(keeper.degraded)}")
    return ", ".join(parts)


def _steps_below(best: float, value: float, step: float) -> int:
    """0 while value is within a factor `step` of best, 1 within step squared, and so on."""
    return math.floor(math.log(max(best, 1e-9) / max(value, 1e-9)) / math.log(step) + 1e-9)


def _bytes_per_pixel(candidate: Candidate) -> float:
    # The whole file pays for every pixel, padding included.
    return candidate.size_bytes / max(candidate.width * candidate.height, 1)


def _is_lossless(candidate: Candidate) -> bool:
    return candidate.format in _LOSSLESS_FORMATS


_RULE_KEYS = {
    "not_degraded": lambda c, s: len(c.degraded),
    "most_pixels": lambda c, s: _steps_below(s.pixels, c.content_pixels, _PIXEL_STEP),
    "colour": lambda c, s: 0 if c.colourfulness >= _GREYSCALE_CHROMA else 1,
    "least_lossy": lambda c, s: (
        0 if _is_lossless(c) else 1,
        _steps_below(s.bytes_per_pixel, _bytes_per_pixel(c), _BYTES_STEP),
    ),
    "oldest_date": lambda c, s: (0, c.taken_at) if c.taken_at else (1, ""),
    "protected": lambda c, s: 0 if c.protected else 1,
    "shortest_path": lambda c, s: (len(c.rel_path), c.rel_path),
}
_REASONS = {
    "not_degraded": lambda k, c: ", ".join(c.degraded),
    "most_pixels": lambda k, c: f"fewer pixels ({c.width}x{c.height})",
    "colour": lambda k, c: "greyscale",
    "least_lossy": lambda k, c: (
        "lossy format" if _is_lossless(k) and not _is_lossless(c) else "more compressed"
    ),
    "oldest_date": lambda k, c: f"later date ({c.taken_at})" if c.taken_at else "no date taken",
    "protected": lambda k, c: "outside protected folders",
    "shortest_path": lambda k, c: "longer path",
}
