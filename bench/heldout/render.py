"""Derived look-alikes, drawn where the packages hold no real example: photographed documents and
receipts, scanned pages, white-background screenshots, star fields.

Everything is drawn with Pillow / OpenCV / numpy from a seeded generator. The two splits use
different fonts and seeds (see FONTS), so a rule tuned on one split's renders meets unseen text
on the other; they still share this generator, which the docs say plainly.
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .imaging import Pixels, linear_to_srgb, sensor_noise, srgb_to_linear, to_image, to_pixels

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/truetype/liberation"))
# (body, bold, mono) font files per split; Pillow's built-in font when a file is missing
FONTS: dict[str, tuple[str, str, str]] = {
    "tuning": ("DejaVuSerif.ttf", "DejaVuSans-Bold.ttf", "DejaVuSansMono.ttf"),
    "heldout": (
        "LiberationSerif-Regular.ttf",
        "LiberationSans-Bold.ttf",
        "LiberationMono-Regular.ttf",
    ),
}

_WORD_TEXT = (
    "the of and to in is that for it as was with be by on not he this are or his from at which "
    "but have an they you were her she there been one all we their has would when if so no will "
    "more other can its about into than them only some time could these may first then do any "
    "like my now over such our man me even most made after also did many before must through "
    "back years where much your way well down should because each just those people how too "
    "invoice account payment total amount date number reference customer service order delivery "
    "meeting report budget project review summary section figure table agreement notice"
)
WORDS = tuple(_WORD_TEXT.split())

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


def missing_fonts(split: str) -> list[str]:
    """The split's font files this machine lacks: its pages are then drawn with Pillow's built-in
    font, and its figures differ (one HELD-OUT page read as over-exposed without Liberation)."""
    return [n for n in FONTS[split] if not any((d / n).exists() for d in FONT_DIRS)]


def font(split: str, kind: int, size_px: int) -> Font:
    name = FONTS[split][kind]
    for folder in FONT_DIRS:
        if (folder / name).exists():
            return ImageFont.truetype(str(folder / name), size_px)
    return ImageFont.load_default(size_px)


def sentence(rng: np.random.Generator, words: int) -> str:
    chosen = [WORDS[int(i)] for i in rng.integers(0, len(WORDS), words)]
    return " ".join(chosen).capitalize()


# ---------------------------------------------------------------- paper


def page(split: str, rng: np.random.Generator, size: tuple[int, int] = (1100, 1556)) -> Image.Image:
    """A printed letter / report page: heading, paragraphs, a ruled table, a signature."""
    width, height = size
    paper = tuple(int(v) for v in rng.uniform(238, 252, 3))
    image = Image.new("RGB", size, paper)
    draw = ImageDraw.Draw(image)
    ink = tuple(int(v) for v in rng.uniform(20, 60, 3))
    margin_px = int(width * rng.uniform(0.08, 0.12))
    y = margin_px
    draw.text((margin_px, y), sentence(rng, 3), font=font(split, 1, 44), fill=ink)
    y += 90
    body = font(split, 0, int(rng.integers(20, 26)))
    while y < height * 0.55:
        y = _paragraph(draw, body, margin_px, y, width - 2 * margin_px, ink, rng) + 18
    y = _ruled_table(draw, body, margin_px, y, width - 2 * margin_px, ink, rng)
    _signature(draw, margin_px, min(y + 60, height - 140), ink, rng)
    return image


def _paragraph(
    draw: ImageDraw.ImageDraw,
    face: Font,
    left: int,
    y: int,
    width_px: int,
    ink: tuple[int, ...],
    rng: np.random.Generator,
) -> int:
    line_px = int(face.size * 1.45) if isinstance(face, ImageFont.FreeTypeFont) else 24
    for _ in range(int(rng.integers(3, 8))):
        text = sentence(rng, 14)
        while draw.textlength(text, font=face) > width_px:
            text = text.rsplit(" ", 1)[0]
        draw.text((left, y), text, font=face, fill=ink)
        y += line_px
    return y


def _ruled_table(
    draw: ImageDraw.ImageDraw,
    face: Font,
    left: int,
    y: int,
    width_px: int,
    ink: tuple[int, ...],
    rng: np.random.Generator,
) -> int:
    rows, row_px = int(rng.integers(4, 8)), 38
    for row in range(rows + 1):
        draw.line((left, y + row * row_px, left + width_px, y + row * row_px), fill=ink, width=2)
    for row in range(rows):
        draw.text((left + 8, y + row * row_px + 8), sentence(rng, 2), font=face, fill=ink)
        amount = f"{rng.uniform(3, 900):.2f}"
        draw.text((left + width_px - 120, y + row * row_px + 8), amount, font=face, fill=ink)
    return y + rows * row_px


def _signature(
    draw: ImageDraw.ImageDraw, left: int, y: int, ink: tuple[int, ...], rng: np.random.Generator
) -> None:
    steps = np.linspace(0, 1, 80)
    xs = left + steps * 260
    ys = y + 25 * np.sin(steps * rng.uniform(8, 16)) * np.exp(-steps * 1.5)
    draw.line(list(zip(xs.tolist(), ys.tolist(), strict=True)), fill=ink, width=3)


def receipt(split: str, rng: np.random.Generator) -> Image.Image:
    """A till receipt on thermal paper: shop, items and prices, total, a barcode."""
    width, height = 520, int(rng.integers(1300, 1700))
    image = Image.new("RGB", (width, height), tuple(int(v) for v in rng.uniform(236, 248, 3)))
    draw = ImageDraw.Draw(image)
    mono, ink = font(split, 2, 22), (45, 45, 55)
    draw.text(
        (width // 2, 50), sentence(rng, 2).upper(), font=font(split, 1, 34), fill=ink, anchor="mt"
    )
    y, total = 150, 0.0
    while y < height - 330:
        price = float(rng.uniform(0.5, 40))
        total += price
        draw.text((30, y), sentence(rng, 2)[:22].upper(), font=mono, fill=ink)
        draw.text((width - 30, y), f"{price:6.2f}", font=mono, fill=ink, anchor="ra")
        y += 34
    draw.text((30, y + 20), "TOTAL", font=font(split, 1, 28), fill=ink)
    draw.text((width - 30, y + 20), f"{total:.2f}", font=font(split, 1, 28), fill=ink, anchor="ra")
    for x in range(60, width - 60, 5):  # barcode
        if rng.random() < 0.55:
            draw.rectangle((x, height - 170, x + int(rng.integers(1, 4)), height - 90), fill=ink)
    return image


def photographed(paper: Image.Image, rng: np.random.Generator) -> Image.Image:
    """The paper photographed on a table by a phone: perspective, shadow, uneven warm or cool
    light, auto exposure that leaves the paper well below white, lens softness, noise."""
    portrait = paper.height > paper.width
    canvas_w, canvas_h = (1200, 1600) if portrait else (1600, 1200)
    table = _table(canvas_h, canvas_w, rng)
    warped, mask = _warp_onto(to_pixels(paper), canvas_w, canvas_h, rng)
    shadow = cv2.GaussianBlur(np.roll(mask, (12, 9), axis=(0, 1)), (0, 0), 14) * 0.45
    scene = table * (1 - shadow[..., None]) * (1 - mask[..., None]) + warped * mask[..., None]
    linear = (
        srgb_to_linear(scene.astype(np.float32)) * _lighting(canvas_h, canvas_w, rng)[..., None]
    )
    linear = linear * _white_balance(rng) * rng.uniform(0.45, 0.8)
    soft = cv2.GaussianBlur(linear_to_srgb(linear), (0, 0), rng.uniform(0.6, 1.1))
    return to_image(sensor_noise(soft, 0.012, rng))


def _table(height: int, width: int, rng: np.random.Generator) -> Pixels:
    kind = int(rng.integers(0, 3))
    rows = np.linspace(0, 1, height, dtype=np.float32)[:, None]
    noise = cv2.GaussianBlur(rng.standard_normal((height, width)).astype(np.float32), (0, 0), 3)
    if kind == 0:  # wood grain
        grain = np.sin(rows * rng.uniform(60, 140) + noise * 2.5) * 0.06
        base, tint = 0.45 + grain, np.array([1.0, 0.72, 0.48], np.float32)
    elif kind == 1:  # grey desk
        base, tint = 0.55 + noise * 0.02 + 0 * rows, np.array([1.0, 1.0, 1.02], np.float32)
    else:  # dark fabric
        base, tint = 0.2 + noise * 0.04 + 0 * rows, np.array([0.8, 0.85, 1.0], np.float32)
    return np.clip(base[..., None] * tint, 0, 1).astype(np.float32)


def _warp_onto(
    paper: Pixels, canvas_w: int, canvas_h: int, rng: np.random.Generator
) -> tuple[Pixels, Pixels]:
    height, width = paper.shape[:2]
    scale = rng.uniform(0.62, 0.85) * min(canvas_w / width, canvas_h / height)
    centre = np.array([canvas_w, canvas_h]) / 2 + rng.uniform(-0.05, 0.05, 2) * [canvas_w, canvas_h]
    half = np.array([width, height]) * scale / 2
    corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * half + centre
    corners += rng.uniform(-0.05, 0.05, (4, 2)) * [canvas_w, canvas_h]
    source = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float32)
    matrix = cv2.getPerspectiveTransform(source, corners.astype(np.float32))
    size = (canvas_w, canvas_h)
    warped = cv2.warpPerspective(paper, matrix, size, flags=cv2.INTER_AREA)
    mask = cv2.warpPerspective(np.ones((height, width), np.float32), matrix, size)
    return warped, mask


def _lighting(height: int, width: int, rng: np.random.Generator) -> Pixels:
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
    rows, cols = rows / height - 0.5, cols / width - 0.5
    light = 1.0 + rng.uniform(-0.35, 0.35) * cols + rng.uniform(-0.35, 0.35) * rows
    light -= 0.5 * (rows**2 + cols**2)  # vignetting
    blob = np.zeros((height, width), np.float32)  # the phone's or a hand's shadow
    centre = (int(rng.uniform(0, width)), int(rng.uniform(0, height)))
    cv2.ellipse(blob, centre, (width // 3, height // 5), rng.uniform(0, 180), 0, 360, 1.0, -1)
    blob = cv2.GaussianBlur(blob, (0, 0), width / 15)
    return (np.clip(light, 0.3, 1.5) * (1 - rng.uniform(0.15, 0.4) * blob)).astype(np.float32)


def _white_balance(rng: np.random.Generator) -> Pixels:
    if rng.random() < 0.5:  # indoor tungsten
        return np.array([1.0, 0.9, 0.72], np.float32)
    return np.array([0.93, 0.98, 1.0], np.float32)


def scanned(paper: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A flatbed scan: near-white paper, a hair of skew, the lid's grey edge, little noise."""
    rotated = paper.rotate(
        rng.uniform(-0.8, 0.8), Image.Resampling.BICUBIC, fillcolor=(250, 250, 250)
    )
    pixels = to_pixels(rotated)
    edge_px = int(rng.integers(8, 25))
    pixels[:, :edge_px] *= np.linspace(0.55, 1.0, edge_px, dtype=np.float32)[None, :, None]
    return to_image(sensor_noise(pixels * rng.uniform(1.0, 1.04), 0.004, rng))


