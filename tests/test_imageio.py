"""Strict decoding: orientation, reduced-size decode, HEIF, bombs and broken data."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
from PIL import Image

from hygiene.demo import samples
from hygiene.scan.imageio import DecodeError, TooLargeToCheck, decode
from hygiene.scan.native_stderr import library_note, native_stderr_captured

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
        decoded = decode(data, "JPEG", max_pixels=BIG, reduce_to_px=512)
        assert (decoded.width, decoded.height) == (300, 200), tag
        assert decoded.orientation == tag
        pixels_out = np.asarray(decoded.rgb, np.float32)
        difference = np.abs(pixels_out - reference).mean()  # JPEG noise only
        wrong = np.abs(pixels_out - mirrored).mean()  # what a missed flip would cost
        assert difference < 8 and wrong > 3 * difference, (tag, difference, wrong)


def test_large_jpeg_is_decoded_at_reduced_size_but_reports_full_size():
    data = samples.jpeg_bytes(samples.photo(2, 4000, 3000), 85)
    decoded = decode(data, "JPEG", max_pixels=BIG, reduce_to_px=512)
    assert (decoded.width, decoded.height) == (4000, 3000)
    assert not decoded.full_resolution
    assert 512 <= max(decoded.rgb.size) < 4000


def test_jpeg_is_reduced_as_far_as_its_longest_side_allows():
    # a phone's 4000x3000 frame and its 1000x750 chat copy both decode at 500x375 (1/8 and 1/2)
    for size, expected in (((4000, 3000), (500, 375)), ((1000, 750), (500, 375))):
        data = samples.jpeg_bytes(samples.photo(2, *size), 85)
        decoded = decode(data, "JPEG", max_pixels=BIG, reduce_to_px=480)
        assert decoded.rgb.size == expected and (decoded.width, decoded.height) == size
    # 1/8 of 3264x2448 would be 408 px, under 480: 1/4 is as far as it goes
    data = samples.jpeg_bytes(samples.photo(2, 3264, 2448), 85)
    assert decode(data, "JPEG", max_pixels=BIG, reduce_to_px=480).rgb.size == (816, 612)


def test_small_image_is_decoded_at_full_resolution():
    decoded = decode(
        samples.encoded(samples.photo(3, 400, 300), "PNG"), "PNG", max_pixels=BIG, reduce_to_px=512
    )
    assert decoded.full_resolution and decoded.rgb.size == (400, 300)


def test_heic_decodes_with_exif_fields():
    image = samples.photo(4, 320, 240)
    data = samples.encoded(image, "HEIF", quality=90)
    decoded = decode(data, "HEIF", max_pixels=BIG, reduce_to_px=512)
    assert decoded.format == "HEIF" and (decoded.width, decoded.height) == (320, 240)


def test_camera_model_and_date_are_read():
    data = samples.jpeg_bytes(
        samples.photo(5, 200, 100), 90, samples.camera_exif("2018:12:24 18:30:00", "Pixel 3")
    )
    decoded = decode(data, "JPEG", max_pixels=BIG, reduce_to_px=512)
    assert decoded.taken_at == "2018-12-24T18:30:00" and decoded.camera_model == "Pixel 3"


def test_image_over_the_pixel_cap_is_not_checked_rather_than_corrupt():
    with pytest.raises(TooLargeToCheck) as caught:
        decode(samples.png_bomb(), "PNG", max_pixels=200_000_000, reduce_to_px=512)
    assert str(caught.value) == (
        "not checked: 20000x20000 = 400.0 MP exceeds the 200.0 MP pixel cap "
        "(raise scan.max_pixels to check it)"
    )


def test_a_sound_image_just_over_a_small_cap_is_not_checked():
    data = samples.encoded(samples.photo(2, 1100, 1000), "BMP")
    with pytest.raises(TooLargeToCheck, match=r"1100x1000 = 1\.1 MP exceeds the 1\.0 MP"):
        decode(data, "BMP", max_pixels=1_000_000, reduce_to_px=512)
    assert decode(data, "BMP", max_pixels=1_100_000, reduce_to_px=512).width == 1100


def test_a_bomb_header_without_the_pixels_it_announces_is_corrupt():
    with pytest.raises(DecodeError) as caught:
        decode(samples.bmp_bomb_header(), "BMP", max_pixels=200_000_000, reduce_to_px=512)
    assert not isinstance(caught.value, TooLargeToCheck)
    assert str(caught.value).startswith("truncated: the BMP header announces 60000x60000 pixels")


def damaged_lzw_tiff() -> bytes:
    """An LZW TIFF with damaged strip data: libtiff prints "Using code not yet in table"."""
    buffer = io.BytesIO()
    samples.photo(4, 240, 180).save(buffer, "TIFF", compression="tiff_lzw")
    data = bytearray(buffer.getvalue())
    with Image.open(io.BytesIO(bytes(data))) as img:
        start, length = img.tag_v2[273][0], img.tag_v2[279][0]
    for i in range(start + 16, start + length // 2, 37):
        data[i] ^= 0x55
    return bytes(data)


def test_what_libtiff_prints_goes_into_the_reason_not_onto_stderr(capfd):
    with pytest.raises(DecodeError) as caught:
        decode(damaged_lzw_tiff(), "TIFF", max_pixels=BIG, reduce_to_px=512)
    assert "decoder said: Using code not yet in table" in str(caught.value)
    assert capfd.readouterr().err == ""
    os.write(2, b"after\n")  # the real stderr is back
    assert capfd.readouterr().err == "after\n"


def test_stderr_capture_nests_and_restores(capfd):
    with native_stderr_captured() as outer:
        os.write(2, b"one\n")
        with native_stderr_captured() as inner:
            os.write(2, b"two\n")
        os.write(2, b"three\n")
    assert inner == ["two\n"] and outer == ["one\ntwo\nthree\n"]
    os.write(2, b"visible\n")
    assert capfd.readouterr().err == "visible\n"
    with native_stderr_captured() as again:  # the scratch file starts empty each time
        os.write(2, b"four\n")
    assert again == ["four\n"]


@pytest.mark.parametrize(
    "text,note",
    [
        ("", None),
        ("\n  \n", None),
        ("tempfile.tif: Using code not yet in table.\nmore\n", "Using code not yet in table"),
        (
            "\x1b[2K\rscanning 10%\nlibpng warning: iCCP: known incorrect sRGB profile\n",
            "libpng warning: iCCP: known incorrect sRGB profile",
        ),
        ("x" * 500, "x" * 200),
    ],
)
def test_library_note_is_one_clean_short_line(text, note):
    assert library_note(text) == note


def test_truncated_png_data_is_an_error_not_grey_pixels():
    png = samples.encoded(samples.photo(6, 300, 200), "PNG")
    with pytest.raises(DecodeError, match="truncated"):
        decode(png[: len(png) // 2], "PNG", max_pixels=BIG, reduce_to_px=512)


def test_transparent_png_is_composited_on_white():
    rgba = Image.new("RGBA", (50, 50), (0, 0, 0, 0))
    decoded = decode(samples.encoded(rgba, "PNG"), "PNG", max_pixels=BIG, reduce_to_px=512)
    assert decoded.rgb.getpixel((10, 10)) == (255, 255, 255)
