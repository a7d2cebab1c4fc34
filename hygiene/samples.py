"""A seeded generator of photo archives with known ground truth, for `hygiene demo` and the tests.

Everything is drawn procedurally (no downloads): photo-like scenes, screenshots, documents, night
skies, their duplicates and degraded copies, broken files of every kind and non-image files. Each
role draws from its own seed, so adding one kind of file never changes the others.
"""

from __future__ import annotations

import io
import json
import zlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageFilter

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


# ---------------------------------------------------------------- procedural images


def real_photos() -> dict[str, Image.Image]:
    """Photographs shipped inside the scikit-image and scikit-learn wheels (dev extras)."""
    import skimage
    import sklearn

    skimage_dir = Path(skimage.__file__).parent / "data"
    names = [
        "astronaut.png",
        "chelsea.png",
        "coffee.png",
        "rocket.jpg",
        "motorcycle_left.png",
        "grass.png",
        "gravel.png",
        "brick.png",
        "coins.png",
        "camera.png",
    ]
    photos = {name: Image.open(skimage_dir / name).convert("RGB") for name in names}
    for path in sorted((Path(sklearn.__file__).parent / "datasets" / "images").glob("*.jpg")):
        photos[path.name] = Image.open(path).convert("RGB")
    return photos


def photo(seed: int, width: int = 1600, height: int = 1200) -> Image.Image:
    """A photo-like scene: graded sky, textured ground, objects with crisp edges, sensor noise."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    top, bottom = rng.uniform(0.35, 0.95, 3), rng.uniform(0.2, 0.8, 3)
    t = (ys / height)[..., None]
    canvas = top * (1 - t) + bottom * t
    horizon = height * rng.uniform(0.45, 0.7) + sum(
        rng.uniform(10, 60) * np.sin(xs[0] / width * rng.uniform(2, 9) + rng.uniform(0, 6))
        for _ in range(3)
    )
    ground = ys > horizon[None, :]
    texture = cv2.GaussianBlur(rng.normal(0, 1, (height, width)).astype(np.float32), (0, 0), 3)
    ground_colour = rng.uniform(0.1, 0.6, 3)
    canvas[ground] = ground_colour + 0.08 * texture[ground][:, None]
    image = np.clip(canvas * 255, 0, 255).astype(np.uint8)
    for _ in range(rng.integers(6, 14)):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        axes = (
            int(rng.integers(width // 30, width // 6)),
            int(rng.integers(height // 30, height // 6)),
        )
        cv2.ellipse(
            image, centre, axes, float(rng.uniform(0, 180)), 0, 360, colour, -1, cv2.LINE_AA
        )
    for _ in range(rng.integers(20, 40)):
        p1 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        p2 = (p1[0] + int(rng.integers(-200, 200)), p1[1] + int(rng.integers(-200, 200)))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        cv2.line(image, p1, p2, colour, int(rng.integers(1, 4)), cv2.LINE_AA)
    noise = rng.normal(0, 3.0, image.shape)
    return Image.fromarray(np.clip(image + noise, 0, 255).astype(np.uint8))


def night_sky(seed: int, width: int = 1600, height: int = 1200) -> Image.Image:
    """Near-black sky with scattered stars: dark on average, but not an under-exposed photo."""
    rng = np.random.default_rng(seed)
    sky = np.full((height, width, 3), 6, np.float32) + rng.normal(0, 2, (height, width, 3))
    count = int(width * height * rng.uniform(0.002, 0.004))
    for _ in range(count):
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        level = float(rng.uniform(150, 255))
        cv2.circle(
            sky, (x, y), int(rng.integers(1, 3)), (level, level, level * 0.95), -1, cv2.LINE_AA
        )
    return Image.fromarray(np.clip(sky, 0, 255).astype(np.uint8))


def screenshot(seed: int, width: int = 1080, height: int = 1920) -> Image.Image:
    """A chat-app screenshot: white background, flat coloured bar and bubbles, crisp text."""
    rng = np.random.default_rng(seed)
    image = np.full((height, width, 3), 255, np.uint8)
    bar = tuple(int(c) for c in rng.integers(0, 160, 3))
    cv2.rectangle(image, (0, 0), (width, height // 12), bar, -1)
    cv2.putText(
        image, "Family group", (40, height // 18), cv2.FONT_HERSHEY_SIMPLEX, 2, (255,) * 3, 3
    )
    y = height // 8
    while y < height - 200:
        mine = bool(rng.integers(0, 2))
        bubble_w = int(rng.integers(width // 3, int(width * 0.8)))
        x0 = width - bubble_w - 30 if mine else 30
        colour = (220, 248, 198) if mine else (236, 236, 236)
        bubble_h = int(rng.integers(90, 220))
        cv2.rectangle(image, (x0, y), (x0 + bubble_w, y + bubble_h), colour, -1)
        for line in range(bubble_h // 60):
            words = "".join(chr(c) for c in rng.integers(97, 123, int(rng.integers(8, 24))))
            cv2.putText(
                image,
                words,
                (x0 + 20, y + 50 + 55 * line),
                cv2.FONT_HERSHEY_SIMPLEX,
                1.4,
                (20, 20, 20),
                2,
                cv2.LINE_AA,
            )
        y += bubble_h + int(rng.integers(20, 60))
    return Image.fromarray(image)


def document(seed: int, width: int = 1240, height: int = 1754) -> Image.Image:
    """A scanned page: off-white paper with faint noise and lines of dark text."""
    rng = np.random.default_rng(seed)
    paper = np.full((height, width), 246, np.float32) + rng.normal(0, 2, (height, width))
    page = np.clip(paper, 0, 255).astype(np.uint8)
    for row in range(120, height - 120, 48):
        if rng.random() < 0.12:
            continue
        words = " ".join(
            "".join(chr(c) for c in rng.integers(97, 123, int(rng.integers(2, 9))))
            for _ in range(int(rng.integers(4, 9)))
        )
        cv2.putText(page, words, (100, row), cv2.FONT_HERSHEY_SIMPLEX, 1.1, 25, 2, cv2.LINE_AA)
    return Image.fromarray(page).convert("RGB")


def dark_subject(seed: int, width: int = 1600, height: int = 1200) -> Image.Image:
    """A black cat on a sofa: a big dark subject, but a normally exposed room around it."""
    base = np.asarray(photo(seed, width, height)).astype(np.float32)
    rng = np.random.default_rng(seed + 1)
    mask = np.zeros((height, width), np.uint8)
    cv2.ellipse(mask, (width // 2, height // 2), (width // 4, height // 3), 0, 0, 360, 255, -1)
    fur = 18 + 6 * cv2.GaussianBlur(rng.normal(0, 1, (height, width)).astype(np.float32), (0, 0), 2)
    base[mask > 0] = fur[mask > 0][:, None]
    return Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))


def darken(image: Image.Image, factor: float) -> Image.Image:
    return Image.fromarray(np.clip(np.asarray(image, np.float32) * factor, 0, 255).astype(np.uint8))


def overexpose(image: Image.Image, gain: float) -> Image.Image:
    pixels = np.asarray(image, np.float32) * gain + 40
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def defocus(image: Image.Image, fraction_of_side: float) -> Image.Image:
    return image.filter(ImageFilter.GaussianBlur(max(image.size) * fraction_of_side))


def jpeg_bytes(image: Image.Image, quality: int = 90, exif: Image.Exif | None = None) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality, exif=exif if exif is not None else b"")
    return buffer.getvalue()


def encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    if fmt.upper() in ("HEIF", "HEIC"):
        import pillow_heif

        pillow_heif.register_heif_opener()
        fmt = "HEIF"
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def camera_exif(taken_at: str, model: str, orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0110] = model
    exif[0x0112] = orientation
    exif.get_ifd(0x8769)[0x9003] = taken_at
    return exif


# ---------------------------------------------------------------- broken files


def png_with_bad_crc(image: Image.Image) -> bytes:
    data = bytearray(encoded(image, "PNG"))
    idat = data.index(b"IDAT")
    data[idat + 20] ^= 0xFF  # inside the compressed data; the stored CRC no longer matches
    return bytes(data)


def bmp_bomb_header(width: int = 60_000, height: int = 60_000) -> bytes:
    """A BMP header announcing billions of pixels, with almost no data behind it."""
    row = (width * 3 + 3) // 4 * 4
    info = (
        (40).to_bytes(4, "little")
        + width.to_bytes(4, "little")
        + height.to_bytes(4, "little")
        + (1).to_bytes(2, "little")
        + (24).to_bytes(2, "little")
        + bytes(4)
        + (row * height % 2**32).to_bytes(4, "little")
        + bytes(16)
    )
    header = b"BM" + (54 + 64).to_bytes(4, "little") + bytes(4) + (54).to_bytes(4, "little")
    return header + info + bytes(64)


def png_bomb(width: int = 20_000, height: int = 20_000) -> bytes:
    """A real, valid PNG of one colour that inflates to width*height pixels."""
    raw_row = b"\x00" + bytes(width // 8 + 1)
    compressor = zlib.compressobj(9)
    body = b"".join(compressor.compress(raw_row) for _ in range(height)) + compressor.flush()

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload).to_bytes(4, "big")
        return len(payload).to_bytes(4, "big") + kind + payload + crc

    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([1, 0, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


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


def strip_jpeg_metadata(data: bytes) -> bytes:
    """The same JPEG without its APPn segments: other bytes, identical pixels."""
    out, pos = bytearray(data[:2]), 2
    while pos + 4 <= len(data) and data[pos] == 0xFF and data[pos + 1] != 0xDA:
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if not 0xE1 <= data[pos + 1] <= 0xEF:
            out += data[pos : pos + 2 + length]
        pos += 2 + length
    return bytes(out + data[pos:])


def caption(image: Image.Image, text: str, *, watermark: bool = False) -> Image.Image:
    pixels = np.asarray(image).copy()
    height, width = pixels.shape[:2]
    scale = width / 500
    if watermark:
        overlay = pixels.copy()
        cv2.putText(
            overlay,
            text,
            (int(width * 0.55), int(height * 0.93)),
            cv2.FONT_HERSHEY_SIMPLEX,
            scale * 0.8,
            (255, 255, 255),
            max(1, int(scale * 2)),
        )
        pixels = cv2.addWeighted(overlay, 0.5, pixels, 0.5, 0)
    else:
        for y in (int(height * 0.1), int(height * 0.95)):
            origin = (int(width * 0.05), y)
            cv2.putText(
                pixels,
                text,
                origin,
                cv2.FONT_HERSHEY_SIMPLEX,
                scale,
                (0, 0, 0),
                max(2, int(scale * 6)),
                cv2.LINE_AA,
            )
            cv2.putText(
                pixels,
                text,
                origin,
                cv2.FONT_HERSHEY_SIMPLEX,
                scale,
                (255, 255, 255),
                max(1, int(scale * 2)),
                cv2.LINE_AA,
            )
    return Image.fromarray(pixels)


def pad(image: Image.Image, fraction: float, colour: tuple[int, int, int]) -> Image.Image:
    border = int(max(image.size) * fraction)
    canvas = Image.new("RGB", (image.width + 2 * border, image.height + 2 * border), colour)
    canvas.paste(image, (border, border))
    return canvas


def burst_frame(image: Image.Image, seed: int) -> Image.Image:
    """The next frame of a burst: the camera drifts a little and one subject moves."""
    rng = np.random.default_rng(seed)
    pixels = np.asarray(image)
    height, width = pixels.shape[:2]
    shift = np.float32(
        [[1, 0, rng.uniform(-0.015, 0.015) * width], [0, 1, rng.uniform(-0.015, 0.015) * height]]
    )
    moved = cv2.warpAffine(pixels, shift, (width, height), borderMode=cv2.BORDER_REFLECT)
    x, y = int(rng.uniform(0.3, 0.6) * width), int(rng.uniform(0.3, 0.6) * height)
    w, h = width // 5, height // 5
    dx = int(rng.choice([-1, 1]) * width * 0.06)
    patch = moved[y : y + h, x : x + w].copy()
    moved[y : y + h, x + dx : x + dx + w] = patch[:, : max(0, min(w, width - x - dx))]
    colour = tuple(int(c) for c in rng.integers(0, 256, 3))
    cv2.circle(moved, (x + w // 2, y - h // 3), max(4, w // 4), colour, -1, cv2.LINE_AA)
    return Image.fromarray(moved)


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
