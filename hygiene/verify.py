"""Confirm a candidate pair by comparing aligned thumbnails. Pure functions over pixel arrays.

A hash match only proposes an alignment (a rotation or mirror, or a crop window); this module
checks it with evidence the hash does not use: the correlation of aligned thumbnails, the share
of pixels that still differ once brightness and contrast are fitted (this is what separates "the
same photo re-encoded" from "the same layout with other content"), and colour, unless one side is
greyscale.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from hygiene.config import DuplicateSettings
from hygiene.hashing import content_box

_SIDE = 64
_COLOUR_SIDE = 16
_RESIDUAL_LEVEL = 0.08  # luminance difference that counts as "this pixel changed"
_BACKGROUND_LEVEL = 0.06  # below this on both sides a pixel is background (night, pocket shot)
_GREYSCALE_CHROMA = 0.02
_CROP_SCALES = np.linspace(0.62, 1.0, 20)


@dataclass(frozen=True, slots=True)
class Comparison:
    correlation: float  # of the aligned grey 64x64 thumbnails
    changed_fraction: float  # of non-background pixels still differing after a gain/offset fit
    colour_difference: float  # mean chroma distance, 0 when either side is greyscale

    def is_duplicate(self, limits: DuplicateSettings) -> bool:
        return (
            self.correlation >= limits.min_correlation
            and self.changed_fraction <= limits.max_changed_fraction
            and self.colour_difference <= limits.max_colour_difference
        )

    def is_similar(self, limits: DuplicateSettings) -> bool:
        return self.correlation >= limits.similar_min_correlation


def rgb_array(thumbnail_rgb: np.ndarray) -> np.ndarray:
    """Float RGB in 0..1, cropped to the content inside any uniform padded border."""
    rgb = thumbnail_rgb.astype(np.float32) / 255.0
    # Thumbnails are lossy WebP: a padded border rings near its edge, so allow more spread.
    left, top, right, bottom = content_box(_grey(rgb), tolerance=0.08)
    return rgb[top:bottom, left:right]


def compare(a: np.ndarray, b: np.ndarray, transform: int, *, b_is_crop_of_a: bool) -> Comparison:
    """Compare float RGB frames `a` and `b` (from rgb_array), where b ~ DIHEDRAL[transform](a).

    With `b_is_crop_of_a`, b is located inside a by template matching first.
    """
    b = _undo_dihedral(b, transform)
    if b_is_crop_of_a:
        a = _locate(a, b)
    grey_a, grey_b = _small(_grey(a), _SIDE), _small(_grey(b), _SIDE)
    correlation = _correlation(grey_a, grey_b)
    changed = _changed_fraction(grey_a, grey_b)
    colour = _colour_difference(a, b)
    return Comparison(correlation, changed, colour)


def colourfulness(rgb: np.ndarray) -> float:
    """Mean chroma (0 for a greyscale picture) of a float RGB array in 0..1."""
    maximum, minimum = rgb.max(axis=2), rgb.min(axis=2)
    return float((maximum - minimum).mean())


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


def _locate(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The region of a that b shows, found by multi-scale template matching on grey."""
    grey_a, grey_b = _grey(a), _grey(b)
    best_score, best_box = -2.0, (0, 0, a.shape[1], a.shape[0])
    a_aspect, b_aspect = a.shape[1] / a.shape[0], b.shape[1] / b.shape[0]
    for scale in _CROP_SCALES:
        if b_aspect >= a_aspect:
            width = round(a.shape[1] * scale)
            height = round(width / b_aspect)
        else:
            height = round(a.shape[0] * scale)
            width = round(height * b_aspect)
        if width < 8 or height < 8 or width > a.shape[1] or height > a.shape[0]:
            continue
        template = cv2.resize(grey_b, (width, height), interpolation=cv2.INTER_AREA)
        scores = cv2.matchTemplate(grey_a, template, cv2.TM_CCOEFF_NORMED)
        _, score, _, (x, y) = cv2.minMaxLoc(scores)
        if score > best_score:
            best_score, best_box = score, (x, y, x + width, y + height)
    x0, y0, x1, y1 = best_box
    return a[y0:y1, x0:x1]


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    denominator = float(np.sqrt((a * a).sum() * (b * b).sum()))
    if denominator < 1e-9:
        return 1.0 if np.abs(a - b).max() < 1e-3 else 0.0
    return float((a * b).sum() / denominator)


def _changed_fraction(a: np.ndarray, b: np.ndarray) -> float:
    design = np.stack([a.ravel(), np.ones(a.size, np.float32)], axis=1)
    (gain, offset), *_ = np.linalg.lstsq(design, b.ravel(), rcond=None)
    residual = np.abs(b - (gain * a + offset))
    foreground = (a > _BACKGROUND_LEVEL) | (b > _BACKGROUND_LEVEL)
    area = max(int(foreground.sum()), a.size // 4)
    return float(((residual > _RESIDUAL_LEVEL) & foreground).sum() / area)


def _colour_difference(a: np.ndarray, b: np.ndarray) -> float:
    small_a, small_b = _small(a, _COLOUR_SIDE), _small(b, _COLOUR_SIDE)
    if colourfulness(small_a) < _GREYSCALE_CHROMA or colourfulness(small_b) < _GREYSCALE_CHROMA:
        return 0.0
    chroma_a = small_a - small_a.mean(axis=2, keepdims=True)
    chroma_b = small_b - small_b.mean(axis=2, keepdims=True)
    return float(np.abs(chroma_a - chroma_b).mean())
