"""Byte, pixel and perceptual hashes, and Hamming distance. Pure functions."""

from __future__ import annotations

import hashlib

import cv2
import numpy as np
from PIL import Image


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pixel_sha256_hex(rgb: Image.Image) -> str:
    """Hash of decoded RGB pixels plus their size, so equal pixels in any container match."""
    digest = hashlib.sha256(f"{rgb.width}x{rgb.height}:".encode())
    digest.update(rgb.tobytes())
    return digest.hexdigest()


# The eight rotations and mirrors of a frame, in a fixed order. Index 0 is the frame itself.
DIHEDRAL: tuple[Image.Transpose | None, ...] = (
    None,
    Image.Transpose.ROTATE_90,
    Image.Transpose.ROTATE_180,
    Image.Transpose.ROTATE_270,
    Image.Transpose.FLIP_LEFT_RIGHT,
    Image.Transpose.TRANSPOSE,
    Image.Transpose.FLIP_TOP_BOTTOM,
    Image.Transpose.TRANSVERSE,
)
# Sub-windows (left, top, right, bottom as fractions) whose hashes let a cropped copy find its
# original: a copy that lost up to ~10% on some sides matches one of the first five; one that
# keeps 80% or 70% of each side, anywhere in the frame, lands within a few percent of one of the
# 3x3 grid windows of its size.
_GRID_SCALES = (0.8, 0.7)


def _grid(scale: float) -> tuple[tuple[float, float, float, float], ...]:
    starts = (0.0, (1.0 - scale) / 2, 1.0 - scale)
    return tuple((x, y, x + scale, y + scale) for y in starts for x in starts)


CROP_WINDOWS: tuple[tuple[float, float, float, float], ...] = (
    (0.05, 0.05, 0.95, 0.95),
    (0.0, 0.0, 0.9, 0.9),
    (0.1, 0.0, 1.0, 0.9),
    (0.0, 0.1, 0.9, 1.0),
    (0.1, 0.1, 1.0, 1.0),
    *(window for scale in _GRID_SCALES for window in _grid(scale)),
)
# The middle band of the frame: a meme caption or a date stamp along the top or bottom edge
# leaves it untouched.
CENTRE_BAND = (0.0, 0.2, 1.0, 0.8)
NEAR_HASH_COUNT = len(DIHEDRAL) + len(CROP_WINDOWS) + 1
CENTRE_BAND_SLOT = NEAR_HASH_COUNT - 1
_HASH_SIDE = 32
_BORDER_TOLERANCE = 0.03  # luminance spread allowed inside a padded border
_MAX_BORDER_FRACTION = 0.3


PixelBox = tuple[int, int, int, int]  # left, top, right, bottom in pixels


def content_box(grey: np.ndarray, tolerance: float = _BORDER_TOLERANCE) -> PixelBox:
    """(left, top, right, bottom) of the frame inside a uniform padded border, if any."""
    height, width = grey.shape
    top, bottom, left, right = 0, height, 0, width
    limit_y, limit_x = int(height * _MAX_BORDER_FRACTION), int(width * _MAX_BORDER_FRACTION)
    corner = float(np.median([grey[0, 0], grey[0, -1], grey[-1, 0], grey[-1, -1]]))

    def uniform(strip: np.ndarray) -> bool:
        return bool(np.abs(strip - corner).max() <= tolerance)

    while top < limit_y and uniform(grey[top, :]):
        top += 1
    while height - bottom < limit_y and uniform(grey[bottom - 1, :]):
        bottom -= 1
    while left < limit_x and uniform(grey[top:bottom, left]):
        left += 1
    while width - right < limit_x and uniform(grey[top:bottom, right - 1]):
        right -= 1
    if top < 2 and left < 2 and height - bottom < 2 and width - right < 2:
        return 0, 0, width, height  # a one-pixel edge is resampling, not padding
    return left, top, right, bottom


