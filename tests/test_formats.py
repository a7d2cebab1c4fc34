"""Content sniffing and the container checks that catch what decoders forgive."""

from __future__ import annotations

import pytest

from hygiene.demo import samples
from hygiene.scan.formats import (
    StructureError,
    check_structure,
    describe_non_image,
    sniff_image_format,
)


@pytest.fixture(scope="module")
def jpeg() -> bytes:
    return samples.jpeg_bytes(samples.photo(1, 320, 240), 90)


@pytest.mark.parametrize(
    "fmt,options",
    [("JPEG", {}), ("PNG", {}), ("GIF", {}), ("WEBP", {}), ("TIFF", {}), ("BMP", {}), ("HEIF", {})],
)
def test_sniffs_every_supported_format_by_content(fmt, options):
    data = samples.encoded(samples.photo(2, 64, 48), fmt, **options)
    assert sniff_image_format(data[:64]) == fmt


@pytest.mark.parametrize(
    "head,expected",
    [
        (b"%PDF-1.7", "PDF"),
        (b"\x00\x00\x00\x18ftypmp42", "MP4"),
        (b"<!DOCTYPE html><p>", "HTML"),
        (b"hello\nworld", "text"),
        (b"\x00\x01\x02\xfe", "unrecognised"),
    ],
)
def test_non_images_are_named(head, expected):
    assert sniff_image_format(head) is None
    assert expected in describe_non_image(head)


def test_whole_jpeg_passes(jpeg):
    check_structure("JPEG", jpeg)


def test_jpeg_with_trailer_after_end_marker_passes(jpeg):
    check_structure("JPEG", jpeg + b"\x00\x00\x00\x18ftypmp42 motion photo video")


def test_progressive_jpeg_passes():
    import io

    buffer = io.BytesIO()
    samples.photo(3, 320, 240).save(buffer, "JPEG", progressive=True, quality=85)
    check_structure("JPEG", buffer.getvalue())


def test_jpeg_truncated_anywhere_fails(jpeg):
    for cut in range(4, len(jpeg) - 1, max(1, len(jpeg) // 97)):
        with pytest.raises(StructureError, match=r"truncated|damaged"):
            check_structure("JPEG", jpeg[:cut])


def test_jpeg_missing_only_its_end_marker_fails(jpeg):
    with pytest.raises(StructureError, match="truncated"):
        check_structure("JPEG", jpeg[:-2])


def test_png_checksum_and_truncation():
    image = samples.photo(4, 200, 150)
    png = samples.encoded(image, "PNG")
    check_structure("PNG", png)
    with pytest.raises(StructureError, match="checksum"):
        check_structure("PNG", samples.png_with_bad_crc(image))
    with pytest.raises(StructureError, match="IEND"):
        check_structure("PNG", png[:-12])


def test_truncated_webp_fails():
    webp = samples.encoded(samples.photo(5, 200, 150), "WEBP")
    check_structure("WEBP", webp)
    with pytest.raises(StructureError, match="truncated WebP"):
        check_structure("WEBP", webp[: len(webp) // 2])
