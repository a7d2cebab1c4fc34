"""Exposure and sharpness measurements on a fixed-size grey thumbnail. Pure functions.

Brightness uses the perceived-luminance weighting cleanvision uses, sqrt(.241 R^2 + .691 G^2 +
.068 B^2), but keeps percentiles instead of a mean so one bright moon or a field of stars keeps a
night photo from reading as "dark". Sharpness is measured per tile and normalised by the tile's own
contrast, so a dim photo is not "blurry" for being dim and a white page with crisp text is not
"blurry" for being mostly empty; it is measured per orientation too, so a camera shake (sharp
across the streak, smeared along it) reads as blurred. Over-exposure is told from a white page or
screenshot by what the white leaves: an over-exposed scene keeps its shadows in large connected
areas, a page or a screen of text leaves glyphs scattered over white; a white frame is left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import cv2
import numpy as np
from PIL import Image

from hygiene.records import QualityMetrics, QualityThresholds
from hygiene.scan.hashing import PixelBox, content_box
from hygiene.scan.imageio import downscale

# Measurements are taken with the longest side at most QUALITY_SIDE_PX (smaller images are not
# upscaled). A JPEG whose 1/2, 1/4 or 1/8 DCT-scaled decode lands between QUALITY_SIDE_MIN_PX and
# QUALITY_SIDE_PX is measured as it comes: a phone's 4000x3000 and 1000x750 frames decode at 500
# px for a fraction of a full decode and need no resize.
QUALITY_SIDE_PX = 512
QUALITY_SIDE_MIN_PX = 480
_TILE_PX = 32
_HIGHLIGHT_LEVEL = 0.98
_BLUR_SCALE = 2.0  # blur = exp(-_BLUR_SCALE * sharpness)
_FRAGMENT_FRACTION = 0.002  # unclipped pieces smaller than this share of the content
_DERIVATIVE_SIGMA_PX = 0.7  # Gaussian derivative scale of the directional sharpness
_ORIENTATIONS = 16
_DIRECTIONAL_PERCENTILE = 98


def _weighted_squares() -> np.ndarray:
    """Each channel level's term of the luminance sum, in float32 as the per-pixel formula
    computes it: a table lookup gives the same bits at a fraction of the cost."""
    levels = np.arange(256, dtype=np.float32) / 255.0
    terms = [0.241 * levels**2, 0.691 * levels**2, 0.068 * levels**2]
    return np.stack(terms, axis=-1).reshape(1, 256, 3)


_WEIGHTED_SQUARES = _weighted_squares()


def grey_thumbnail(rgb: Image.Image) -> np.ndarray:
    """Perceived luminance in 0..1 (float32) with the longest side at most QUALITY_SIDE_PX."""
    terms = cv2.LUT(np.asarray(downscale(rgb, QUALITY_SIDE_PX)), _WEIGHTED_SQUARES)
    weighted = terms[..., 0] + terms[..., 1]
    weighted += terms[..., 2]
    return np.sqrt(weighted, out=weighted)


def measure(grey: np.ndarray, box: PixelBox | None = None) -> QualityMetrics:
    """Every exposure and sharpness measure of a grey_thumbnail; `box`: its content_box when the
    caller has it already."""
    p01, p05, p50, p95, p99, p999 = percentiles(grey, (1, 5, 50, 95, 99, 99.9))
    luma_range = float(p99 - p01)
    clipped, fragments = clipped_content(grey, box)
    tiles = _Tiles.of(grey, luma_range)
    least_sharp, most_sharp = directional_sharpness(grey, luma_range, tiles)
    return QualityMetrics(
        luma_mean=float(grey.mean()),
        luma_p01=float(p01),
        luma_p05=float(p05),
        luma_p50=float(p50),
        luma_p95=float(p95),
        luma_p99=float(p99),
        luma_p999=float(p999),
        highlight_fraction=float((grey >= _HIGHLIGHT_LEVEL).mean()),
        flat_midtone_fraction=flat_midtone_fraction(grey),
        blur=float(np.exp(-_BLUR_SCALE * tile_sharpness(grey, luma_range, tiles))),
        clipped_content_fraction=clipped,
        clipped_fragment_fraction=fragments,
        sharpness_min_dir=least_sharp,
        sharpness_max_dir=most_sharp,
    )


_HISTOGRAM_BINS = 4096


def percentiles(grey: np.ndarray, percents: tuple[float, ...]) -> np.ndarray:
    """np.percentile's (linear) percentiles of values in 0..1, read from a 4096-bin histogram
    instead of a partial sort: within a bin (1/4096) of the exact values, at a tenth of the cost.
    """
    values = grey.ravel()
    bins = np.minimum((values * _HISTOGRAM_BINS).astype(np.int32), _HISTOGRAM_BINS - 1)
    counts = np.bincount(bins, minlength=_HISTOGRAM_BINS)
    below = np.cumsum(counts)
    ranks = np.asarray(percents, np.float64) / 100.0 * (values.size - 1)
    found = np.searchsorted(below, ranks, side="right")  # the bin holding each rank
    before = below[found] - counts[found]
    # the values inside a bin taken as spread evenly over it
    within = (ranks - before + 0.5) / counts[found]
    return (found + np.clip(within, 0.0, 1.0)) / _HISTOGRAM_BINS


def linear_percentile(values: np.ndarray, percent: float) -> np.ndarray:
    """np.percentile(values, percent, axis=-1) (its default, linear method) by a plain sort:
    np.percentile's generality costs ten times the sort on the few hundred tiles here."""
    ordered = np.sort(values, axis=-1)
    position = (ordered.shape[-1] - 1) * percent / 100.0
    below = int(np.floor(position))
    above = min(below + 1, ordered.shape[-1] - 1)
    low, high = ordered[..., below], ordered[..., above]
    return low + (high - low) * (position - below)


