"""Confirm a candidate pair by comparing aligned thumbnails. Pure functions over pixel arrays.

A hash match only proposes an alignment (a rotation or mirror, or a crop window); this module
checks it with evidence the hash does not use: the correlation of aligned thumbnails, the share
of pixels that still differ once brightness and contrast are fitted (this is what separates "the
same photo re-encoded" from "the same layout with other content"), and colour, unless one side is
greyscale.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

import cv2
import numpy as np

from hygiene.scan.hashing import inside_box
from hygiene.scan.quality import colourfulness

_SIDE = 64
_COLOUR_SIDE = 16
_RESIDUAL_LEVEL = 0.08  # luminance difference that counts as "this pixel changed"
_BACKGROUND_LEVEL = 0.06  # below this on both sides a pixel is background (night, pocket shot)
_GREYSCALE_CHROMA = 0.02
_CROP_SCALES = np.linspace(0.62, 1.0, 20)
_COARSE_SIDE = 64  # px: the side of the frames every crop scale is tried on
_MIN_TEMPLATE_PX = 6
# Placing a crop at full size after the half-size step moves its box by a pixel or two, which
# can take a true duplicate's changed fraction from 0.24 to under 0.02. On TUNING every true crop
# duplicate's half-size result lay within 0.14 of the limits; a half-size result further than
# about twice that (0.30) from a limit is final.
_PLACEMENT_MARGIN = 0.30
# per frame; a 256-px grey template is 256 KiB. On the compare corpus this kept 24,000 of 44,000
# template resizes, with at most 26 MiB held by all frames alive at once.
_TEMPLATE_BYTES_KEPT = 2 << 20

Level = tuple[float, ...]  # area scalings applied in turn to a grey frame; () is the frame itself


@dataclass(frozen=True, slots=True)
class Comparison:
    correlation: float  # of the aligned grey 64x64 thumbnails
    changed_fraction: float  # of non-background pixels still differing after a gain/offset fit
    colour_difference: float  # mean chroma distance, 0 when either side is greyscale
    mean_residual: float  # mean luminance difference left after the gain/offset fit

    def is_duplicate(self, limits: MatchLimits) -> bool:
        return (
            self.correlation >= limits.min_correlation
            and self.changed_fraction <= limits.max_changed_fraction
            and self.colour_difference <= limits.max_colour_difference
        )

    def is_similar(self, limits: MatchLimits) -> bool:
        return self.correlation >= limits.similar_min_correlation


@dataclass(frozen=True, slots=True)
class MatchLimits:
    """What a Comparison must show to call two frames duplicates, or similar shots."""

    min_correlation: float
    max_changed_fraction: float
    max_colour_difference: float
    similar_min_correlation: float


def rgb_array(thumbnail_rgb: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """Float RGB in 0..1, cropped to `box` (left, top, right, bottom as fractions): where the scan
    found the content inside any padded border, on the clean decode. A border search on the
    lossy thumbnail itself would leave a rim of a pixel or two."""
    return inside_box(thumbnail_rgb.astype(np.float32) / 255.0, box, min_side_px=8)


class Frame:
    """A thumbnail as the checks read it (float RGB from rgb_array), with what they derive from
    it computed once: a node takes part in many pairs (in a group of 20 copies, 19 each), and
    its grey copy, scaled copies, turned views and crop templates are the same every time."""

    def __init__(
        self, rgb: np.ndarray, grey: np.ndarray | None = None, identity: Hashable = None
    ) -> None:
        self.rgb = rgb
        self.identity = identity  # equal for frames of equal pixels, where the caller knows it
        self._derived: dict[object, np.ndarray] = {} if grey is None else {"grey": grey}
        self._turned: dict[int, Frame] = {}  # never itself: a cycle would outlive the cache
        # A crop is placed against every copy in its group, and copies share a size, so the
        # same template sizes come back; a byte budget keeps them without growing per pair.
        self._templates: OrderedDict[tuple[Level, tuple[int, int]], np.ndarray] = OrderedDict()
        self._template_bytes = 0

    def _once(self, key: object, make: Callable[[], np.ndarray]) -> np.ndarray:
        if key not in self._derived:
            self._derived[key] = make()
        return self._derived[key]

    @property
    def grey(self) -> np.ndarray:
        return self._once("grey", lambda: _grey(self.rgb))

    @property
    def grey_small(self) -> np.ndarray:
        return self._once("grey_small", lambda: _small(self.grey, _SIDE))

    @property
    def colour_small(self) -> np.ndarray:
        return self._once("colour_small", lambda: _small(self.rgb, _COLOUR_SIDE))

    def grey_at(self, level: Level) -> np.ndarray:
        """The grey frame area-scaled by each factor of `level` in turn."""
        if not level:
            return self.grey
        return self._once(level, lambda: _scaled(self.grey_at(level[:-1]), level[-1]))

    def template(self, level: Level, size: tuple[int, int]) -> np.ndarray:
        """grey_at(level) area-resized to `size` (width, height). Read-only: it is shared."""
        key = (level, size)
        kept = self._templates.get(key)
        if kept is not None:
            self._templates.move_to_end(key)
            return kept
        kept = cv2.resize(self.grey_at(level), size, interpolation=cv2.INTER_AREA)
        self._templates[key] = kept
        self._template_bytes += kept.nbytes
        while self._template_bytes > _TEMPLATE_BYTES_KEPT:
            _, dropped = self._templates.popitem(last=False)
            self._template_bytes -= dropped.nbytes
        return kept

    def turned_back(self, transform: int) -> Frame:
        """This frame with DIHEDRAL[transform] undone."""
        if transform == 0:
            return self
        if transform not in self._turned:
            self._turned[transform] = Frame(_undo_dihedral(self.rgb, transform))
        return self._turned[transform]


def compare(
    a: Frame,
    b: Frame,
    transform: int,
    *,
    b_is_crop_of_a: bool,
    unless_far_from: MatchLimits | None = None,
) -> Comparison:
    """Compare frames `a` and `b`, where b ~ DIHEDRAL[transform](a).

    With `b_is_crop_of_a`, b is located inside a by template matching first. With
    `unless_far_from`, a crop whose placement on half-size frames already misses those limits by
    far is compared there and not placed at full size: the caller only needs to know that it is
    no duplicate.
    """
    b = b.turned_back(transform)
    if not b_is_crop_of_a:
        return _compared(a, b)
    fine, rough_box = _rough_place(a, b)
    if fine < 1.0:
        full_box = tuple(round(v / fine) for v in rough_box)
        if unless_far_from is not None:
            rough = _region(a, full_box)
            correlation, changed, _ = _grey_measures(rough.grey_small, b.grey_small)
            if _misses_by_far(correlation, changed, unless_far_from):
                return _compared(rough, b)
        # once more at full size, from a box already within a pixel or two
        rough_box = _refine(a.grey, b, (), full_box, margin=2)
    return _compared(_region(a, rough_box), b)


def _misses_by_far(correlation: float, changed_fraction: float, limits: MatchLimits) -> bool:
    """Whether no placement a pixel or two away could make this a duplicate."""
    return (
        correlation < limits.min_correlation - _PLACEMENT_MARGIN
        or changed_fraction > limits.max_changed_fraction + _PLACEMENT_MARGIN
    )


def _compared(a: Frame, b: Frame) -> Comparison:
    correlation, changed, residual = _grey_measures(a.grey_small, b.grey_small)
    return Comparison(correlation, changed, _colour_difference(a, b), residual)


def _grey_measures(grey_a: np.ndarray, grey_b: np.ndarray) -> tuple[float, float, float]:
    """(correlation, changed fraction, mean residual) of two aligned grey frames."""
    residual = _residual(grey_a, grey_b)
    changed = _changed_fraction(grey_a, grey_b, residual)
    return _correlation(grey_a, grey_b), changed, float(residual.mean())


def _grey(rgb: np.ndarray) -> np.ndarray:
    return rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


def _small(image: np.ndarray, side: int) -> np.ndarray:
    return cv2.resize(image, (side, side), interpolation=cv2.INTER_AREA)


def _undo_dihedral(image: np.ndarray, transform: int) -> np.ndarray:
    # DIHEDRAL order: identity, rot90, rot180, rot270 (counter-clockwise, as PIL), then the mirrors.
    undo = {
        0: lambda x: x,
        1: lambda x: np.rot90(x, -1),
        2: lambda x: np.rot90(x, 2),
        3: lambda x: np.rot90(x, 1),
        4: lambda x: x[:, ::-1],
        5: lambda x: np.swapaxes(x, 0, 1),
        6: lambda x: x[::-1, :],
        7: lambda x: np.rot90(x, 2).swapaxes(0, 1),
    }
    return np.ascontiguousarray(undo[transform](image))


def _rough_place(a: Frame, b: Frame) -> tuple[float, tuple[int, int, int, int]]:
    """Where in a the frame b shows, found by multi-scale template matching on grey: the scale
    of the frames it was placed on (at most 128 px; 1.0 when a is that small) and the box
    there (left, top, right, bottom).

    Every crop scale is tried on small copies of both frames; only the best one is then placed
    precisely, on copies twice as large, in a small window around where the first step put it.
    """
    fine = min(1.0, 2 * _COARSE_SIDE / max(a.rgb.shape[:2]))
    fine_a, fine_b = a.grey_at((fine,)), b.grey_at((fine,))
    coarse_a = a.grey_at((fine, 0.5))
    best_score, best_box = -2.0, (0, 0, fine_a.shape[1], fine_a.shape[0])
    for width, height in _template_sizes(fine_a.shape, fine_b.shape):
        size = (round(width / 2), round(height / 2))
        if (
            min(size) < _MIN_TEMPLATE_PX
            or size[0] > coarse_a.shape[1]
            or size[1] > coarse_a.shape[0]
        ):
            continue
        _, score, _, (x, y) = cv2.minMaxLoc(
            cv2.matchTemplate(coarse_a, b.template((fine, 0.5), size), cv2.TM_CCOEFF_NORMED)
        )
        if score > best_score:
            best_score, best_box = score, (2 * x, 2 * y, 2 * x + width, 2 * y + height)
    return fine, _refine(fine_a, b, (fine,), best_box, margin=2)


def _region(frame: Frame, box: tuple[int, ...]) -> Frame:
    x0, y0, x1, y1 = box
    return Frame(frame.rgb[y0:y1, x0:x1], frame.grey[y0:y1, x0:x1])


def _scaled(image: np.ndarray, factor: float) -> np.ndarray:
    if factor >= 1.0:
        return image
    size = (max(1, round(image.shape[1] * factor)), max(1, round(image.shape[0] * factor)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def _template_sizes(a_shape: tuple[int, ...], b_shape: tuple[int, ...]) -> list[tuple[int, int]]:
    """(width, height) in a's pixels of b shown at each candidate crop scale."""
    a_aspect, b_aspect = a_shape[1] / a_shape[0], b_shape[1] / b_shape[0]
    sizes = []
    for scale in _CROP_SCALES:
        if b_aspect >= a_aspect:
            width = round(a_shape[1] * scale)
            height = round(width / b_aspect)
        else:
            height = round(a_shape[0] * scale)
            width = round(height * b_aspect)
        if 8 <= width <= a_shape[1] and 8 <= height <= a_shape[0]:
            sizes.append((width, height))
    return sizes