# ---------------------------------------------------------------- screenshots


def screenshot(split: str, rng: np.random.Generator, kind: int, photo: Image.Image) -> Image.Image:
    """kind 0: a phone chat, 1: a phone settings list, 2: a desktop web page with a photo."""
    if kind == 0:
        return _chat(split, rng)
    if kind == 1:
        return _settings(split, rng)
    return _web_page(split, rng, photo)


def _status_bar(draw: ImageDraw.ImageDraw, split: str, width: int) -> None:
    draw.text((40, 22), "9:41", font=font(split, 1, 34), fill=(0, 0, 0))
    for i in range(3):
        draw.rectangle((width - 150 + i * 34, 30, width - 126 + i * 34, 58), fill=(0, 0, 0))


def _chat(split: str, rng: np.random.Generator) -> Image.Image:
    width, height = 1080, 2340
    image = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    _status_bar(draw, split, width)
    draw.rectangle((0, 90, width, 260), fill=(247, 247, 247))
    draw.text(
        (width // 2, 175), sentence(rng, 2), font=font(split, 1, 44), fill=(0, 0, 0), anchor="mm"
    )
    body, y = font(split, 1, 40), 320
    outgoing = (0, 132, 255) if split == "tuning" else (37, 211, 102)
    while y < height - 400:
        mine = rng.random() < 0.5
        text = sentence(rng, int(rng.integers(2, 7)))
        text_w = int(draw.textlength(text, font=body))
        box_w = min(text_w + 60, 760)
        left = width - box_w - 40 if mine else 40
        draw.rounded_rectangle(
            (left, y, left + box_w, y + 100), 40, fill=outgoing if mine else (233, 233, 235)
        )
        draw.text(
            (left + 30, y + 26), text[:34], font=body, fill=(255, 255, 255) if mine else (0, 0, 0)
        )
        y += 130
    draw.rounded_rectangle(
        (40, height - 190, width - 40, height - 90), 50, outline=(200, 200, 200), width=3
    )
    return image


def _settings(split: str, rng: np.random.Generator) -> Image.Image:
    width, height = 1080, 2340
    image = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    _status_bar(draw, split, width)
    draw.text((50, 140), "Settings", font=font(split, 1, 80), fill=(0, 0, 0))
    label, y = font(split, 1, 42), 320
    while y < height - 150:
        colour = tuple(int(v) for v in rng.integers(30, 230, 3))
        draw.rounded_rectangle((50, y + 20, 130, y + 100), 18, fill=colour)
        draw.text((170, y + 36), sentence(rng, 2), font=label, fill=(0, 0, 0))
        draw.text((width - 70, y + 36), ">", font=label, fill=(170, 170, 170))
        draw.line((170, y + 130, width, y + 130), fill=(220, 220, 220), width=2)
        y += 132
    return image


def _web_page(split: str, rng: np.random.Generator, photo: Image.Image) -> Image.Image:
    width, height = 1920, 1080
    image = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, width, 110), fill=(222, 225, 230))  # browser chrome
    draw.rounded_rectangle((200, 60, 1500, 100), 20, fill=(255, 255, 255))
    draw.text(
        (230, 68),
        "https://example.org/" + sentence(rng, 1).lower(),
        font=font(split, 1, 24),
        fill=(60, 60, 60),
    )
    draw.text((300, 160), sentence(rng, 6), font=font(split, 1, 48), fill=(20, 20, 20))
    body, y = font(split, 0, 24), 250
    thumb = photo.copy()
    thumb.thumbnail((520, 360))
    image.paste(thumb, (1340, 250))
    while y < height - 60:
        y = _paragraph(draw, body, 300, y, 980, (40, 40, 40), rng) + 24
    for i in range(8):  # sidebar links
        draw.text((40, 250 + i * 46), sentence(rng, 2), font=body, fill=(26, 13, 171))
    return image


