"""Small records and vocabularies shared by the stages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Literal

import numpy as np

Status = Literal["ok", "damaged", "corrupt", "unverified", "skipped"]
# Statuses whose pixels decoded completely: they have facts and take part in every stage.
# "damaged" is a readable image whose container end is broken (see formats.repaired_container).
READABLE: tuple[str, ...] = ("ok", "damaged")


# The keeper rules a [duplicates] keeper_rules chain may name, in their default order.
KEEPER_RULES: tuple[str, ...] = (
    "best_quality",
    "not_degraded",
    "most_pixels",
    "colour",
    "least_lossy",
    "oldest_date",
    "protected",
    "shortest_path",
)


@dataclass(frozen=True, slots=True)
class Category:
    """A category a photo can be filed under, and the prompts that describe it to CLIP."""

    name: str
    prompts: tuple[str, ...]
    negative_prompts: tuple[str, ...] = ()
    threshold: float | None = None  # minimum probability to be filed here


@dataclass(frozen=True)
class QualityThresholds:
    """The [quality] thresholds that turn stored measurements into dark / bright / blurry."""

    dark_luma_p99_max: float = 0.36
    dark_luma_p999_max: float = 0.50
    bright_clipped_content_fraction_min: float = 0.05
    bright_clipped_fragment_fraction_max: float = 0.35
    bright_luma_p50_min: float = 0.50
    bright_flat_midtone_fraction_max: float = 0.12
    bright_highlight_fraction_min: float = 0.0
    bright_luma_p01_min: float = 0.0
    blurry_sharpness_max: float = 0.13
    blurry_streak_sharpness_max: float = 0.19
    blurry_streak_ratio_max: float = 0.50
    blurry_blur_min: float = 1.0


@dataclass(frozen=True, slots=True)
class FileEntry:
    """One path found by discovery. `skip_reason` is set when the path is reported but not read."""

    rel_path: str
    size_bytes: int
    mtime_ns: int
    skip_reason: str | None = None


@dataclass(frozen=True, slots=True)
class QualityMetrics:
    """Raw exposure and sharpness measurements on the fixed-size grey thumbnail (0..1; the
    sharpness ratios can in principle exceed 1, real photos stay well below).

    The fields with defaults came later (catalog migration 5); the defaults mean "no evidence of
    a fault" for code that builds metrics by hand.
    """

    luma_mean: float
    luma_p01: float
    luma_p05: float
    luma_p50: float
    luma_p95: float
    luma_p99: float
    luma_p999: float
    highlight_fraction: float  # share of pixels clipped to white (at or above 0.98)
    flat_midtone_fraction: float  # share of pixels in perfectly flat mid-grey areas
    blur: float  # 0 = crisp detail somewhere in the frame, 1 = no detail at all
    # inside any uniform padded border: the share of the content clipped to white, and the share
    # of the unclipped content lying in fragments under 0.2% of it (glyphs between white, not
    # the shadows and mid-tones of an over-exposed scene); 0 when nothing clips
    clipped_content_fraction: float = 0.0
    clipped_fragment_fraction: float = 0.0
    # sharpness along the least / most sharp of 16 orientations: per orientation, the 98th
    # percentile over textured 32 px tiles of (directional 2nd-derivative spread / tile
    # spread). Defocus lowers both; a motion streak lowers only the one along the streak.
    sharpness_min_dir: float = 1.0
    sharpness_max_dir: float = 1.0


@dataclass(frozen=True, slots=True)
class ImageFacts:
    """What one decode of a readable image yields."""

    format: str
    width: int  # after EXIF orientation, full resolution
    height: int
    orientation: int  # EXIF orientation tag, 1 when absent
    taken_at: str | None  # ISO 8601 from EXIF DateTimeOriginal, local time as recorded
    camera_model: str | None
    pixel_sha256: str | None  # only when the image was decoded at full resolution
    near_hashes: bytes  # uint64 pHashes for near-duplicate search, see hashing.near_hashes
    window_colours: bytes  # int8 colour layouts of the same views, see hashing.window_colours
    colourfulness: float  # mean chroma 0..1; about 0 for a greyscale picture
    content_fraction: float  # share of the frame inside any uniform padded border
    # that content's box as fractions of the frame's width and height (0, 0, 1, 1 unpadded),
    # measured on the clean decode: thumbnails are lossy and blur a border's edge
    content_left: float
    content_top: float
    content_right: float
    content_bottom: float
    # None in a RunTable's facts, which keeps them as columns (RunTable.quality_of): as objects,
    # 460 bytes a file, they were a third of the run table
    quality: QualityMetrics | None
    thumbnail_webp: bytes


@dataclass(frozen=True, slots=True)
class ScanOutcome:
    """The result of scanning one file's content. `facts` is set only when status is ok."""

    status: Status
    error: str | None
    sha256: str | None
    facts: ImageFacts | None = None


@dataclass(frozen=True, slots=True)
class ImageRow:
    """A readable image of the run, as the stages after the scan need it."""

    seq: int
    rel_path: str
    size_bytes: int
    sha256: str
    facts: ImageFacts


@dataclass(frozen=True)
class RunTable:
    """A run's files as columns, in discovery order: read once from the catalog after the scan
    and shared by the duplicate stage, categorization, the plan, the tables and the report.

    `quality` holds one float64 column per QUALITY_FIELDS name, NaN where a file has no facts,
    so quality verdicts are derived for the whole run at once (quality.flag_columns).
    """

    seq: np.ndarray  # int64
    rel_path: list[str]
    size_bytes: np.ndarray  # int64
    mtime_ns: np.ndarray  # int64
    sha256: list[str | None]
    status: list[str]
    error: list[str | None]
    facts: list[ImageFacts | None]  # readable images only; quality None, thumbnail_webp empty
    quality: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.rel_path)

    def quality_of(self, rows: Sequence[ImageRow]) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """The quality columns, and where each of these images is in them."""
        wanted = np.array([row.seq for row in rows], np.int64)
        at = np.minimum(np.searchsorted(self.seq, wanted), max(len(self.seq) - 1, 0))
        if len(wanted) and not np.array_equal(self.seq[at], wanted):
            raise KeyError("a row that is not in this run table")
        return self.quality, at

    def images(self) -> list[ImageRow]:
        """The readable images, for the stages after the scan."""
        return [
            ImageRow(int(self.seq[i]), self.rel_path[i], int(self.size_bytes[i]), sha, facts)
            for i, (sha, facts) in enumerate(zip(self.sha256, self.facts, strict=True))
            if facts is not None and sha is not None
        ]


QUALITY_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(QualityMetrics))
# ImageFacts fields stored as plain catalog columns (the rest are stored on their own).
FACT_FIELDS: tuple[str, ...] = tuple(
    f.name for f in fields(ImageFacts) if f.name not in ("quality", "thumbnail_webp")
)


def timestamp(taken_at: str | None) -> float | None:
    """Seconds since the epoch of an ImageFacts.taken_at, None when absent or unparsable."""
    if taken_at is None:
        return None
    try:
        return datetime.fromisoformat(taken_at).timestamp()
    except ValueError:
        return None


def seconds_apart(first: str | None, second: str | None) -> float | None:
    """Seconds between two capture times, None when either is missing or unparsable."""
    a, b = timestamp(first), timestamp(second)
    return None if a is None or b is None else abs(a - b)