def inside_box(
    image: np.ndarray, box: tuple[float, float, float, float], min_side_px: int
) -> np.ndarray:
    """`image` cropped to `box` (left, top, right, bottom as fractions of its size), or whole
    when the box would leave a side under `min_side_px`."""
    height, width = image.shape[:2]
    left, top = round(box[0] * width), round(box[1] * height)
    right, bottom = round(box[2] * width), round(box[3] * height)
    if right - left < min_side_px or bottom - top < min_side_px:
        return image
    return image[top:bottom, left:right]


def near_hashes(grey: np.ndarray, box: PixelBox | None = None) -> np.ndarray:
    """pHashes for near-duplicate search (uint64, NEAR_HASH_COUNT of them). `box`: the frame's
    content_box when the caller has it already.

    The first eight are the border-trimmed frame under each rotation and mirror (DIHEDRAL order);
    then the CROP_WINDOWS and the CENTRE_BAND of the trimmed frame, unrotated. Every view is an
    area-averaged 32x32 copy (what cv2.INTER_AREA computes), all taken from one integral image.
    """
    left, top, right, bottom = box or content_box(grey)
    levels = np.clip(grey[top:bottom, left:right] * 255.0 + 0.5, 0, 255).astype(np.uint8)
    height, width = levels.shape
    windows = [(0, height, 0, width)]
    for x0, y0, x1, y1 in (*CROP_WINDOWS, CENTRE_BAND):
        windows.append((int(y0 * height), int(y1 * height), int(x0 * width), int(x1 * width)))
    low = _low_frequencies(area_resized(levels, windows, _HASH_SIDE))
    return _phash_bits(np.concatenate([_dihedral_low(low[0]), low[1:]]))


# int8 units of a colour layout: chroma (a channel less the mean of the three) reaches 2/3 of 255
LAYOUT_STEP = 2 / 255
LAYOUT_CELLS = 4  # a colour layout is a LAYOUT_CELLS x LAYOUT_CELLS grid of each view


def window_colours(rgb: np.ndarray) -> np.ndarray:
    """The colour layout of the whole frame and of each CROP_WINDOW, in near_hashes' order
    (whole first): mean chroma per cell of a LAYOUT_CELLS-square grid and per channel, int8 in
    LAYOUT_STEPs, shape (1 + len(CROP_WINDOWS), LAYOUT_CELLS, LAYOUT_CELLS, 3). `rgb` is uint8,
    the content inside any border.

    A crop that matches a window on its pHash (luminance) must show the window's colours too;
    the duplicate stage checks this before it spends a template search on the pair.
    """
    height, width = rgb.shape[:2]
    views = np.array([(0.0, 0.0, 1.0, 1.0), *CROP_WINDOWS])
    steps = np.arange(LAYOUT_CELLS + 1) / LAYOUT_CELLS
    # Each view's cell edges in whole pixels, (views, LAYOUT_CELLS + 1) across and down.
    xs = np.rint((views[:, :1] + (views[:, 2:3] - views[:, :1]) * steps) * width).astype(int)
    ys = np.rint((views[:, 1:2] + (views[:, 3:4] - views[:, 1:2]) * steps) * height).astype(int)
    x0, x1 = xs[:, None, :-1], xs[:, None, 1:]  # (views, 1, cells): the columns
    y0, y1 = ys[:, :-1, None], ys[:, 1:, None]  # (views, cells, 1): the rows
    integral = cv2.integral(rgb).astype(np.int64)
    sums = integral[y1, x1] - integral[y0, x1] - integral[y1, x0] + integral[y0, x0]
    area = np.maximum((y1 - y0) * (x1 - x0), 1)[..., None]
    means = sums / area  # (views, cells, cells, 3)
    chroma = means - means.mean(axis=-1, keepdims=True)  # linear: the mean of pixels' chroma
    return np.rint(chroma / (LAYOUT_STEP * 255)).astype(np.int8)


