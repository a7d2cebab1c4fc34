"""A seeded generator of photo archives with known ground truth, for `hygiene demo` and the tests.

Everything is drawn procedurally (no downloads): photo-like scenes, screenshots, documents, night
skies, their duplicates and degraded copies, broken files of every kind and non-image files. Each
role draws from its own seed, so adding one kind of file never changes the others.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from hygiene.demo.sample_images import (
    bmp_bomb_header,
    burst_frame,
    camera_exif,
    caption,
    dark_subject,
    darken,
    defocus,
    document,
    encoded,
    jpeg_bytes,
    night_sky,
    overexpose,
    pad,
    photo,
    png_bomb,
    png_with_bad_crc,
    real_photos,
    screenshot,
    strip_jpeg_metadata,
)

# The procedural images are part of this module's public face (the tests and the demo use them).
__all__ = [
    "SampleFile",
    "bmp_bomb_header",
    "build_duplicate_corpus",
    "build_sample_archive",
    "burst_frame",
    "camera_exif",
    "caption",
    "dark_subject",
    "darken",
    "defocus",
    "document",
    "encoded",
    "iter_expected",
    "jpeg_bytes",
    "night_sky",
    "overexpose",
    "pad",
    "photo",
    "png_bomb",
    "png_with_bad_crc",
    "real_photos",
    "screenshot",
    "strip_jpeg_metadata",
    "write_manifest",
]

Flag = str  # "dark" | "bright" | "blurry"


@dataclass(frozen=True)
class SampleFile:
    rel_path: str
    kind: str  # what the file is: photo, screenshot, dark, truncated_jpeg, video, ...
    status: str  # what a scan must report: ok | corrupt | skipped
    flags: frozenset[Flag] = frozenset()
    source: str | None = None  # the photo this file was derived from, for duplicates
    transform: str | None = None  # how it was derived: exact_copy, resize, jpeg_q40, ...
    extra: dict[str, object] = field(default_factory=dict)


# ---------------------------------------------------------------- the archive


class _Archive:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.files: list[SampleFile] = []

    def add(
        self, rel_path: str, data: bytes, kind: str, status: str = "ok", **info: object
    ) -> None:
        path = self.root / rel_path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.files.append(SampleFile(rel_path, kind, status, **info))  # type: ignore[arg-type]


def build_sample_archive(
    root: Path, *, seed: int = 7, photos: int = 12, scale: float = 1.0
) -> list[SampleFile]:
    """Write a small phone-backup-like archive under `root` and return its ground truth."""
    root.mkdir(parents=True, exist_ok=True)
    archive = _Archive(root)
    size = (int(1600 * scale), int(1200 * scale))
    originals = [photo(seed * 1000 + i, *size) for i in range(photos)]
    for i, image in enumerate(originals):
        exif = camera_exif(f"2019:07:{i % 28 + 1:02d} 10:{i % 60:02d}:00", "Pixel 3")
        archive.add(f"Camera/IMG_{i:04d}.jpg", jpeg_bytes(image, 92, exif), "photo")
    _add_duplicates(archive, originals)
    _add_degraded(archive, originals, seed)
    _add_look_alikes(archive, seed, size)
    _add_formats(archive, originals)
    _add_broken(archive, originals[0])
    _add_non_images(archive)
    return archive.files


def _add_duplicates(archive: _Archive, originals: list[Image.Image]) -> None:
    first = archive.files[0].rel_path
    data = (archive.root / first).read_bytes()
    for copy in range(3):
        archive.add(
            f"WhatsApp/IMG-20190701-WA000{copy}.jpg",
            data,
            "photo",
            source=first,
            transform="exact_copy",
        )
    second = originals[1]
    small = second.resize((second.width // 2, second.height // 2), Image.Resampling.LANCZOS)
    archive.add(
        "Downloads/IMG_0001_small.jpg",
        jpeg_bytes(small, 85),
        "photo",
        source="Camera/IMG_0001.jpg",
        transform="resize_0.5",
    )
    archive.add(
        "Downloads/IMG_0001_q40.jpg",
        jpeg_bytes(second, 40),
        "photo",
        source="Camera/IMG_0001.jpg",
        transform="jpeg_q40",
    )


def _add_degraded(archive: _Archive, originals: list[Image.Image], seed: int) -> None:
    rng = np.random.default_rng(seed + 77)
    for i in range(2, min(len(originals), 5)):
        image = originals[i]
        archive.add(
            f"Camera/IMG_{i:04d}_dark.jpg",
            jpeg_bytes(darken(image, rng.uniform(0.12, 0.22))),
            "dark",
            flags=frozenset({"dark"}),
            source=f"Camera/IMG_{i:04d}.jpg",
        )
        archive.add(
            f"Camera/IMG_{i:04d}_bright.jpg",
            jpeg_bytes(overexpose(image, rng.uniform(2.4, 3.0))),
            "bright",
            flags=frozenset({"bright"}),
            source=f"Camera/IMG_{i:04d}.jpg",
        )
        archive.add(
            f"Camera/IMG_{i:04d}_blur.jpg",
            jpeg_bytes(defocus(image, rng.uniform(0.008, 0.015))),
            "blurry",
            flags=frozenset({"blurry"}),
            source=f"Camera/IMG_{i:04d}.jpg",
        )


def _add_look_alikes(archive: _Archive, seed: int, size: tuple[int, int]) -> None:
    archive.add("Camera/night_sky.jpg", jpeg_bytes(night_sky(seed + 11, *size)), "night_sky")
    archive.add("Camera/black_cat.jpg", jpeg_bytes(dark_subject(seed + 12, *size)), "dark_subject")
    archive.add(
        "Screenshots/Screenshot_20200101.png", encoded(screenshot(seed + 13), "PNG"), "screenshot"
    )
    archive.add(
        "Screenshots/Screenshot_20200101.jpg",
        jpeg_bytes(screenshot(seed + 13), 90),
        "screenshot",
        source="Screenshots/Screenshot_20200101.png",
        transform="to_jpeg",
    )
    archive.add("Documents/receipt scan.jpg", jpeg_bytes(document(seed + 14), 85), "document")


def _add_formats(archive: _Archive, originals: list[Image.Image]) -> None:
    image = originals[-1]
    small = image.resize((image.width // 2, image.height // 2))
    archive.add("Formats/photo.webp", encoded(small, "WEBP", quality=80), "photo")
    archive.add("Formats/photo.gif", encoded(small.convert("P"), "GIF"), "photo")
    archive.add("Formats/photo.tiff", encoded(small, "TIFF"), "photo")
    archive.add("Formats/photo.bmp", encoded(small, "BMP"), "photo")
    archive.add("Formats/photo.heic", encoded(small, "HEIF", quality=80), "photo")
    archive.add(
        "Formats/stereo.mpo", encoded(small, "MPO", save_all=True, append_images=[small]), "photo"
    )
    rotated = image.transpose(Image.Transpose.ROTATE_90)  # stored sideways, EXIF turns it back
    archive.add(
        "Formats/rotated_exif6.jpg",
        jpeg_bytes(rotated, 90, camera_exif("2020:01:02 03:04:05", "iPhone 8", 6)),
        "photo",
        extra={"width": image.width, "height": image.height},
    )
    archive.add("Ümlaut Ordner/Strand  mit Leerzeichen.jpg", jpeg_bytes(small), "photo")
    archive.add("Names/line\nbreak.jpg", jpeg_bytes(small, 70), "photo")
    archive.add(
        "Names/photo.txt", jpeg_bytes(small, 75), "photo", extra={"note": "JPEG named .txt"}
    )
    archive.add(".thumbnails/hidden.jpg", jpeg_bytes(small), "hidden", status="absent")
    archive.add(".hygiene-quarantine/old.jpg", jpeg_bytes(small), "quarantined", status="absent")


def _add_broken(archive: _Archive, image: Image.Image) -> None:
    good = jpeg_bytes(image, 90)
    png = encoded(image.resize((400, 300)), "PNG")
    broken: list[tuple[str, bytes, str]] = [
        ("Broken/zero_byte.jpg", b"", "empty"),
        ("Broken/header_only.jpg", good[:400], "header_only"),
        ("Broken/truncated_half.jpg", good[: len(good) // 2], "truncated_jpeg"),
        ("Broken/bad_crc.png", png_with_bad_crc(image.resize((400, 300))), "bad_crc"),
        ("Broken/truncated.png", png[: len(png) * 2 // 3], "truncated_png"),
        (
            "Broken/page.html.jpg",
            b"<!DOCTYPE html><html><body>Not a photo</body></html>\n",
            "wrong_magic",
        ),
        ("Broken/random.png", np.random.default_rng(5).bytes(5000), "random_bytes"),
        ("Broken/bomb.bmp", bmp_bomb_header(), "bomb"),
        ("Broken/truncated.webp", encoded(image, "WEBP")[:3000], "truncated_webp"),
    ]
    for rel_path, data, kind in broken:
        archive.add(rel_path, data, kind, status="corrupt")
    # every pixel is there, only the container's end is missing: readable, repairable
    archive.add("Damaged/no_end_marker.jpg", good[:-2], "missing_eoi", status="damaged")
    archive.add(
        "Damaged/no_iend.png", png[: png.rindex(b"IEND") - 4], "missing_iend", status="damaged"
    )


def _add_non_images(archive: _Archive) -> None:
    video = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(2000)
    archive.add("Videos/VID_0001.mp4", video, "video", status="skipped")
    archive.add("Documents/notes.txt", b"shopping list\nmilk\n", "text", status="skipped")
    archive.add(
        "Documents/manual.pdf",
        b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + bytes(500),
        "pdf",
        status="skipped",
    )
    archive.add("Documents/empty.txt", b"", "empty_text", status="skipped")


def iter_expected(files: list[SampleFile]) -> Iterator[SampleFile]:
    """The files a scan must list (hidden and quarantined ones are never scanned)."""
    return (f for f in files if f.status != "absent")


def write_manifest(files: list[SampleFile], path: Path) -> None:
    records = [{**asdict(f), "flags": sorted(f.flags)} for f in files]
    path.write_text(json.dumps(records, indent=1, ensure_ascii=False), encoding="utf-8")


# ---------------------------------------------------------------- duplicate corpus


def _transforms(
    original: bytes, image: Image.Image, taken: str
) -> dict[str, tuple[bytes, str, str]]:
    """transform name -> (bytes, extension, relation a scan must find: exact | pixel | near)."""
    decoded = Image.open(io.BytesIO(original)).convert("RGB")
    width, height = image.size
    exif6 = camera_exif(taken, "Camera", 6)  # the phone turned it, the date stays
    return {
        "exact_copy": (original, "jpg", "exact"),
        "metadata_stripped": (strip_jpeg_metadata(original), "jpg", "pixel"),
        "lossless_png": (encoded(decoded, "PNG"), "png", "pixel"),
        "lossless_bmp": (encoded(decoded, "BMP"), "bmp", "pixel"),
        "resize_half": (
            jpeg_bytes(image.resize((width // 2, height // 2), Image.Resampling.LANCZOS), 85),
            "jpg",
            "near",
        ),
        "resize_small": (
            jpeg_bytes(
                image.resize((width * 3 // 10, height * 3 // 10), Image.Resampling.LANCZOS), 80
            ),
            "jpg",
            "near",
        ),
        "jpeg_q35": (jpeg_bytes(image, 35), "jpg", "near"),
        "webp_q60": (encoded(image, "WEBP", quality=60), "webp", "near"),
        "crop_10": (
            jpeg_bytes(image.crop((width // 10, 0, width, height * 9 // 10)), 90),
            "jpg",
            "near",
        ),
        "crop_center": (
            jpeg_bytes(
                image.crop((width // 20, height // 20, width * 19 // 20, height * 19 // 20)), 90
            ),
            "jpg",
            "near",
        ),
        "pad_white": (jpeg_bytes(pad(image, 0.08, (255, 255, 255)), 90), "jpg", "near"),
        "pad_black": (jpeg_bytes(pad(image, 0.05, (0, 0, 0)), 90), "jpg", "near"),
        "caption": (jpeg_bytes(caption(image, "WHEN IT'S FRIDAY"), 90), "jpg", "near"),
        "watermark": (jpeg_bytes(caption(image, "(c) stock", watermark=True), 90), "jpg", "near"),
        "grayscale": (jpeg_bytes(image.convert("L").convert("RGB"), 90), "jpg", "near"),
        "brighter": (jpeg_bytes(darken(image, 1.15), 90), "jpg", "near"),
        "darker": (jpeg_bytes(darken(image, 0.85), 90), "jpg", "near"),
        "rotate_90": (jpeg_bytes(image.transpose(Image.Transpose.ROTATE_90), 90), "jpg", "near"),
        "rotate_180": (jpeg_bytes(image.transpose(Image.Transpose.ROTATE_180), 90), "jpg", "near"),
        "rotate_270": (jpeg_bytes(image.transpose(Image.Transpose.ROTATE_270), 90), "jpg", "near"),
        "exif_rotated": (
            jpeg_bytes(image.transpose(Image.Transpose.ROTATE_90), 90, exif6),
            "jpg",
            "near",
        ),
        "mirrored": (
            jpeg_bytes(image.transpose(Image.Transpose.FLIP_LEFT_RIGHT), 90),
            "jpg",
            "near",
        ),
    }


def build_duplicate_corpus(
    root: Path, originals: dict[str, Image.Image], *, bursts: bool = True
) -> list[SampleFile]:
    """Every original with every duplicate transform, plus burst pairs (similar, not duplicates)."""
    archive = _Archive(root)
    for index, (name, image) in enumerate(sorted(originals.items())):
        taken = f"2015:03:{index % 28 + 1:02d} 12:{index % 60:02d}:00"
        original = jpeg_bytes(image, 92, camera_exif(taken, "Camera"))
        source = f"originals/{name}.jpg"
        archive.add(source, original, "photo", extra={"group": name})
        for transform, (data, extension, relation) in _transforms(original, image, taken).items():
            archive.add(
                f"copies/{name}/{transform}.{extension}",
                data,
                "photo",
                source=source,
                transform=transform,
                extra={"group": name, "relation": relation},
            )
        if bursts:
            frame = burst_frame(image, index)
            later = f"2015:03:{index % 28 + 1:02d} 12:{index % 60:02d}:01"
            archive.add(
                f"bursts/{name}_next.jpg",
                jpeg_bytes(frame, 92, camera_exif(later, "Camera")),
                "burst",
                extra={"group": f"{name}#burst", "similar_to": source},
            )
    return archive.files
