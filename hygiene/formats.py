"""Recognise files by their bytes and check container structure that decoders forgive.

Pure functions over bytes: no file access, no Pillow.
"""

from __future__ import annotations

import re
import struct
import zlib

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