# ---------------------------------------------------------------- star fields


def star_field(rng: np.random.Generator, size: tuple[int, int] = (1600, 1067)) -> Image.Image:
    """A night sky: light-polluted gradient, sometimes the Milky Way, 800-4000 stars with a
    point-spread function, sometimes a black ridge of hills or trees along the bottom."""
    width, height = size
    rows = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
    sky = (0.0006 + rows * rng.uniform(0.001, 0.006)) * np.array([0.8, 0.9, 1.2], np.float32)
    sky = np.broadcast_to(sky, (height, width, 3)).copy()
    if rng.random() < 0.5:
        sky += _milky_way(height, width, rng)[..., None] * np.array([1.0, 0.95, 0.9], np.float32)
    sky += _stars(height, width, rng)
    if rng.random() < 0.6:
        sky *= _ridge(height, width, rng)[..., None]
    srgb = linear_to_srgb(sky)
    return to_image(sensor_noise(srgb, 0.012, rng))


def _milky_way(height: int, width: int, rng: np.random.Generator) -> Pixels:
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0.3, 1.2)
    distance = (cols - width / 2) * math.sin(angle) - (rows - height / 2) * math.cos(angle)
    band = np.exp(-((distance / (height * 0.18)) ** 2))
    clouds = cv2.GaussianBlur(rng.random((height, width)).astype(np.float32), (0, 0), 12)
    clouds = (clouds - clouds.min()) / (np.ptp(clouds) + 1e-6)
    return (band * clouds * rng.uniform(0.01, 0.03)).astype(np.float32)


