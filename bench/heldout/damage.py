"""Broken files (must be called corrupt) and damaged-but-complete files (every pixel is there;
real viewers show them whole, so calling them corrupt is a false positive)."""

from __future__ import annotations

import numpy as np

JPEG_EOI = b"\xff\xd9"
PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"


def truncated(data: bytes, rng: np.random.Generator) -> bytes:
    """Cut 15-70% of the file away, as an interrupted copy or download leaves it."""
    return data[: int(len(data) * rng.uniform(0.3, 0.85))]


def truncated_png(data: bytes, rng: np.random.Generator) -> bytes:
    """Cut inside the image data (between the first IDAT and IEND)."""
    first_idat = data.index(b"IDAT")
    end = len(data) - len(PNG_IEND)
    return data[: int(first_idat + (end - first_idat) * rng.uniform(0.2, 0.8))]


def jpeg_without_eoi(data: bytes) -> bytes:
    """Every scan byte is there; only the two-byte end-of-image marker is missing."""
    if not data.endswith(JPEG_EOI):
        raise ValueError("not a complete JPEG")
    return data[: -len(JPEG_EOI)]


def png_without_iend(data: bytes) -> bytes:
    """Every IDAT chunk is there with a good CRC; only the 12-byte IEND chunk is missing."""
    if not data.endswith(PNG_IEND):
        raise ValueError("not a complete PNG")
    return data[: -len(PNG_IEND)]
