"""Exposure and sharpness measurements on a fixed-size grey thumbnail. Pure functions.

Brightness uses the perceived-luminance weighting cleanvision uses, sqrt(.241 R^2 + .691 G^2 +
.068 B^2), but keeps percentiles instead of a mean so one bright moon or a field of stars keeps a
night photo from reading as "dark". Sharpness is measured per tile and normalised by the tile's own
contrast, so a dim photo is not "blurry" for being dim and a white page with crisp text is not
"blurry" for being mostly empty.
"""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

from hygiene.config import QualityThresholds
from hygiene.imageio import downscale
from hygiene.records import ImageFacts, QualityMetrics

QUALITY_SIDE_PX = 512  # measurements are taken at this size; smaller images are not upscaled
_TILE_PX = 32
_HIGHLIGHT_LEVEL = 0.98
_BLUR_SCALE = 2.0  # blur = exp(-_BLUR_SCALE * sharpness)


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
    p01, p05, p50, p95, p99, p999 = np.percentile(grey, [1, 5, 50, 95, 99, 99.9])
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
        blur=float(np.exp(-_BLUR_SCALE * tile_sharpness(grey, float(p99 - p01)))),
    )


def tile_sharpness(grey: np.ndarray, luma_range: float) -> float:
    """90th percentile, over tiles with visible contrast, of Laplacian spread / tile spread.

    Blur removes high frequencies much faster than it removes contrast, so the ratio drops;
    darkening scales both alike, so the ratio stays. Tiles flatter than 5% of the image's own
    range (sky, paper, a wall) carry no evidence either way and are left out.
    """
    laplacian = cv2.Laplacian(grey, cv2.CV_32F)
    rows, cols = grey.shape[0] // _TILE_PX, grey.shape[1] // _TILE_PX
    if rows == 0 or cols == 0:
        return 0.0
    shape = (rows, _TILE_PX, cols, _TILE_PX)
    crop = (slice(0, rows * _TILE_PX), slice(0, cols * _TILE_PX))
    tile_std = grey[crop].reshape(shape).std(axis=(1, 3))
    lap_std = laplacian[crop].reshape(shape).std(axis=(1, 3))
    textured = tile_std > max(0.004, 0.05 * luma_range)
    if not textured.any():
        return 0.0
    return float(np.percentile(lap_std[textured] / tile_std[textured], 90))


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


def is_dark(metrics: QualityMetrics, limits: QualityThresholds) -> bool:
    return (
        metrics.luma_p99 <= limits.dark_luma_p99_max
        and metrics.luma_p999 <= limits.dark_luma_p999_max
    )


def is_bright(metrics: QualityMetrics, limits: QualityThresholds) -> bool:
    return (
        metrics.highlight_fraction >= limits.bright_highlight_fraction_min
        and metrics.luma_p50 >= limits.bright_luma_p50_min
        and metrics.luma_p01 >= limits.bright_luma_p01_min
        and metrics.flat_midtone_fraction <= limits.bright_flat_midtone_fraction_max
    )


def is_blurry(metrics: QualityMetrics, limits: QualityThresholds) -> bool:
    return metrics.blur >= limits.blurry_blur_min


def quality_flags(facts: ImageFacts, limits: QualityThresholds) -> tuple[str, ...]:
    """The names of the quality flags a readable image raises."""
    metrics = facts.quality
    checks = (("dark", is_dark), ("bright", is_bright), ("blurry", is_blurry))
    return tuple(name for name, check in checks if check(metrics, limits))
