"""Byte, pixel and perceptual hashes, and Hamming distance. Pure functions."""

from __future__ import annotations

import hashlib

import imagehash
import numpy as np
from PIL import Image


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pixel_sha256_hex(rgb: Image.Image) -> str:
    """Hash of decoded RGB pixels plus their size, so equal pixels in any container match."""
    digest = hashlib.sha256(f"{rgb.width}x{rgb.height}:".encode())
    digest.update(rgb.tobytes())
    return digest.hexdigest()


def perceptual_hashes(grey: np.ndarray) -> tuple[str, str]:
    """pHash and dHash (64 bits each, as 16 hex digits) of a grey image in 0..1."""
    image = Image.fromarray(np.clip(grey * 255.0 + 0.5, 0, 255).astype(np.uint8), mode="L")
    return str(imagehash.phash(image)), str(imagehash.dhash(image))


def hamming_distance(hex_a: str, hex_b: str) -> int:
    return (int(hex_a, 16) ^ int(hex_b, 16)).bit_count()
