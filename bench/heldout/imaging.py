"""Pixel and encoding helpers: float images in [0, 1], sRGB <-> linear light, noise, EXIF."""

from __future__ import annotations

import io
import zlib
from datetime import datetime

import numpy as np
import numpy.typing as npt
from PIL import Image

Pixels = npt.NDArray[np.float32]  # H x W x 3, sRGB-encoded values in [0, 1] unless named linear

EXIF_IFD = 0x8769
TAG_MODEL = 0x0110
TAG_DATETIME_ORIGINAL = 0x9003


def seeded(*parts: object) -> np.random.Generator:
    """A generator whose seed depends only on the given names: the corpus is reproducible."""
    text = "|".join(str(part) for part in parts)
    return np.random.default_rng(zlib.crc32(text.encode()))


def to_pixels(image: Image.Image) -> Pixels:
    return np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0


def to_image(pixels: Pixels) -> Image.Image:
    return Image.fromarray((np.clip(pixels, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8))


def srgb_to_linear(values: Pixels) -> Pixels:
    values = np.clip(values, 0.0, 1.0)
    low = values / 12.92
    high = ((values + 0.055) / 1.055) ** 2.4
    return np.where(values <= 0.04045, low, high).astype(np.float32)


def linear_to_srgb(values: Pixels) -> Pixels:
    values = np.clip(values, 0.0, 1.0)
    low = values * 12.92
    high = 1.055 * values ** (1 / 2.4) - 0.055
    return np.where(values <= 0.0031308, low, high).astype(np.float32)


def luma(pixels: Pixels) -> npt.NDArray[np.float32]:
    """Rec. 601 luma of sRGB values, for choosing among photos (not hygiene's measure)."""
    weights = np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return np.asarray(pixels @ weights, dtype=np.float32)


def sensor_noise(pixels: Pixels, sigma: float, rng: np.random.Generator) -> Pixels:
    """Signal-dependent noise like a camera's: shot noise grows with brightness, plus a floor."""
    shot = np.sqrt(np.clip(pixels, 0.0, 1.0)) * sigma
    noise = rng.standard_normal(pixels.shape).astype(np.float32) * (shot + sigma * 0.35)
    return np.clip(pixels + noise, 0.0, 1.0).astype(np.float32)


def camera_exif(taken: datetime, model: str = "HeldoutCam 1") -> Image.Exif:
    exif = Image.Exif()
    exif[TAG_MODEL] = model
    exif.get_ifd(EXIF_IFD)[TAG_DATETIME_ORIGINAL] = taken.strftime("%Y:%m:%d %H:%M:%S")
    return exif


def encode(
    image: Image.Image, fmt: str, quality: int = 92, exif: Image.Exif | None = None
) -> bytes:
    """JPEG / WEBP / PNG bytes; EXIF only when given (an empty EXIF is not written)."""
    buffer = io.BytesIO()
    options: dict[str, object] = {}
    if fmt in ("JPEG", "WEBP"):
        options["quality"] = quality
    if exif is not None:
        options["exif"] = exif.tobytes()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()
