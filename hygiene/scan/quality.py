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

from types import SimpleNamespace

import cv2
import numpy as np
from PIL import Image

from hygiene.records import ImageFacts, QualityMetrics, QualityThresholds
from hygiene.scan.hashing import content_box
from hygiene.scan.imageio import downscale

QUALITY_SIDE_PX = 512  # measurements are taken at this size; smaller images are not upscaled
_TILE_PX = 32
_HIGHLIGHT_LEVEL = 0.98
_BLUR_SCALE = 2.0  # blur = exp(-_BLUR_SCALE * sharpness)
_FRAGMENT_FRACTION = 0.002  # unclipped pieces smaller than this share of the content
_DERIVATIVE_SIGMA_PX = 0.7  # Gaussian derivative scale of the directional sharpness
_ORIENTATIONS = 16
_DIRECTIONAL_PERCENTILE = 98


def grey_thumbnail(rgb: Image.Image) -> np.ndarray:
    """Perceived luminance in 0..1 (float32) with the longest side at most QUALITY_SIDE_PX."""
    channels = np.asarray(downscale(rgb, QUALITY_SIDE_PX), dtype=np.float32) / 255.0
    weighted = (
        0.241 * channels[..., 0] ** 2
        + 0.691 * channels[..., 1] ** 2
        + 0.068 * channels[..., 2] ** 2
    )
    return np.sqrt(weighted)


def measure(grey: np.ndarray) -> QualityMetrics:
    p01, p05, p50, p95, p99, p999 = percentiles(grey, (1, 5, 50, 95, 99, 99.9))
    luma_range = float(p99 - p01)
    clipped, fragments = clipped_content(grey)
    least_sharp, most_sharp = directional_sharpness(grey, luma_range)
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
        blur=float(np.exp(-_BLUR_SCALE * tile_sharpness(grey, luma_range))),
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


def _tiled(image: np.ndarray, rows: int, cols: int) -> np.ndarray:
    return image[: rows * _TILE_PX, : cols * _TILE_PX].reshape(rows, _TILE_PX, cols, _TILE_PX)


def _textured_tiles(grey: np.ndarray, luma_range: float) -> tuple[int, int, np.ndarray, np.ndarray]:
    """Tile grid size, per-tile spread, and which tiles have visible contrast.

    Tiles flatter than 5% of the image's own range (sky, paper, a wall) carry no evidence either
    way about sharpness and are left out.
    """
    rows, cols = grey.shape[0] // _TILE_PX, grey.shape[1] // _TILE_PX
    tile_std = _tiled(grey, rows, cols).std(axis=(1, 3))
    return rows, cols, tile_std, tile_std > max(0.004, 0.05 * luma_range)


def tile_sharpness(grey: np.ndarray, luma_range: float) -> float:
    """90th percentile, over tiles with visible contrast, of Laplacian spread / tile spread.

    Blur removes high frequencies much faster than it removes contrast, so the ratio drops;
    darkening scales both alike, so the ratio stays.
    """
    if grey.shape[0] < _TILE_PX or grey.shape[1] < _TILE_PX:
        return 0.0
    rows, cols, tile_std, textured = _textured_tiles(grey, luma_range)
    if not textured.any():
        return 0.0
    lap_std = _tiled(cv2.Laplacian(grey, cv2.CV_32F), rows, cols).std(axis=(1, 3))
    return float(np.percentile(lap_std[textured] / tile_std[textured], 90))


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


def directional_sharpness(grey: np.ndarray, luma_range: float) -> tuple[float, float]:
    """(least, most) sharpness over 16 orientations; (0, 0) when no tile has contrast.

    Per orientation t, the second derivative along t is steered from the three Gaussian second
    derivatives (cos² t Ixx + 2 cos t sin t Ixy + sin² t Iyy); its spread per textured tile,
    divided by the tile's spread, is taken at the 98th percentile over tiles (the sharpest parts:
    a subject in focus before a soft background counts). Defocus lowers every orientation; a
    straight camera shake only the one along the streak, which the Laplacian (the sum of two
    orientations) mostly misses.
    """
    if grey.shape[0] < _TILE_PX or grey.shape[1] < _TILE_PX:
        return 0.0, 0.0
    rows, cols, tile_std, textured = _textured_tiles(grey, luma_range)
    if not textured.any():
        return 0.0, 0.0
    g0, g1, g2 = _gaussian_derivative_kernels(_DERIVATIVE_SIGMA_PX)

    def filtered(kernel_x: np.ndarray, kernel_y: np.ndarray) -> np.ndarray:
        return cv2.sepFilter2D(grey, cv2.CV_32F, kernel_x, kernel_y, borderType=cv2.BORDER_REFLECT)

    ixx, ixy, iyy = filtered(g2, g0), filtered(g1, g1), filtered(g0, g2)

    def tile_mean(product: np.ndarray) -> np.ndarray:
        return _tiled(product, rows, cols).mean(axis=(1, 3))[textured].astype(np.float64)

    xx_xx, xy_xy, yy_yy = tile_mean(ixx * ixx), tile_mean(ixy * ixy), tile_mean(iyy * iyy)
    xx_xy, xx_yy, xy_yy = tile_mean(ixx * ixy), tile_mean(ixx * iyy), tile_mean(ixy * iyy)
    spread = tile_std[textured].astype(np.float64)
    per_orientation = []
    for angle in np.linspace(0.0, np.pi, _ORIENTATIONS, endpoint=False):
        a, b, c = np.cos(angle) ** 2, 2 * np.cos(angle) * np.sin(angle), np.sin(angle) ** 2
        energy = (
            a * a * xx_xx
            + b * b * xy_xy
            + c * c * yy_yy
            + 2 * a * b * xx_xy
            + 2 * a * c * xx_yy
            + 2 * b * c * xy_yy
        )
        ratio = np.sqrt(np.maximum(energy, 0.0)) / spread
        per_orientation.append(float(np.percentile(ratio, _DIRECTIONAL_PERCENTILE)))
    return min(per_orientation), max(per_orientation)


def clipped_content(grey: np.ndarray) -> tuple[float, float]:
    """(clipped share, fragment share) of the content inside any uniform padded border.

    A white frame around a photo is the frame, not the photo, so it is left out. Of the content
    that does not clip, the share lying in small pieces (under 0.2% of the content each) tells a
    white page or a screen of text — glyphs and icons scattered over white — from an over-exposed
    scene, whose shadows and mid-tones stay in large connected areas.
    """
    left, top, right, bottom = content_box(grey)
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


def quality_flags(facts: ImageFacts, limits: QualityThresholds) -> tuple[str, ...]:
    """The names of the quality flags a readable image raises."""
    return tuple(name for name, check in _CHECKS if check(facts.quality, limits))


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
