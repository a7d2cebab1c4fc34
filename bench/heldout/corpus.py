"""One split's corpus on disk plus its ground truth (one Item per file).

File names carry no hint of what a file is: every file is `<year>/IMG_<5 digits>.<ext>`, the
number drawn from a seeded permutation and the year folder at random, and every mtime is random,
so no keeper rule (shortest path, oldest file) can be flattered by the way the corpus was written.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from . import damage, degrade, render
from .imaging import camera_exif, encode, seeded
from .sources import PICKS, Pick, load

GOOD_TRANSFORMS = ("none", "exact_copy", "reencode_png")  # acceptable keepers of a picture
# Kinds of still-camera frame pairs cut from each burst source, and where each kind's strip
# starts (0: at the left edge, 1: ending at the right edge).
STILL_FRAME_STRIPS = {
    "subject_moved": 0.0,
    "subject_twitched": 0.25,
    "subject_nudged": 0.5,
    "parallax": 1.0,
}
KEEPS_EXIF = (
    *GOOD_TRANSFORMS,
    "reencode_jpeg_q70",
    "reencode_webp_q75",
    "crop_90",
    "crop_80",
    "crop_70",
)
QUALITY_VARIANTS: dict[str, tuple[str, tuple[str, ...]]] = {  # transform: (class, flags)
    "gamma_darken": ("dark_gamma", ("dark",)),
    "low_light_with_lights": ("low_light_sources", ("dark",)),
    "over_expose": ("over_exposed", ("bright",)),
    "motion_blur": ("motion_blur", ("blurry",)),
    "defocus": ("defocus", ("blurry",)),
}
EXTRAS_PER_SPLIT = {
    "black_subject": 6,
    "document_photo": 6,
    "receipt": 4,
    "document_scan": 3,
    "screenshot": 6,
    "star_field": 5,
    "truncated_jpeg": 5,
    "truncated_png": 3,
    "jpeg_no_eoi": 4,
    "png_no_iend": 4,
}
SPLIT_EPOCH = {"tuning": datetime(2019, 3, 1, 9, 0, 0), "heldout": datetime(2021, 5, 1, 9, 0, 0)}


@dataclass
class Item:
    """Ground truth of one file. dup_role: original / copy (must be grouped with its original),
    variant (a degraded or damaged copy: may or may not be grouped with it), burst (a frame of a
    burst: never a duplicate of the other frame), standalone (its own picture)."""

    path: str
    source: str
    split: str
    klass: str
    transform: str
    original_id: str
    origin: str  # real | derived
    dup_role: str
    good_copy: bool
    expected_flags: list[str]
    expected_corrupt: bool
    burst: str = ""
    taken_at: str = ""  # EXIF DateTimeOriginal written into the file, if any

    def to_json(self) -> dict[str, object]:
        data = asdict(self)
        data["class"] = data.pop("klass")
        return data


@dataclass
class Builder:
    split: str
    root: Path
    items: list[Item] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._numbers = iter(seeded(self.split, "names").permutation(90_000) + 10_000)
        self._rng = seeded(self.split, "folders")

    def add(self, data: bytes, fmt: str, **truth: object) -> Item:
        """Write one file under a fresh meaningless name and record its ground truth."""
        year = 2016 + int(self._rng.integers(0, 4))
        extension = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp"}[fmt]
        path = f"{year}/IMG_{next(self._numbers)}{extension}"
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        mtime_s = datetime(2022, 1, 1).timestamp() + float(self._rng.uniform(0, 3e7))
        os.utime(target, (mtime_s, mtime_s))
        item = Item(path=path, split=self.split, **truth)  # type: ignore[arg-type]
        self.items.append(item)
        return item


def build(split: str, sources_dir: Path, root: Path) -> list[Item]:
    """Write the split's corpus under `root` (which must not exist) and return its truth."""
    root.mkdir(parents=True)
    builder = Builder(split, root)
    picks = PICKS[split]
    normals = [(pick, load(pick, sources_dir)) for pick in picks if pick.use == "normal"]
    for index, (pick, image) in enumerate(normals):
        _add_family(builder, pick, image, _taken_at(split, picks, pick, index))
    for pick in picks:
        if pick.use == "special":
            _add_special(builder, pick, load(pick, sources_dir))
        elif pick.use == "burst_source":
            _add_derived_burst(builder, pick, load(pick, sources_dir))
            for kind in STILL_FRAME_STRIPS:
                _add_still_frames(builder, pick, load(pick, sources_dir), kind)
    _add_extras(builder, normals)
    return builder.items