@dataclass(frozen=True, slots=True)
class _Tiles:
    """The grid of _TILE_PX squares over an image (any remainder at the right and bottom is left
    out), each tile's spread, and which tiles have visible contrast.

    Tiles flatter than 5% of the image's own range (sky, paper, a wall) carry no evidence either
    way about sharpness and are left out.
    """

    rows: int
    cols: int
    spread: np.ndarray  # float64 (rows, cols)
    textured: np.ndarray  # bool (rows, cols)

    @classmethod
    def of(cls, grey: np.ndarray, luma_range: float) -> _Tiles | None:
        rows, cols = grey.shape[0] // _TILE_PX, grey.shape[1] // _TILE_PX
        if rows == 0 or cols == 0:
            return None
        spread = _tile_std(grey, rows, cols)
        return cls(rows, cols, spread, spread > max(0.004, 0.05 * luma_range))

    def means(self, image: np.ndarray) -> np.ndarray:
        """Each tile's mean of `image`: an area resize by a whole factor is an exact box mean."""
        cropped = image[: self.rows * _TILE_PX, : self.cols * _TILE_PX]
        return cv2.resize(cropped, (self.cols, self.rows), interpolation=cv2.INTER_AREA)

    def std(self, image: np.ndarray) -> np.ndarray:
        return _tile_std(image, self.rows, self.cols)


def _tile_std(image: np.ndarray, rows: int, cols: int) -> np.ndarray:
    # float64, so that E[x^2] - E[x]^2 keeps the spread of near-flat tiles
    wide = image[: rows * _TILE_PX, : cols * _TILE_PX].astype(np.float64)
    mean = cv2.resize(wide, (cols, rows), interpolation=cv2.INTER_AREA)
    mean_square = cv2.resize(wide * wide, (cols, rows), interpolation=cv2.INTER_AREA)
    return np.sqrt(np.maximum(mean_square - mean * mean, 0.0))


def tile_sharpness(grey: np.ndarray, luma_range: float, tiles: _Tiles | None = None) -> float:
    """90th percentile, over tiles with visible contrast, of Laplacian spread / tile spread.

    Blur removes high frequencies much faster than it removes contrast, so the ratio drops;
    darkening scales both alike, so the ratio stays.
    """
    tiles = tiles or _Tiles.of(grey, luma_range)
    if tiles is None or not tiles.textured.any():
        return 0.0
    lap_std = tiles.std(cv2.Laplacian(grey, cv2.CV_32F))
    return float(linear_percentile(lap_std[tiles.textured] / tiles.spread[tiles.textured], 90))


