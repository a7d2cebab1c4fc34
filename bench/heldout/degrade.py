"""Derived copies of a real photo: exposure faults, blur, and the copies a duplicate finder meets.

Every function takes a PIL image (and a seeded generator where it draws anything) and returns a
new image. Exposure and blur are applied in linear light, as a camera would produce them.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from PIL import Image

from .imaging import (
    Pixels,
    linear_to_srgb,
    luma,
    sensor_noise,
    srgb_to_linear,
    to_image,
    to_pixels,
)

# ---------------------------------------------------------------- exposure


def gamma_darken(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """out = gain * in ** gamma: mid-tones sink much faster than highlights."""
    gamma, gain = rng.uniform(2.5, 3.5), rng.uniform(0.25, 0.40)
    pixels = gain * to_pixels(image) ** gamma
    return to_image(sensor_noise(pixels.astype(np.float32), 0.006, rng))


def low_light_with_lights(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A scene underexposed by 4-5.5 stops with a few lamps left burning in frame."""
    stops = rng.uniform(4.0, 5.5)
    linear = srgb_to_linear(to_pixels(image)) * 2.0 ** (-stops)
    linear = _add_lamps(linear, int(rng.integers(2, 7)), rng)
    return to_image(sensor_noise(linear_to_srgb(linear), 0.01, rng))


def _add_lamps(linear: Pixels, count: int, rng: np.random.Generator) -> Pixels:
    height, width = linear.shape[:2]
    long_side_px = max(height, width)
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
    glow = np.zeros_like(linear)
    for _ in range(count):
        centre_y, centre_x = rng.uniform(0.05, 0.7) * height, rng.uniform(0.05, 0.95) * width
        radius_px = long_side_px * rng.uniform(0.003, 0.008)
        colour = np.array([1.0, rng.uniform(0.75, 0.95), rng.uniform(0.4, 0.8)], np.float32)
        distance_sq = (rows - centre_y) ** 2 + (cols - centre_x) ** 2
        core = (distance_sq <= radius_px**2).astype(np.float32) * 4.0
        halo = np.exp(-distance_sq / (2 * (3 * radius_px) ** 2)) * 0.06
        glow += (core + halo)[..., None] * colour
    return (linear + glow).astype(np.float32)