def _taken_at(split: str, picks: list[Pick], pick: Pick, index: int) -> datetime:
    """Capture time: one per photo; the two frames of a real burst one second apart."""
    if pick.burst_with:
        first = min(pick.member, pick.burst_with)
        anchor = next(i for i, p in enumerate(picks) if p.member == first)
        second = 1 if pick.member != first else 0
        return SPLIT_EPOCH[split] + timedelta(hours=3 * anchor, seconds=second)
    return SPLIT_EPOCH[split] + timedelta(hours=3 * picks.index(pick), minutes=index % 50)


def _burst_id(pick: Pick) -> str:
    if not pick.burst_with:
        return ""
    return f"{pick.source}:{'+'.join(sorted((Path(pick.member).stem, Path(pick.burst_with).stem)))}"


# ---------------------------------------------------------------- a photo and its copies


def _add_family(builder: Builder, pick: Pick, image: Image.Image, taken: datetime) -> None:
    exif = camera_exif(taken)
    rng = seeded(builder.split, pick.original_id, "family")
    original = encode(image, "JPEG", 92, exif)
    common = {"source": f"{pick.source}:{pick.member}", "original_id": pick.original_id}
    burst = _burst_id(pick)

    def copy(
        data: bytes, fmt: str, transform: str, role: str = "copy", origin: str = "derived"
    ) -> None:
        klass = "duplicate" if role == "copy" else ("burst" if burst else "photo")
        builder.add(
            data,
            fmt,
            klass=klass,
            transform=transform,
            origin=origin,
            dup_role=role,
            good_copy=transform in GOOD_TRANSFORMS,
            expected_flags=[],
            expected_corrupt=False,
            burst=burst,
            taken_at=taken.isoformat() if transform in KEEPS_EXIF else "",
            **common,
        )

    copy(original, "JPEG", "none", "original", "real")
    copy(original, "JPEG", "exact_copy")
    copy(encode(image, "JPEG", 70, exif), "JPEG", "reencode_jpeg_q70")
    copy(encode(image, "WEBP", 75, exif), "WEBP", "reencode_webp_q75")
    copy(encode(image, "PNG", exif=exif), "PNG", "reencode_png")
    for keep in (0.9, 0.8, 0.7):
        copy(
            encode(degrade.crop(image, keep, rng), "JPEG", 90, exif),
            "JPEG",
            f"crop_{round(keep * 100)}",
        )
    copy(encode(degrade.border(image, (0, 0, 0)), "JPEG", 90), "JPEG", "border_black")
    copy(encode(degrade.border(image, (255, 255, 255)), "JPEG", 90), "JPEG", "border_white")
    copy(encode(degrade.downscale(image, 2), "JPEG", 85), "JPEG", "downscale_half")
    copy(encode(degrade.downscale(image, 4), "JPEG", 85), "JPEG", "downscale_quarter")
    for transform, (klass, flags) in QUALITY_VARIANTS.items():
        make: Callable[[Image.Image, np.random.Generator], Image.Image] = getattr(
            degrade, transform
        )
        builder.add(
            encode(make(image, rng), "JPEG", 90),
            "JPEG",
            klass=klass,
            transform=transform,
            origin="derived",
            dup_role="variant",
            good_copy=False,
            expected_flags=list(flags),
            expected_corrupt=False,
            burst=burst,
            **common,
        )


def _add_special(builder: Builder, pick: Pick, image: Image.Image) -> None:
    """A real file whose class is not an ordinary photo: only itself, no copies."""
    builder.add(
        encode(image, "JPEG", 92),
        "JPEG",
        source=f"{pick.source}:{pick.member}",
        klass=pick.klass,
        transform="none",
        original_id=pick.original_id,
        origin="real",
        dup_role="standalone",
        good_copy=True,
        expected_flags=list(pick.flags),
        expected_corrupt=False,
    )


