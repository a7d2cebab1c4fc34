"""The keeper rule chain: which copy of a photo to keep, and the words that say why. Pure.

Copies of one picture are compared with each other, not with absolute thresholds: a copy blurred
or darkened too mildly to raise a flag still loses to the copy it was made from (`compare_copies`
says what "better" means, with margins that keep re-encoding noise from deciding).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from hygiene.records import QualityMetrics
from hygiene.scan.quality import QUALITY_SIDE_PX

_LOSSLESS_FORMATS = frozenset({"PNG", "TIFF", "BMP"})
_GREYSCALE_CHROMA = 0.02
_PIXEL_STEP = 1.1  # within 10% of the most pixels counts as as many (padding estimates)
_BYTES_STEP = 1.5  # within 1.5x of the most bytes per pixel counts as as little compressed

MEASURED_SIDE_PX = QUALITY_SIDE_PX  # sharpness is measured on a grey thumbnail this size
# sharpness = -ln(blur) / 2 (quality.py: blur = exp(-2 x sharpness)). Measured on 18 photos and
# copies of them: re-encoding, greyscale, rotating or mirroring a copy moves it by up to 18%; a
# Gaussian blur of sigma 1 px on a 1024 px photo lowers it by 30-56%. So among copies of the same
# size, one is sharper when its sharpness is 25% higher.
_SHARPER_SAME_SIZE = 1.25
# Copies of different sizes, both resampled down to the measuring size, differ by up to 30% from
# resampling and cropping alone, so a smaller copy must be 35% sharper before it beats a larger
# one; a 1.5x upscale blurred by 1.5 px measures 29-226% blurrier than its source.
_SHARPER_ACROSS_SIZES = 1.35
_SHARPNESS_FLOOR = 0.05  # below this difference two sharpness values are equal however small
# Sharpness is normalised by local contrast, so a tone curve (gamma) moves it by up to 20% and a
# caption's crisp text raises it: it is compared only between copies whose 1st, 50th, 99th and
# 99.9th luma percentiles agree this closely (blurring moved them by at most 0.06, 0.08 for an
# upscaled texture; exposure changes and captions by 0.1 to 0.4).
_SAME_TONES = 0.10
# Exposure: a copy is darker when its median and brightest tones (99th and 99.9th luma
# percentiles) sit at most 75% as high as another copy's (a 0.6x gain copy sits at 60%; a 0.85x
# "slightly darker" re-save, which may be the photographer's own edit, ties). It is over-exposed
# when it is brighter (median 10% higher) and 2% more of the frame is clipped to white than in the
# darker copy, which kept detail there.
_DARKER_RATIO = 0.75
_BRIGHTER_RATIO = 1.1
_BLOWN_FRACTION = 0.02
# A frame whose 99th and 99.9th percentiles nearly coincide well below white has a flat top: it was
# clipped first and darkened afterwards, so its brighter copy's clipping is the original's own.
_FLAT_TOP_SPREAD = 0.015
_FLAT_TOP_CEILING = 0.95
_SAME_FRAMING = 0.95  # content fractions this close: the histograms cover the same scene


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
    quality: QualityMetrics | None = None  # raw exposure and sharpness; None: not compared
    turned: bool = False  # rotated or mirrored against the orientation of most copies

    @property
    def content_pixels(self) -> float:
        return self.width * self.height * max(self.content_fraction, 1e-6)


@dataclass(frozen=True, slots=True)
class Verdict:
    """How one copy compares with another: where it is better and where worse, in words."""

    better: tuple[str, ...] = ()  # the words for the first copy where it wins ("sharper")
    worse: tuple[str, ...] = ()  # the words for the first copy where it loses ("blurrier")

    @property
    def strictly_better(self) -> bool:
        return bool(self.better) and not self.worse


@dataclass(frozen=True, slots=True)
class Scale:
    """What "as many pixels", "as little compression" and "best quality" are measured against.

    Within a group the best file sets the scale, so a copy within 10% of the most pixels (or
    1.5x of the most bytes per pixel) ties with it, whatever the absolute numbers are.
    `outranked` counts, per file seq, the distinct copies in the group of better quality, and
    `faults` says in words how it compares with the first of them.
    """

    pixels: float = 1.0
    bytes_per_pixel: float = 1.0
    outranked: Mapping[int, int] = field(default_factory=dict)
    faults: Mapping[int, tuple[str, ...]] = field(default_factory=dict)


def group_scale(candidates: list[Candidate]) -> Scale:
    outranked, faults = _quality_ranks(candidates)
    return Scale(
        max(c.content_pixels for c in candidates),
        max(_bytes_per_pixel(c) for c in candidates),
        outranked,
        faults,
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
            return _REASONS[rule](keeper, other, scale)
    return "same rank (kept the first by path)"


def describe_keeper(keeper: Candidate, strengths: tuple[str, ...] = ()) -> str:
    """The keeper in words; `strengths`: where it beats copies not kept ("sharper")."""
    parts = [f"{keeper.width}x{keeper.height} {keeper.format}"]
    if keeper.taken_at:
        parts.append(f"taken {keeper.taken_at.replace('T', ' ')}")
    if keeper.protected:
        parts.append("in a protected folder")
    if strengths:
        parts.append(f"best copy: {', '.join(strengths)}")
    if keeper.degraded:
        parts.append(f"best available although {', '.join(keeper.degraded)}")
    return ", ".join(parts)


# ---------------------------------------------------------------- comparing two copies


def compare_copies(a: Candidate, b: Candidate, *, with_size: bool = False) -> Verdict:
    """How copy `a` of a picture compares with copy `b` of the same picture.

    Quality: orientation (the one most copies have), colour over greyscale, exposure, sharpness.
    `with_size` adds pixel count and compression. A difference inside its margin is no
    difference, so two equally good copies are neither better nor worse than each other.
    """
    better: list[str] = []
    worse: list[str] = []
    for aspect in _QUALITY_ASPECTS + (_SIZE_ASPECTS if with_size else ()):
        outcome = aspect(a, b)
        if outcome is not None:
            (better if outcome.a_wins else worse).append(outcome.words(a_wins=outcome.a_wins))
    return Verdict(tuple(better), tuple(worse))


def strictly_better(a: Candidate, b: Candidate) -> bool:
    """`a` beats `b` on some aspect, size and compression included, and loses on none."""
    return compare_copies(a, b, with_size=True).strictly_better


@dataclass(frozen=True, slots=True)
class _Outcome:
    a_wins: bool
    winner: str  # the word for the better copy
    loser: str  # the word for the worse copy

    def words(self, *, a_wins: bool) -> str:
        return self.winner if a_wins else self.loser


_Aspect = Callable[[Candidate, Candidate], "_Outcome | None"]


def _orientation(a: Candidate, b: Candidate) -> _Outcome | None:
    if a.turned == b.turned:
        return None
    return _Outcome(not a.turned, "in the usual orientation", "rotated or mirrored")


def _colour(a: Candidate, b: Candidate) -> _Outcome | None:
    if _is_greyscale(a) == _is_greyscale(b):
        return None
    return _Outcome(_is_greyscale(b), "in colour", "greyscale")


def _exposure(a: Candidate, b: Candidate) -> _Outcome | None:
    if a.quality is None or b.quality is None or not _same_framing(a, b):
        return None
    fault_a, fault_b = _exposure_fault(a.quality, b.quality), _exposure_fault(b.quality, a.quality)
    if (fault_a is None) == (fault_b is None):
        return None
    return _Outcome(fault_a is None, "better exposed", fault_a or fault_b or "")


def _sharpness(a: Candidate, b: Candidate) -> _Outcome | None:
    if a.quality is None or b.quality is None or not _same_tones(a.quality, b.quality):
        return None
    margin = _sharpness_margin(a, b)
    if margin is None:
        return None
    sharp_a, sharp_b = _sharpness_of(a.quality), _sharpness_of(b.quality)
    if abs(sharp_a - sharp_b) < _SHARPNESS_FLOOR:
        return None
    if sharp_a >= margin * sharp_b:
        return _Outcome(True, "sharper", "blurrier")
    if sharp_b >= margin * sharp_a:
        return _Outcome(False, "sharper", "blurrier")
    return None


def _pixels(a: Candidate, b: Candidate) -> _Outcome | None:
    wins = _ratio_winner(a.content_pixels, b.content_pixels, _PIXEL_STEP)
    return None if wins is None else _Outcome(wins, "more pixels", "fewer pixels")


def _compression(a: Candidate, b: Candidate) -> _Outcome | None:
    if _is_lossless(a) != _is_lossless(b):
        return _Outcome(_is_lossless(a), "lossless", "lossy format")
    wins = _ratio_winner(_bytes_per_pixel(a), _bytes_per_pixel(b), _BYTES_STEP)
    return None if wins is None else _Outcome(wins, "less compressed", "more compressed")


def _ratio_winner(a: float, b: float, step: float) -> bool | None:
    """True when a is at least `step` times b, False when b is at least `step` times a."""
    if a >= step * b:
        return True
    if b >= step * a:
        return False
    return None


_QUALITY_ASPECTS: tuple[_Aspect, ...] = (_orientation, _colour, _exposure, _sharpness)
_SIZE_ASPECTS: tuple[_Aspect, ...] = (_pixels, _compression)


def _exposure_fault(metrics: QualityMetrics, other: QualityMetrics) -> str | None:
    """Why a copy with `metrics` is worse exposed than one with `other`, or None."""
    if _darker(metrics, other) and _flat_top(metrics):
        return "darker"  # a clipped frame, darkened: the brighter copy's clipping is its own
    if _blown(metrics, other):
        return "over-exposed"
    if _darker(metrics, other) and not _blown(other, metrics):
        return "darker"
    return None


def _darker(metrics: QualityMetrics, other: QualityMetrics) -> bool:
    return all(
        mine <= _DARKER_RATIO * theirs
        for mine, theirs in (
            (metrics.luma_p50, other.luma_p50),
            (metrics.luma_p99, other.luma_p99),
            (metrics.luma_p999, other.luma_p999),
        )
    )


def _blown(metrics: QualityMetrics, other: QualityMetrics) -> bool:
    """More of the frame clipped to white than in a darker copy that kept detail there."""
    return (
        metrics.highlight_fraction >= other.highlight_fraction + _BLOWN_FRACTION
        and metrics.luma_p50 >= _BRIGHTER_RATIO * other.luma_p50
        and not (_flat_top(other) and _darker(other, metrics))
    )


def _flat_top(metrics: QualityMetrics) -> bool:
    return (
        metrics.luma_p999 < _FLAT_TOP_CEILING
        and metrics.luma_p999 - metrics.luma_p99 < _FLAT_TOP_SPREAD
    )


def _sharpness_of(metrics: QualityMetrics) -> float:
    return -math.log(max(metrics.blur, 1e-9)) / 2


def _sharpness_margin(a: Candidate, b: Candidate) -> float | None:
    """How much sharper one copy must measure to be sharper, or None: not comparable.

    A copy no larger than the measuring size is measured unresampled and reads 30-60% sharper
    than the same picture resampled down to it, so it is compared only with a copy of its size.
    """
    if not _same_framing(a, b):
        return None
    frame_a, frame_b = a.width * a.height, b.width * b.height
    if _is_small(a) != _is_small(b):
        return None
    if max(frame_a, frame_b) < _PIXEL_STEP * min(frame_a, frame_b):
        return _SHARPER_SAME_SIZE
    return None if _is_small(a) else _SHARPER_ACROSS_SIZES


def _same_tones(a: QualityMetrics, b: QualityMetrics) -> bool:
    pairs = (
        (a.luma_p01, b.luma_p01),
        (a.luma_p50, b.luma_p50),
        (a.luma_p99, b.luma_p99),
        (a.luma_p999, b.luma_p999),
    )
    return all(abs(mine - theirs) <= _SAME_TONES for mine, theirs in pairs)


def _is_small(candidate: Candidate) -> bool:
    return max(candidate.width, candidate.height) <= MEASURED_SIDE_PX


def _same_framing(a: Candidate, b: Candidate) -> bool:
    low, high = sorted((a.content_fraction, b.content_fraction))
    return low >= _SAME_FRAMING * high


def _is_greyscale(candidate: Candidate) -> bool:
    return candidate.colourfulness < _GREYSCALE_CHROMA


def _quality_ranks(
    candidates: list[Candidate],
) -> tuple[dict[int, int], dict[int, tuple[str, ...]]]:
    """Per file seq: how many distinct copies beat it on quality, and its faults against one.

    Files with the same measurements (exact copies) are compared once.
    """
    profiles: dict[Candidate, list[int]] = {}
    for candidate in candidates:
        profiles.setdefault(_profile(candidate), []).append(candidate.seq)
    outranked: dict[int, int] = {}
    faults: dict[int, tuple[str, ...]] = {}
    for profile, seqs in profiles.items():
        beaten = [
            verdict
            for other in profiles
            if other is not profile
            and (verdict := compare_copies(profile, other)).worse
            and not verdict.better
        ]
        for seq in seqs:
            outranked[seq] = len(beaten)
            if beaten:
                faults[seq] = beaten[0].worse
    return outranked, faults


def _profile(candidate: Candidate) -> Candidate:
    """The candidate without what differs between exact copies of one file."""
    return replace(candidate, seq=0, rel_path="", protected=False)


def _steps_below(best: float, value: float, step: float) -> int:
    """0 while value is within a factor `step` of best, 1 within step squared, and so on."""
    return math.floor(math.log(max(best, 1e-9) / max(value, 1e-9)) / math.log(step) + 1e-9)


def _bytes_per_pixel(candidate: Candidate) -> float:
    # The whole file pays for every pixel, padding included.
    return candidate.size_bytes / max(candidate.width * candidate.height, 1)


def _is_lossless(candidate: Candidate) -> bool:
    return candidate.format in _LOSSLESS_FORMATS


def _quality_reason(keeper: Candidate, other: Candidate, scale: Scale) -> str:
    direct = compare_copies(other, keeper).worse
    if direct:
        return ", ".join(direct)
    return f"{', '.join(scale.faults.get(other.seq, ('worse',)))} than another copy"


_RULE_KEYS: dict[str, Callable[[Candidate, Scale], object]] = {
    "best_quality": lambda c, s: s.outranked.get(c.seq, 0),
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
_REASONS: dict[str, Callable[[Candidate, Candidate, Scale], str]] = {
    "best_quality": _quality_reason,
    "not_degraded": lambda k, c, s: ", ".join(c.degraded),
    "most_pixels": lambda k, c, s: f"fewer pixels ({c.width}x{c.height})",
    "colour": lambda k, c, s: "greyscale",
    "least_lossy": lambda k, c, s: (
        "lossy format" if _is_lossless(k) and not _is_lossless(c) else "more compressed"
    ),
    "oldest_date": lambda k, c, s: f"later date ({c.taken_at})" if c.taken_at else "no date taken",
    "protected": lambda k, c, s: "outside protected folders",
    "shortest_path": lambda k, c, s: "longer path",
}
