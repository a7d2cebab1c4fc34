"""Recognise files by their bytes and check container structure that decoders forgive.

Pure functions over bytes: no file access, no Pillow.
"""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass

IMAGE_EXTENSIONS = frozenset(
    {
        ".jpg",
        ".jpeg",
        ".jpe",
        ".jfif",
        ".png",
        ".gif",
        ".webp",
        ".tif",
        ".tiff",
        ".bmp",
        ".dib",
        ".heic",
        ".heif",
        ".hif",
        ".avif",
        ".mpo",
    }
)
RAW_EXTENSIONS = frozenset(
    {".dng", ".cr2", ".cr3", ".nef", ".nrw", ".arw", ".orf", ".rw2", ".pef", ".raf", ".srw"}
)
HEIF_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"})
AVIF_BRANDS = frozenset({b"avif", b"avis"})
SNIFF_BYTES = 64


class StructureError(ValueError):
    """The container is damaged in a way the decoder might not notice."""


def sniff_image_format(head: bytes) -> str | None:
    """Name of the image format the leading bytes announce, or None when they announce none."""
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF"
    if head[:2] == b"BM" and len(head) >= 14:
        return "BMP"
    if head[4:8] == b"ftyp":
        brands = _ftyp_brands(head)
        if brands & HEIF_BRANDS:
            return "HEIF"
        if brands & AVIF_BRANDS:
            return "AVIF"
    return None


def describe_non_image(head: bytes) -> str:
    """A short human name for content that is not an image, for skip and error reasons."""
    stripped = head.lstrip().lower()
    checks: list[tuple[bool, str]] = [
        (head.startswith(b"%PDF"), "a PDF document"),
        (head[4:8] == b"ftyp" and head[8:10] == b"qt", "a QuickTime video"),
        (head[4:8] == b"ftyp", "an MP4/3GP video"),
        (head[:4] == b"RIFF" and head[8:11] == b"AVI", "an AVI video"),
        (head[:4] == b"RIFF" and head[8:12] == b"WAVE", "WAV audio"),
        (head.startswith(b"\x1a\x45\xdf\xa3"), "a Matroska/WebM video"),
        (head.startswith(b"ID3") or head[:2] in (b"\xff\xfb", b"\xff\xf3"), "MP3 audio"),
        (head.startswith(b"PK\x03\x04"), "a ZIP archive"),
        (head.startswith(b"\x1f\x8b"), "a gzip archive"),
        (stripped.startswith((b"<!doctype html", b"<html")), "an HTML page"),
        (stripped.startswith(b"<svg") or b"<svg" in stripped[:64], "an SVG drawing"),
        (stripped.startswith(b"<?xml"), "an XML document"),
    ]
    for matched, name in checks:
        if matched:
            return name
    if _looks_like_text(head):
        return "text"
    return "unrecognised data"


def check_structure(fmt: str, data: bytes) -> None:
    """Raise StructureError when a container the decoder accepted is truncated or damaged."""
    if fmt == "JPEG":
        _check_jpeg(data)
    elif fmt == "PNG":
        _check_png(data)
    elif fmt == "WEBP":
        _check_riff_length(data)
    elif fmt == "GIF" and not data.rstrip(b"\x00").endswith(b"\x3b"):
        raise StructureError("truncated GIF: no trailer byte at the end")


def _check_riff_length(data: bytes) -> None:
    declared = struct.unpack("<I", data[4:8])[0] + 8
    if len(data) < declared:
        raise StructureError(
            f"truncated WebP: {len(data)} of the {declared} bytes its header announces"
        )


def _ftyp_brands(head: bytes) -> set[bytes]:
    box_size = struct.unpack(">I", head[:4])[0]
    end = min(box_size, len(head))
    brands = {head[8:12]}
    brands.update(head[i : i + 4] for i in range(16, end - 3, 4))
    return brands


def _looks_like_text(head: bytes) -> bool:
    if not head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(b >= 0x20 or b in b"\t\r\n" for b in head)


# A real marker in entropy-coded data: 0xFF followed by anything except a stuffed zero,
# a restart marker (D0-D7) or fill bytes (FF).
_NEXT_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
_STANDALONE_MARKERS = frozenset({0x01, *range(0xD0, 0xD8)})


def _check_jpeg(data: bytes) -> None:
    """Walk the marker segments to the end-of-image marker; libjpeg silently pads a missing one."""
    pos = 2
    size = len(data)
    while True:
        while pos < size and data[pos] == 0xFF and pos + 1 < size and data[pos + 1] == 0xFF:
            pos += 1  # fill bytes before a marker
        if pos + 2 > size:
            raise StructureError("truncated JPEG: ends before its end-of-image marker")
        if data[pos] != 0xFF:
            raise StructureError(f"damaged JPEG: expected a marker at byte {pos}")
        marker = data[pos + 1]
        if marker == 0xD9:
            return
        if marker in _STANDALONE_MARKERS:
            pos += 2
            continue
        if pos + 4 > size:
            raise StructureError("truncated JPEG: ends inside a segment header")
        seg_len = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        pos += 2 + seg_len
        if pos > size:
            raise StructureError("truncated JPEG: ends inside a segment")
        if marker == 0xDA:  # start of scan: entropy-coded data runs to the next real marker
            match = _NEXT_MARKER.search(data, pos)
            if match is None:
                raise StructureError("truncated JPEG: ends inside the image data")
            pos = match.start()