def _add_derived_burst(builder: Builder, pick: Pick, image: Image.Image) -> None:
    rng = seeded(builder.split, pick.original_id, "burst")
    frames = degrade.burst_frames(image, rng)
    taken = SPLIT_EPOCH[builder.split] + timedelta(days=200, hours=int(rng.integers(0, 2000)))
    for number, frame in enumerate(frames):
        frame_taken = taken + timedelta(seconds=number)
        builder.add(
            encode(frame, "JPEG", 92, camera_exif(frame_taken)),
            "JPEG",
            taken_at=frame_taken.isoformat(),
            source=f"{pick.source}:{pick.member}",
            klass="burst",
            transform=f"burst_frame_{number + 1}",
            original_id=f"{pick.original_id}#frame{number + 1}",
            origin="derived",
            dup_role="burst",
            good_copy=True,
            expected_flags=[],
            expected_corrupt=False,
            burst=f"{pick.original_id}#burst",
        )


def _add_still_frames(builder: Builder, pick: Pick, image: Image.Image, kind: str) -> None:
    """Two frames that differ only where something moved (a subject, or the near field of a
    stereo step), each with a half-size copy without EXIF and an over-exposed, a darkened and a
    blown-out version: only the pixels can keep a frame's copies away from the other frame."""
    rng = seeded(builder.split, pick.original_id, kind)
    # Each kind starts from its own full-height strip of 70% of the width, so no frame of one
    # kind, nor a camera-shift burst frame (85% of each side), is a crop of another.
    strip = round(image.width * 0.7)
    left = round(STILL_FRAME_STRIPS[kind] * (image.width - strip))
    base = image.crop((left, 0, left + strip, image.height))
    frames = getattr(degrade, f"{kind}_frames")(base, rng)
    taken = SPLIT_EPOCH[builder.split] + timedelta(days=300, hours=int(rng.integers(0, 2000)))
    for number, frame in enumerate(frames):
        frame_taken = taken + timedelta(seconds=number)
        common = {
            "source": f"{pick.source}:{pick.member}",
            "klass": "burst",
            "original_id": f"{pick.original_id}#{kind}{number + 1}",
            "origin": "derived",
            "good_copy": True,
            "expected_flags": [],
            "expected_corrupt": False,
            "burst": f"{pick.original_id}#{kind}",
        }
        builder.add(
            encode(frame, "JPEG", 92, camera_exif(frame_taken)),
            "JPEG",
            taken_at=frame_taken.isoformat(),
            transform=f"{kind}_frame",
            dup_role="original",
            **common,
        )
        common["good_copy"] = False
        builder.add(
            encode(degrade.downscale(frame, 2), "JPEG", 85),
            "JPEG",
            transform=f"{kind}_frame_half",
            dup_role="copy",
            **common,
        )
        # Blown out or sunk, the two frames lose what tells them apart.
        for transform in ("over_expose", "gamma_darken", "blow_out"):
            klass, flags = QUALITY_VARIANTS.get(transform, QUALITY_VARIANTS["over_expose"])
            builder.add(
                encode(getattr(degrade, transform)(frame, rng), "JPEG", 90),
                "JPEG",
                transform=transform,
                dup_role="variant",
                **{**common, "klass": klass, "expected_flags": list(flags)},
            )


# ---------------------------------------------------------------- look-alikes and damage