def _refine(
    grey_a: np.ndarray, b: Frame, level: Level, box: tuple[int, int, int, int], margin: int
) -> tuple[int, int, int, int]:
    """The coarse box on grey_a moved and rescaled by a few pixels to where b, at the same
    `level` as grey_a, matches best."""
    x0, y0, x1, y1 = box
    width, height = x1 - x0, y1 - y0
    best_score, best_box = -2.0, box
    for grow in range(-margin, margin + 1):
        w = width + grow
        h = round(w * height / width)
        if w < 8 or h < 8 or w > grey_a.shape[1] or h > grey_a.shape[0]:
            continue
        left, top = max(0, x0 - margin), max(0, y0 - margin)
        right = min(grey_a.shape[1], x0 + w + margin)
        bottom = min(grey_a.shape[0], y0 + h + margin)
        if right - left < w or bottom - top < h:
            continue
        template = b.template(level, (w, h))
        scores = cv2.matchTemplate(grey_a[top:bottom, left:right], template, cv2.TM_CCOEFF_NORMED)
        _, score, _, (x, y) = cv2.minMaxLoc(scores)
        if score > best_score:
            best_score, best_box = score, (left + x, top + y, left + x + w, top + y + h)
    return best_box


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    denominator = float(np.sqrt((a * a).sum() * (b * b).sum()))
    if denominator < 1e-9:
        return 1.0 if np.abs(a - b).max() < 1e-3 else 0.0
    return float((a * b).sum() / denominator)