def area_resized(
    image: np.ndarray, windows: list[tuple[int, int, int, int]], side: int
) -> np.ndarray:
    """Each window (top, bottom, left, right in pixels) of a uint8 image shrunk to side x side
    by area averaging, rounded to uint8, as an array (windows, side, side).

    The integral image makes the cumulative sum at any fractional point a bilinear lookup (the
    pixels are constant in between), so each output pixel's weighted area sum is exact: the
    same values as cv2.resize with INTER_AREA up to its float rounding, for all windows at once
    instead of one resize each.
    """
    height, width = image.shape
    integral = cv2.integral(image, sdepth=cv2.CV_64F)
    bounds = np.asarray(windows, np.float64)
    steps = np.arange(side + 1) / side
    ys = bounds[:, :1] + (bounds[:, 1:2] - bounds[:, :1]) * steps
    xs = bounds[:, 2:3] + (bounds[:, 3:4] - bounds[:, 2:3]) * steps
    row, col = (
        np.minimum(ys.astype(np.int64), height - 1),
        np.minimum(xs.astype(np.int64), width - 1),
    )
    fy, fx = (ys - row)[:, :, None], (xs - col)[:, None, :]
    r, c = row[:, :, None], col[:, None, :]
    s00, s01 = integral[r, c], integral[r, c + 1]
    s10, s11 = integral[r + 1, c], integral[r + 1, c + 1]
    cumulative = s00 + fy * (s10 - s00) + fx * (s01 - s00) + fy * fx * (s11 - s10 - s01 + s00)
    sums = (
        cumulative[:, 1:, 1:]
        - cumulative[:, :-1, 1:]
        - cumulative[:, 1:, :-1]
        + cumulative[:, :-1, :-1]
    )
    cell_area = (bounds[:, 1] - bounds[:, 0]) * (bounds[:, 3] - bounds[:, 2]) / side**2
    return np.rint(sums / cell_area[:, None, None]).astype(np.uint8)


# The first 8 rows of the (unnormalised, as scipy.fftpack's) DCT-II matrix of 32 samples:
# imagehash's pHash keeps only the 8x8 lowest frequencies, so two small products give them.
_DCT_LOW = 2 * np.cos(np.pi * np.arange(8)[:, None] * (2 * np.arange(_HASH_SIDE) + 1) / 64)
# DIHEDRAL's rotations and mirrors (PIL rotates counter-clockwise) as (transpose, then reverse
# the rows, reverse the columns) of a square frame. Reversing a frame along an axis negates its
# odd frequencies along that axis and transposing it transposes its DCT, so all eight views'
# hashes come from the one DCT of the frame.
_DIHEDRAL_AXES = (
    (False, False, False),
    (True, True, False),
    (False, True, True),
    (True, False, True),
    (False, False, True),
    (True, False, False),
    (False, True, False),
    (True, True, True),
)
_ODD_NEGATED = np.where(np.arange(8) % 2, -1.0, 1.0)


def _low_frequencies(stack: np.ndarray) -> np.ndarray:
    """The 8x8 lowest DCT-II frequencies of each 32x32 frame in `stack`, as scipy.fftpack's."""
    return _DCT_LOW @ stack.astype(np.float64) @ _DCT_LOW.T


def _dihedral_low(low: np.ndarray) -> np.ndarray:
    """The low frequencies of the frame under each DIHEDRAL view, from the frame's own."""
    views = []
    for transpose, reverse_rows, reverse_columns in _DIHEDRAL_AXES:
        view = low.T if transpose else low
        if reverse_rows:
            view = view * _ODD_NEGATED[:, None]
        if reverse_columns:
            view = view * _ODD_NEGATED[None, :]
        views.append(view)
    return np.stack(views)


def _phash_bits(low: np.ndarray) -> np.ndarray:
    flat = np.round(low.reshape(len(low), 64), 6)  # exact zeros (flat frames) compare as zero
    bits = flat > np.median(flat, axis=1)[:, None]
    return np.packbits(bits, axis=1).view(">u8").ravel().astype(np.uint64)


def phash_ints(stack: np.ndarray) -> np.ndarray:
    """imagehash.phash of each 32x32 uint8 image in `stack` (n, 32, 32), bit for bit, as uint64
    (the hash's 64 bits read row by row, first bit highest): the low-frequency DCT of all of them
    at once as matrix products, instead of one PIL image and one full DCT each."""
    return _phash_bits(_low_frequencies(stack))