def _add_extras(builder: Builder, normals: list[tuple[Pick, Image.Image]]) -> None:
    split = builder.split
    _add_black_subjects(builder, normals)
    for number in range(EXTRAS_PER_SPLIT["document_photo"]):
        rng = seeded(split, "document", number)
        _standalone(
            builder,
            render.photographed(render.page(split, rng), rng),
            "JPEG",
            "document",
            "photographed_page",
            number,
        )
    for number in range(EXTRAS_PER_SPLIT["receipt"]):
        rng = seeded(split, "receipt", number)
        _standalone(
            builder,
            render.photographed(render.receipt(split, rng), rng),
            "JPEG",
            "document",
            "photographed_receipt",
            number,
        )
    for number in range(EXTRAS_PER_SPLIT["document_scan"]):
        rng = seeded(split, "scan", number)
        _standalone(
            builder,
            render.scanned(render.page(split, rng, (1240, 1754)), rng),
            "PNG",
            "document",
            "scanned_page",
            number,
        )
    for number in range(EXTRAS_PER_SPLIT["screenshot"]):
        rng = seeded(split, "screenshot", number)
        photo = normals[number % len(normals)][1]
        _standalone(
            builder,
            render.screenshot(split, rng, number % 3, photo),
            "PNG",
            "screenshot",
            f"screenshot_kind{number % 3}",
            number,
        )
    for number in range(EXTRAS_PER_SPLIT["star_field"]):
        rng = seeded(split, "stars", number)
        _standalone(
            builder, render.star_field(rng), "JPEG", "star_field", "rendered_star_field", number
        )
    _add_damaged(builder, normals)


def _standalone(
    builder: Builder, image: Image.Image, fmt: str, klass: str, transform: str, number: int
) -> None:
    builder.add(
        encode(image, fmt, 90),
        fmt,
        source="derived",
        klass=klass,
        transform=transform,
        original_id=f"derived:{transform}{number}",
        origin="derived",
        dup_role="standalone",
        good_copy=True,
        expected_flags=[],
        expected_corrupt=False,
    )


def _add_black_subjects(builder: Builder, normals: list[tuple[Pick, Image.Image]]) -> None:
    bright_enough = [(p, im) for p, im in normals if degrade.mean_luma(im) > 0.3]
    for pick, image in bright_enough[: EXTRAS_PER_SPLIT["black_subject"]]:
        rng = seeded(builder.split, pick.original_id, "black subject")
        builder.add(
            encode(degrade.black_subject(image, rng), "JPEG", 90),
            "JPEG",
            source=f"{pick.source}:{pick.member}",
            klass="black_subject",
            transform="black_subject",
            original_id=pick.original_id,
            origin="derived",
            dup_role="variant",
            good_copy=False,
            expected_flags=[],
            expected_corrupt=False,
            burst=_burst_id(pick),
        )


def _add_damaged(builder: Builder, normals: list[tuple[Pick, Image.Image]]) -> None:
    """Damaged copies of the photos from the end of the list (the black subjects use the start)."""
    makers: list[tuple[str, str, bool]] = [  # transform, format, complete
        ("truncated_jpeg", "JPEG", False),
        ("truncated_png", "PNG", False),
        ("jpeg_no_eoi", "JPEG", True),
        ("png_no_iend", "PNG", True),
    ]
    position = 0
    for transform, fmt, complete in makers:
        for _ in range(EXTRAS_PER_SPLIT[transform]):
            position += 1
            pick, image = normals[-position % len(normals)]
            rng = seeded(builder.split, pick.original_id, transform)
            whole = encode(image, fmt, 92)
            data = _damaged_bytes(transform, whole, rng)
            builder.add(
                data,
                fmt,
                source=f"{pick.source}:{pick.member}",
                klass="damaged_complete" if complete else "corrupt",
                transform=transform,
                original_id=pick.original_id,
                origin="derived",
                dup_role="variant",
                good_copy=False,
                expected_flags=[],
                expected_corrupt=not complete,
                burst=_burst_id(pick),
            )


def _damaged_bytes(transform: str, whole: bytes, rng: np.random.Generator) -> bytes:
    if transform == "truncated_jpeg":
        return damage.truncated(whole, rng)
    if transform == "truncated_png":
        return damage.truncated_png(whole, rng)
    if transform == "jpeg_no_eoi":
        return damage.jpeg_without_eoi(whole)
    return damage.png_without_iend(whole)


def write_truth(items: list[Item], path: Path, meta: dict[str, object]) -> None:
    path.write_text(json.dumps({"meta": meta, "items": [i.to_json() for i in items]}, indent=1))


def read_truth_meta(path: Path) -> dict[str, Any]:
    meta: dict[str, Any] = json.loads(path.read_text())["meta"]
    return meta


def read_truth(path: Path) -> list[dict[str, object]]:
    items: list[dict[str, object]] = json.loads(path.read_text())["items"]
    return items