def _gaussian_derivative_kernels(sigma: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Zero-mean 1-D Gaussian, first and second derivative kernels (float32)."""
    half = int(np.ceil(3 * sigma))
    x = np.arange(-half, half + 1, dtype=np.float64)
    g0 = np.exp(-(x**2) / (2 * sigma**2))
    g0 /= g0.sum()
    g1 = -x / sigma**2 * g0
    g2 = (x**2 / sigma**4 - 1 / sigma**2) * g0
    return (
        g0.astype(np.float32),
        (g1 - g1.mean()).astype(np.float32),
        (g2 - g2.mean()).astype(np.float32),
    )


_KERNELS = _gaussian_derivative_kernels(_DERIVATIVE_SIGMA_PX)
_ANGLES = np.linspace(0.0, np.pi, _ORIENTATIONS, endpoint=False)
# Per orientation t, the weights of the six tile means of products of second derivatives in the
# energy of cos^2 t Ixx + 2 cos t sin t Ixy + sin^2 t Iyy, in the order xx.xx, xy.xy, yy.yy,
# xx.xy, xx.yy, xy.yy.
_COS2, _SIN_COS2, _SIN2 = (
    np.cos(_ANGLES) ** 2,
    2 * np.cos(_ANGLES) * np.sin(_ANGLES),
    np.sin(_ANGLES) ** 2,
)
_STEERING = np.stack(
    [
        _COS2 * _COS2,
        _SIN_COS2 * _SIN_COS2,
        _SIN2 * _SIN2,
        2 * _COS2 * _SIN_COS2,
        2 * _COS2 * _SIN2,
        2 * _SIN_COS2 * _SIN2,
    ],
    axis=1,
)


def directional_sharpness(
    grey: np.ndarray, luma_range: float, tiles: _Tiles | None = None
) -> tuple[float, float]:
    """(least, most) sharpness over 16 orientations; (0, 0) when no tile has contrast.

    Per orientation t, the second derivative along t is steered from the three Gaussian second
    derivatives (cos² t Ixx + 2 cos t sin t Ixy + sin² t Iyy); its spread per textured tile,
    divided by the tile's spread, is taken at the 98th percentile over tiles (the sharpest parts:
    a subject in focus before a soft background counts). Defocus lowers every orientation; a
    straight camera shake only the one along the streak, which the Laplacian (the sum of two
    orientations) mostly misses.
    """
    tiles = tiles or _Tiles.of(grey, luma_range)
    if tiles is None or not tiles.textured.any():
        return 0.0, 0.0
    g0, g1, g2 = _KERNELS

    def filtered(kernel_x: np.ndarray, kernel_y: np.ndarray) -> np.ndarray:
        return cv2.sepFilter2D(grey, cv2.CV_32F, kernel_x, kernel_y, borderType=cv2.BORDER_REFLECT)

    ixx, ixy, iyy = filtered(g2, g0), filtered(g1, g1), filtered(g0, g2)
    products = (ixx * ixx, ixy * ixy, iyy * iyy, ixx * ixy, ixx * iyy, ixy * iyy)
    # (6, textured tiles): each product's mean over each textured tile
    tile_means = np.stack([tiles.means(p)[tiles.textured] for p in products]).astype(np.float64)
    energy = _STEERING @ tile_means  # (orientations, textured tiles)
    ratio = np.sqrt(np.maximum(energy, 0.0)) / tiles.spread[tiles.textured]
    per_orientation = linear_percentile(ratio, _DIRECTIONAL_PERCENTILE)
    return float(per_orientation.min()), float(per_orientation.max())


def clipped_content(grey: np.ndarray, box: PixelBox | None = None) -> tuple[float, float]:
    """(clipped share, fragment share) of the content inside any uniform padded border.

    A white frame around a photo is the frame, not the photo, so it is left out. Of the content
    that does not clip, the share lying in small pieces (under 0.2% of the content each) tells a
    white page or a screen of text — glyphs and icons scattered over white — from an over-exposed
    scene, whose shadows and mid-tones stay in large connected areas.
    """
    left, top, right, bottom = box or content_box(grey)
    content = grey[top:bottom, left:right]
    clipped = content >= _HIGHLIGHT_LEVEL
    if content.size == 0 or not clipped.any():
        return 0.0, 0.0
    unclipped = (~clipped).astype(np.uint8)
    count, _, stats, _ = cv2.connectedComponentsWithStats(unclipped, connectivity=8)
    areas = stats[1:count, cv2.CC_STAT_AREA]
    small = areas[areas < _FRAGMENT_FRACTION * content.size].sum()
    fragments = float(small / areas.sum()) if areas.size else 0.0
    return float(clipped.mean()), fragments


def flat_midtone_fraction(grey: np.ndarray) -> float:
    """Share of pixels in perfectly flat mid-grey areas: UI panels and chat bubbles, not photos.

    Over-exposed photos are flat only where they clip to white; screenshots are flat in their
    coloured panels too, which is what keeps a white screenshot from reading as "too bright".
    """
    levels = np.clip(grey * 255.0 + 0.5, 0, 255).astype(np.uint8)
    kernel = np.ones((3, 3), np.uint8)
    spread = cv2.dilate(levels, kernel).astype(np.int16) - cv2.erode(levels, kernel)
    midtone = (grey > 0.05) & (grey < _HIGHLIGHT_LEVEL)
    return float(((spread <= 1) & midtone).mean())


# The verdicts below take a QualityMetrics, or the same fields as columns (flag_columns): they
# combine comparisons with & and |, which work on bools and on numpy arrays alike.
Measures = QualityMetrics | SimpleNamespace
Verdict = bool | np.ndarray


def is_dark(metrics: Measures, limits: QualityThresholds) -> Verdict:
    return (metrics.luma_p99 <= limits.dark_luma_p99_max) & (
        metrics.luma_p999 <= limits.dark_luma_p999_max
    )


def is_bright(metrics: Measures, limits: QualityThresholds) -> Verdict:
    return (
        (metrics.highlight_fraction >= limits.bright_highlight_fraction_min)
        & (metrics.luma_p50 >= limits.bright_luma_p50_min)
        & (metrics.luma_p01 >= limits.bright_luma_p01_min)
        & (metrics.flat_midtone_fraction <= limits.bright_flat_midtone_fraction_max)
        & (metrics.clipped_content_fraction >= limits.bright_clipped_content_fraction_min)
        & (metrics.clipped_fragment_fraction <= limits.bright_clipped_fragment_fraction_max)
    )


def is_blurry(metrics: Measures, limits: QualityThresholds) -> Verdict:
    """Soft in every orientation, or soft along one and much sharper across it (a streak)."""
    least, most = metrics.sharpness_min_dir, metrics.sharpness_max_dir
    streak = (least <= limits.blurry_streak_sharpness_max) & (
        least <= limits.blurry_streak_ratio_max * most
    )
    return (
        (least <= limits.blurry_sharpness_max) | streak | (metrics.blur >= limits.blurry_blur_min)
    )


_CHECKS = (("dark", is_dark), ("bright", is_bright), ("blurry", is_blurry))


def flag_columns(
    quality: dict[str, np.ndarray], limits: QualityThresholds
) -> dict[str, np.ndarray]:
    """Each flag for a whole run at once, from RunTable.quality (False where there are no
    facts: NaN compares false)."""
    columns = SimpleNamespace(**quality)
    with np.errstate(invalid="ignore"):
        return {name: np.asarray(check(columns, limits), dtype=bool) for name, check in _CHECKS}


def colourfulness(rgb: np.ndarray) -> float:
    """Mean chroma (0 for a greyscale picture) of a float RGB array in 0..1."""
    maximum, minimum = rgb.max(axis=2), rgb.min(axis=2)
    return float((maximum - minimum).mean())