def _residual(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|b - (gain * a + offset)| with gain and offset fitted by least squares (the closed form
    of a straight-line fit; a flat `a` is fitted by its offset alone)."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    mean_a, mean_b = a64.mean(), b64.mean()
    spread = ((a64 - mean_a) ** 2).sum()
    gain = ((a64 - mean_a) * (b64 - mean_b)).sum() / spread if spread > 0 else 0.0
    offset = mean_b - gain * mean_a
    return np.abs(b - (np.float32(gain) * a + np.float32(offset)))


def _changed_fraction(a: np.ndarray, b: np.ndarray, residual: np.ndarray) -> float:
    foreground = (a > _BACKGROUND_LEVEL) | (b > _BACKGROUND_LEVEL)
    area = max(int(foreground.sum()), a.size // 4)
    return float(((residual > _RESIDUAL_LEVEL) & foreground).sum() / area)


def _colour_difference(a: Frame, b: Frame) -> float:
    small_a, small_b = a.colour_small, b.colour_small
    if colourfulness(small_a) < _GREYSCALE_CHROMA or colourfulness(small_b) < _GREYSCALE_CHROMA:
        return 0.0
    chroma_a = small_a - small_a.mean(axis=2, keepdims=True)
    chroma_b = small_b - small_b.mean(axis=2, keepdims=True)
    return float(np.abs(chroma_a - chroma_b).mean())
