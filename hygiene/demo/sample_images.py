"""Procedural test images (photo-like scenes, night skies, screenshots, documents, dark
subjects), their degradations, encoders with EXIF, hostile files, and the real photos shipped in
the scientific wheels. Pure and seeded; samples.py builds archives from them.
"""

from __future__ import annotations

import io
import zlib
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageFilter

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


def camera_exif(
    taken_at: str, model: str, orientation: int = 1, subsec: str | None = None
) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0110] = model
    exif[0x0112] = orientation
    exif.get_ifd(0x8769)[0x9003] = taken_at
    if subsec is not None:
        exif.get_ifd(0x8769)[0x9291] = subsec
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


# ---------------------------------------------------------------- copies a duplicate finder meets


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