def _stars(height: int, width: int, rng: np.random.Generator) -> Pixels:
    count = int(rng.integers(800, 4000))
    points = np.zeros((height, width, 3), np.float32)
    ys, xs = rng.integers(0, height, count), rng.integers(0, width, count)
    flux = np.minimum(rng.pareto(1.3, count) * 0.25 + 0.02, 60.0).astype(np.float32)
    tint = rng.uniform(0.8, 1.2, (count, 3)).astype(np.float32)
    np.add.at(points, (ys, xs), flux[:, None] * tint)
    core = cv2.GaussianBlur(points, (0, 0), rng.uniform(0.7, 1.3)) * 6.0
    halo = cv2.GaussianBlur(points, (0, 0), 4.0) * 0.6
    return (core + halo).astype(np.float32)


def _ridge(height: int, width: int, rng: np.random.Generator) -> Pixels:
    steps = rng.standard_normal(width).cumsum() * rng.uniform(0.5, 2.0)
    steps = cv2.GaussianBlur(steps.astype(np.float32)[None, :], (0, 0), 6)[0]
    line = height * rng.uniform(0.72, 0.88) + steps - steps.mean()
    rows = np.arange(height, dtype=np.float32)[:, None]
    return np.where(rows < line[None, :], 1.0, 0.02).astype(np.float32)