def over_expose(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """1.8-3 stops too much light: the sensor clips, highlights lose their colour."""
    stops = rng.uniform(1.8, 3.0)
    linear = srgb_to_linear(to_pixels(image)) * 2.0**stops
    return to_image(sensor_noise(linear_to_srgb(linear), 0.004, rng))


def blow_out(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """3.5-5 stops too much light: most of the frame clips to white, a few shadows survive."""
    stops = rng.uniform(3.5, 5.0)
    linear = srgb_to_linear(to_pixels(image)) * 2.0**stops
    return to_image(sensor_noise(linear_to_srgb(linear), 0.004, rng))


# ---------------------------------------------------------------- blur


def motion_blur(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A straight camera shake: a line kernel 1-4% of the long side long, at any angle."""
    length_px = max(image.size) * rng.uniform(0.01, 0.04)
    kernel = _line_kernel(length_px, rng.uniform(0.0, math.pi))
    linear = cv2.filter2D(srgb_to_linear(to_pixels(image)), -1, kernel, cv2.BORDER_REFLECT)
    return to_image(sensor_noise(linear_to_srgb(linear), 0.004, rng))


def _line_kernel(length_px: float, angle_rad: float) -> Pixels:
    """A normalised anti-aliased line through the kernel's centre (bilinear splats)."""
    size = math.ceil(length_px) | 1
    size += 2
    kernel = np.zeros((size, size), np.float32)
    centre = size // 2
    for step in np.linspace(-length_px / 2, length_px / 2, int(length_px * 4) + 1):
        x, y = centre + step * math.cos(angle_rad), centre + step * math.sin(angle_rad)
        x0, y0 = math.floor(x), math.floor(y)
        fx, fy = x - x0, y - y0
        kernel[y0, x0] += (1 - fx) * (1 - fy)
        kernel[y0, x0 + 1] += fx * (1 - fy)
        kernel[y0 + 1, x0] += (1 - fx) * fy
        kernel[y0 + 1, x0 + 1] += fx * fy
    return kernel / kernel.sum()


def defocus(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Gaussian defocus, sigma 0.5-1.5% of the long side."""
    sigma_px = max(image.size) * rng.uniform(0.005, 0.015)
    linear = cv2.GaussianBlur(srgb_to_linear(to_pixels(image)), (0, 0), sigma_px)
    return to_image(sensor_noise(linear_to_srgb(linear), 0.004, rng))


# ---------------------------------------------------------------- copies


def crop(image: Image.Image, keep_fraction: float, rng: np.random.Generator) -> Image.Image:
    """Keep `keep_fraction` of each side, the window anywhere in the frame."""
    width, height = round(image.width * keep_fraction), round(image.height * keep_fraction)
    left = int(rng.integers(0, image.width - width + 1))
    top = int(rng.integers(0, image.height - height + 1))
    return image.crop((left, top, left + width, top + height))


def border(image: Image.Image, colour: tuple[int, int, int]) -> Image.Image:
    """A frame of 1/12 of the width on every side."""
    pad_px = round(image.width / 12)
    framed = Image.new("RGB", (image.width + 2 * pad_px, image.height + 2 * pad_px), colour)
    framed.paste(image, (pad_px, pad_px))
    return framed


def downscale(image: Image.Image, factor: int) -> Image.Image:
    size = (max(1, round(image.width / factor)), max(1, round(image.height / factor)))
    return image.resize(size, Image.Resampling.LANCZOS)


# ---------------------------------------------------------------- bursts


def burst_frames(image: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, Image.Image]:
    """Two frames of one burst: the camera moved 3-6% sideways between them, the exposure
    changed a little, each frame has its own noise."""
    keep = 0.85
    width, height = round(image.width * keep), round(image.height * keep)
    shift_x = round(image.width * rng.uniform(0.03, 0.06))
    shift_y = round(image.height * rng.uniform(-0.02, 0.02))
    left = int(rng.integers(0, image.width - width - shift_x + 1))
    top = int(rng.integers(abs(shift_y), image.height - height - abs(shift_y) + 1))
    first = image.crop((left, top, left + width, top + height))
    second = image.crop(
        (left + shift_x, top + shift_y, left + shift_x + width, top + shift_y + height)
    )
    return _exposed(first, 0.0, rng), _exposed(second, rng.uniform(-0.25, 0.25), rng)


def subject_moved_frames(
    image: Image.Image, rng: np.random.Generator
) -> tuple[Image.Image, Image.Image]:
    """Two frames from a tripod: the same background, one subject (a soft-edged blob covering
    4-12% of the frame) moved by 2-5% of the width between them, each frame with its noise."""
    return _subject_moved(image, rng, (0.04, 0.12), (0.02, 0.05))


def subject_nudged_frames(
    image: Image.Image, rng: np.random.Generator
) -> tuple[Image.Image, Image.Image]:
    """As subject_moved_frames, with a smaller subject (1.5-5%) that moves 1-2.5% of the width."""
    return _subject_moved(image, rng, (0.015, 0.05), (0.01, 0.025))


def subject_twitched_frames(
    image: Image.Image, rng: np.random.Generator
) -> tuple[Image.Image, Image.Image]:
    """As subject_nudged_frames, moving only 0.4-1% of the width: a pixel or two at the size
    of hygiene's thumbnails (consecutive video frames, a breath between two shots)."""
    return _subject_moved(image, rng, (0.015, 0.05), (0.004, 0.01))


def _subject_moved(
    image: Image.Image,
    rng: np.random.Generator,
    area_range: tuple[float, float],
    step_range: tuple[float, float],
) -> tuple[Image.Image, Image.Image]:
    pixels = to_pixels(image)
    height, width = pixels.shape[:2]
    area = rng.uniform(*area_range) * height * width
    radius_x = math.sqrt(area / math.pi) * rng.uniform(0.8, 1.25)
    radius_y = area / (math.pi * radius_x)
    centre_x = rng.uniform(radius_x + 0.05 * width, width - radius_x - 0.05 * width)
    centre_y = rng.uniform(radius_y + 0.05 * height, height - radius_y - 0.05 * height)
    step = width * rng.uniform(*step_range)
    angle = rng.uniform(0, 2 * math.pi)
    shift_x, shift_y = step * math.cos(angle), step * math.sin(angle)
    mask = np.zeros((height, width), np.float32)
    cv2.ellipse(
        mask,
        (round(centre_x + shift_x), round(centre_y + shift_y)),
        (round(radius_x), round(radius_y)),
        0.0,
        0.0,
        360.0,
        1.0,
        -1,
    )
    mask = cv2.GaussianBlur(mask, (0, 0), max(1.0, radius_x / 8))[..., None]
    moved = cv2.warpAffine(
        pixels,
        np.float32([[1, 0, shift_x], [0, 1, shift_y]]),
        (width, height),
        borderMode=cv2.BORDER_REFLECT,
    )
    second = pixels * (1 - mask) + moved * mask
    return _exposed(to_image(pixels), 0.0, rng), _exposed(to_image(second), 0.0, rng)


def parallax_frames(
    image: Image.Image, rng: np.random.Generator
) -> tuple[Image.Image, Image.Image]:
    """Two frames a step apart sideways: near things shift more than far ones. Horizontal
    disparity grows smoothly from 0 to 1.5-4% of the width over a random depth ramp."""
    pixels = to_pixels(image)
    height, width = pixels.shape[:2]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, 2 * math.pi)
    ramp = (np.cos(angle) * xs / width + np.sin(angle) * ys / height).astype(np.float32)
    ramp = (ramp - ramp.min()) / max(float(ramp.max() - ramp.min()), 1e-6)
    disparity = ramp**2 * width * rng.uniform(0.015, 0.04)
    second = cv2.remap(pixels, xs + disparity, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return _exposed(to_image(pixels), 0.0, rng), _exposed(to_image(second), 0.0, rng)


def _exposed(image: Image.Image, stops: float, rng: np.random.Generator) -> Image.Image:
    linear = srgb_to_linear(to_pixels(image)) * 2.0**stops
    return to_image(sensor_noise(linear_to_srgb(linear), 0.006, rng))


# ---------------------------------------------------------------- black subject


def black_subject(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A black cat-like subject (body, head, two eyes) filling 25-45% of an ordinary scene."""
    pixels = to_pixels(image)
    height, width = pixels.shape[:2]
    mask = _subject_mask(height, width, rng)
    fur = _fur(height, width, rng)
    rim = np.clip(mask - cv2.GaussianBlur(mask, (0, 0), 6.0), 0.0, 1.0)[..., None] * 0.5
    subject = fur + rim * np.float32(0.35)
    out = pixels * (1 - mask[..., None]) + subject * mask[..., None]
    return to_image(_eyes(out.astype(np.float32), mask, rng))


def _subject_mask(height: int, width: int, rng: np.random.Generator) -> Pixels:
    mask = np.zeros((height, width), np.float32)
    centre_x, centre_y = width * rng.uniform(0.35, 0.65), height * rng.uniform(0.5, 0.65)
    body = (int(width * rng.uniform(0.22, 0.32)), int(height * rng.uniform(0.22, 0.3)))
    cv2.ellipse(mask, (int(centre_x), int(centre_y)), body, rng.uniform(-15, 15), 0, 360, 1.0, -1)
    head_radius = int(min(body) * 0.55)
    head = (int(centre_x + body[0] * 0.6), int(centre_y - body[1] * 0.9))
    cv2.circle(mask, head, head_radius, 1.0, -1)
    for side in (-1, 1):  # ears
        tip = (head[0] + side * head_radius // 2, head[1] - int(head_radius * 1.5))
        base = [
            (head[0] + side * head_radius // 8, head[1] - head_radius // 2),
            (head[0] + side * head_radius, head[1] - head_radius // 4),
        ]
        cv2.fillPoly(mask, [np.array([tip, *base], np.int32)], 1.0)
    return cv2.GaussianBlur(mask, (0, 0), max(1.0, min(height, width) / 400))


def _fur(height: int, width: int, rng: np.random.Generator) -> Pixels:
    noise = rng.standard_normal((height, width)).astype(np.float32)
    streaks = cv2.filter2D(noise, -1, _line_kernel(9.0, rng.uniform(0, math.pi)))
    base = rng.uniform(0.035, 0.07)
    grey = np.clip(base + streaks * 0.02, 0.0, 1.0)
    return np.repeat(grey[..., None], 3, axis=2).astype(np.float32)


def _eyes(pixels: Pixels, mask: Pixels, rng: np.random.Generator) -> Pixels:
    rows, cols = np.nonzero(mask > 0.99)
    top = rows.min()
    head_rows = rows < top + (rows.max() - top) * 0.25
    centre_y = int(np.median(rows[head_rows]))
    centre_x = int(np.median(cols[head_rows]))
    radius_px = max(2, int((rows.max() - top) * 0.025))
    colour = (float(rng.uniform(0.5, 0.7)), float(rng.uniform(0.6, 0.8)), 0.15)
    for offset in (-3, 3):
        cv2.circle(pixels, (centre_x + offset * radius_px, centre_y), radius_px, colour, -1)
    return pixels


def mean_luma(image: Image.Image) -> float:
    return float(luma(to_pixels(image)).mean())
