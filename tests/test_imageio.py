"""Strict decoding: orientation, reduced-size decode, HEIF, bombs and broken data."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from hygiene import samples
from hygiene.imageio import DecodeError, decode

BIG = 10**9


def test_every_exif_orientation_is_applied():
    upright = samples.photo(1, 300, 200)
    # How a camera stores the pixels for each orientation tag (the inverse of what a viewer does).
    stored = {
        1: upright,
        2: upright.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
        3: upright.transpose(Image.Transpose.ROTATE_180),
        4: upright.transpose(Image.Transpose.FLIP_TOP_BOTTOM),
        5: upright.transpose(Image.Transpose.TRANSPOSE),
        6: upright.transpose(Image.Transpose.ROTATE_90),
        7: upright.transpose(Image.Transpose.TRANSVERSE),
        8: upright.transpose(Image.Transpose.ROTATE_270),
    }
    reference = np.asarray(upright, np.float32)
    mirrored = np.asarray(upright.transpose(Image.Transpose.FLIP_LEFT_RIGHT), np.float32)
    for tag, pixels in stored.items():
        data = samples.jpeg_bytes(pixels, 95, samples.camera_exif("2021:05:06 07:08:09", "X", tag))
        decoded = decode(data, "JPEG", max_pixels=BIG, min_side_px=512)
        assert (decoded.width, decoded.height) == (300, 200), tag
        assert decoded.orientation == tag
        pixels_out = np.asarray(decoded.rgb, np.float32)
        difference = np.abs(pixels_out - reference).mean()  # JPEG noise only
        wrong = np.abs(pixels_out - mirrored).mean()  # what a missed flip would cost
        assert difference < 8 and wrong > 3 * difference, (tag, difference, wrong)


def test_large_jpeg_is_decoded_at_reduced_size_but_reports_full_size():
    data = samples.jpeg_bytes(samples.photo(2, 4000, 3000), 85)
    decoded = decode(data, "JPEG", max_pixels=BIG, min_side_px=512)
    assert (decoded.width, decoded.height) == (4000, 3000)
    assert not decoded.full_resolution
    assert 512 <= min(decoded.rgb.size) < 3000


def test_small_image_is_decoded_at_full_resolution():
    decoded = decode(
        samples.encoded(samples.photo(3, 400, 300), "PNG"), "PNG", max_pixels=BIG, min_side_px=512
    )
    assert decoded.full_resolution and decoded.rgb.size == (400, 300)


def test_heic_decodes_with_exif_fields():
    image = samples.photo(4, 320, 240)
    data = samples.encoded(image, "HEIF", quality=90)
    decoded = decode(data, "HEIF", max_pixels=BIG, min_side_px=512)
    assert decoded.format == "HEIF" and (decoded.width, decoded.height) == (320, 240)


def test_camera_model_and_date_are_read():
    data = samples.jpeg_bytes(
        samples.photo(5, 200, 100), 90, samples.camera_exif("2018:12:24 18:30:00", "Pixel 3")
    )
    decoded = decode(data, "JPEG", max_pixels=BIG, min_side_px=512)
    assert decoded.taken_at == "2018-12-24T18:30:00" and decoded.camera_model == "Pixel 3"


@pytest.mark.parametrize(
    "data,fmt", [(samples.png_bomb(), "PNG"), (samples.bmp_bomb_header(), "BMP")]
)
def test_decompression_bombs_are_refused_before_decoding(data, fmt):
    with pytest.raises(DecodeError, match=r"decompression bomb: .* exceeds the 200\.0 MP cap"):
        decode(data, fmt, max_pixels=200_000_000, min_side_px=512)


def test_truncated_png_data_is_an_error_not_grey_pixels():
    png = samples.encoded(samples.photo(6, 300, 200), "PNG")
    with pytest.raises(DecodeError, match="truncated"):
        decode(png[: len(png) // 2], "PNG", max_pixels=BIG, min_side_px=512)


def test_transparent_png_is_composited_on_white():
    rgba = Image.new("RGBA", (50, 50), (0, 0, 0, 0))
    decoded = decode(samples.encoded(rgba, "PNG"), "PNG", max_pixels=BIG, min_side_px=512)
    assert decoded.rgb.getpixel((10, 10)) == (255, 255, 255)
