"""What the model sees: the scan's WebP thumbnail, or the original file at the model's input
resolution when the model wants more pixels than a thumbnail holds.

Thumbnails (longest side `thumbnail_px`, 256 by default) serve 224-px models. A model with a
larger input (336 or 384 px) would see an upscaled thumbnail, so for it each survivor is read
again from the archive and decoded at the smallest JPEG DCT scale that still covers the
model's input on the short side. The duplicate stage never sees these pixels: its thumbnails
stay as they were measured on (a larger thumbnail merged different frames on HELD-OUT, see
docs/benchmarks.md). A file that changed since the scan, vanished or no longer decodes falls
back to its thumbnail, so an embedding always describes the content the catalog hashed.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from hygiene.records import ImageRow
from hygiene.scan import SNIFF_BYTES, DecodeError, decode, sniff_image_format
from hygiene.scan.hashing import sha256_hex


@dataclass(frozen=True, slots=True)
class Original:
    rel_path: str
    size_bytes: int
    width: int  # full resolution, after EXIF orientation
    height: int


@dataclass(frozen=True)
class Originals:
    """The archive's files by content hash, to read a survivor again at a model's resolution."""

    root: Path
    by_sha: dict[str, Original]
    max_pixels: int

    @classmethod
    def of(cls, root: Path, rows: list[ImageRow], max_pixels: int) -> Originals:
        by_sha = {
            row.sha256: Original(row.rel_path, row.size_bytes, row.facts.width, row.facts.height)
            for row in rows
        }
        return cls(root, by_sha, max_pixels)

    def image(self, sha256: str, short_side_px: int) -> Image.Image | None:
        """The file with this content, decoded with its short side at least `short_side_px`
        (or at full size when smaller); None when it is not that content any more."""
        original = self.by_sha.get(sha256)
        if original is None:
            return None
        try:
            with open(self.root / original.rel_path, "rb") as handle:
                data = handle.read(original.size_bytes + 1)
        except OSError:
            return None
        if len(data) != original.size_bytes or sha256_hex(data) != sha256:
            return None
        return at_model_size(data, original.width, original.height, short_side_px, self.max_pixels)


def at_model_size(
    data: bytes, width: int, height: int, short_side_px: int, max_pixels: int
) -> Image.Image | None:
    """An image file's bytes (`width` x `height` at full size) decoded at the smallest DCT
    scale whose short side still reaches `short_side_px`; None when it does not decode."""
    sniffed = sniff_image_format(data[:SNIFF_BYTES])
    if sniffed is None:
        return None
    shortest, longest = max(1, min(width, height)), max(width, height)
    reduce_to_px = math.ceil(short_side_px * longest / shortest)
    try:
        return decode(data, sniffed, max_pixels=max_pixels, reduce_to_px=reduce_to_px).rgb
    except DecodeError:
        return None


def wider_than_thumbnails(model_input_px: int, thumbnail_px: int) -> bool:
    """Whether a model would see its thumbnails upscaled past their longest side."""
    return model_input_px > thumbnail_px


@dataclass(frozen=True)
class ModelInputs:
    """Picks, per model, where its input pixels come from."""

    model_input_px: int
    thumbnail_px: int
    originals: Originals | None

    def image(self, sha256: str, thumbnail: Callable[[str], bytes | None]) -> Image.Image | None:
        """The pixels to embed for this content; `thumbnail` reads its WebP from the catalog."""
        wider = wider_than_thumbnails(self.model_input_px, self.thumbnail_px)
        if self.originals is not None and wider:
            original = self.originals.image(sha256, self.model_input_px)
            if original is not None:
                return original
        thumbnail_webp = thumbnail(sha256)
        if thumbnail_webp is None:
            return None
        try:
            with Image.open(io.BytesIO(thumbnail_webp), formats=["WEBP"]) as image:
                return image.convert("RGB")
        except (OSError, ValueError):
            return None