def _check_png(data: bytes) -> None:
    pos = 8
    size = len(data)
    while pos + 12 <= size:
        length, chunk_type = struct.unpack(">I4s", data[pos : pos + 8])
        end = pos + 12 + length
        if end > size:
            raise StructureError(f"truncated PNG: chunk {_chunk_name(chunk_type)} is cut off")
        stored_crc = struct.unpack(">I", data[end - 4 : end])[0]
        if zlib.crc32(data[pos + 4 : end - 4]) != stored_crc:
            raise StructureError(f"bad PNG checksum in chunk {_chunk_name(chunk_type)}")
        if chunk_type == b"IEND":
            return
        pos = end
    raise StructureError("truncated PNG: no IEND chunk")


def _chunk_name(chunk_type: bytes) -> str:
    return chunk_type.decode("latin-1") if chunk_type.isalpha() else repr(chunk_type)


# ---------------------------------------------------------------- damaged but complete


@dataclass(frozen=True, slots=True)
class ContainerRepair:
    """The same bytes with a sound end, for a file whose image data is whole but whose
    container end is missing or broken. The pixel data is never touched: only the trailer
    (and anything damaged after the image data) is cut or added."""

    problem: str
    fixed: bytes


_JPEG_EOI = b"\xff\xd9"
_PNG_IEND = struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))
_BASELINE_SOF = frozenset({0xC0, 0xC1})
_OTHER_SOF = frozenset({0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})


def repaired_container(fmt: str, data: bytes) -> ContainerRepair | None:
    """A repair when only the end of the container is damaged, else None (the file is then
    corrupt, or sound: call check_structure first). Candidates still have to decode completely
    (imageio checks that) before anyone calls them whole."""
    try:
        check_structure(fmt, data)
        return None
    except StructureError as exc:
        problem = str(exc)
    if fmt == "JPEG":
        cut = _jpeg_image_data_end(data)
        if cut is None:
            return None
        what = "the end-of-image marker is missing or damaged"
        return ContainerRepair(what, data[:cut] + _JPEG_EOI)
    if fmt == "PNG":
        cut = _png_image_data_end(data)
        if cut is None:
            return None
        return ContainerRepair(f"the end is damaged ({problem})", data[:cut] + _PNG_IEND)
    return None


def _jpeg_image_data_end(data: bytes) -> int | None:
    """Where the entropy-coded data of a single-scan baseline JPEG ends, when the damage lies
    after it. Progressive and multi-scan files are never called complete: a later scan that is
    missing would only make the picture coarser, with no decoder complaint to tell."""
    pos, size, scans, components = 2, len(data), 0, None
    while True:
        while pos + 1 < size and data[pos] == 0xFF and data[pos + 1] == 0xFF:
            pos += 1
        if pos + 2 > size or data[pos] != 0xFF:
            break
        marker = data[pos + 1]
        if marker == 0xD9 or marker in _OTHER_SOF:
            return None
        if marker in _STANDALONE_MARKERS:
            pos += 2
            continue
        if pos + 4 > size:
            break
        end = pos + 2 + struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        if end > size:
            break
        if marker in _BASELINE_SOF and pos + 9 < size:
            components = data[pos + 9]
        if marker == 0xDA:
            scans += 1
            if scans > 1 or components is None or data[pos + 4] != components:
                return None
            match = _NEXT_MARKER.search(data, end)
            pos = match.start() if match else size
            continue
        pos = end
    if scans != 1:
        return None
    while pos > 0 and data[pos - 1] == 0xFF:
        pos -= 1  # half a marker at the very end
    return pos


def _png_image_data_end(data: bytes) -> int | None:
    """The end of the last sound chunk, when the damage (missing IEND, a broken or cut chunk,
    junk) comes after the image data; None when an IDAT chunk itself is damaged."""
    pos, size, seen_idat = 8, len(data), False
    while pos + 12 <= size:
        length, chunk_type = struct.unpack(">I4s", data[pos : pos + 8])
        end = pos + 12 + length
        if (
            end > size
            or zlib.crc32(data[pos + 4 : end - 4]) != struct.unpack(">I", data[end - 4 : end])[0]
        ):
            break
        seen_idat = seen_idat or chunk_type == b"IDAT"
        pos = end
    if not seen_idat:
        return None
    if pos + 8 <= size and data[pos + 4 : pos + 8] == b"IDAT":
        return None  # the pixel data itself is cut or broken
    return pos
