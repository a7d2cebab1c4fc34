"""Dark / bright / blurry flags: accuracy on real and generated photos, and the look-alikes."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from hygiene.config import QualityThresholds
from hygiene.demo import samples
from hygiene.demo.samples import real_photos
from hygiene.records import QualityMetrics
from hygiene.scan.imageio import decode
from hygiene.scan.quality import (
    QUALITY_SIDE_MIN_PX,
    flag_columns,
    grey_thumbnail,
    is_blurry,
    is_bright,
    is_dark,
    measure,
)

LIMITS = QualityThresholds()


def shaken(image: Image.Image, length_fraction: float, angle_deg: float) -> Image.Image:
    """A straight camera shake: the photo smeared along a line at `angle_deg`."""
    length_px = max(3, round(max(image.size) * length_fraction))
    kernel = np.zeros((length_px, length_px), np.float32)
    kernel[length_px // 2, :] = 1.0
    centre = ((length_px - 1) / 2, (length_px - 1) / 2)
    rotation = cv2.getRotationMatrix2D(centre, angle_deg, 1.0)
    kernel = cv2.warpAffine(kernel, rotation, (length_px, length_px), flags=cv2.INTER_LINEAR)
    smeared = cv2.filter2D(np.asarray(image, np.float32), -1, kernel / kernel.sum())
    return Image.fromarray(np.clip(smeared + 0.5, 0, 255).astype(np.uint8))


def metrics_of(image: Image.Image) -> QualityMetrics:
    """Through the real path: JPEG bytes -> strict decode -> grey thumbnail -> metrics."""
    decoded = decode(
        samples.jpeg_bytes(image, 92), "JPEG", max_pixels=10**9, reduce_to_px=QUALITY_SIDE_MIN_PX
    )
    return measure(grey_thumbnail(decoded.rgb))


def labelled_corpus() -> list[tuple[str, frozenset[str], QualityMetrics]]:
    rng = np.random.default_rng(2024)
    shake_rng = np.random.default_rng(7)  # its own draws, so the other variants stay as they were
    originals = dict(real_photos())
    originals.update({f"generated_{i}": samples.photo(100 + i, 960, 720) for i in range(12)})
    corpus: list[tuple[str, frozenset[str], QualityMetrics]] = []
    for name, image in originals.items():
        corpus.append((name, frozenset(), metrics_of(image)))
        corpus.append(
            (
                f"{name}/dark",
                frozenset({"dark"}),
                metrics_of(samples.darken(image, rng.uniform(0.1, 0.35))),
            )
        )
        corpus.append(
            (
                f"{name}/bright",
                frozenset({"bright"}),
                metrics_of(samples.overexpose(image, rng.uniform(2.2, 3.0))),
            )
        )
        corpus.append(
            (
                f"{name}/blurry",
                frozenset({"blurry"}),
                metrics_of(samples.defocus(image, rng.uniform(0.006, 0.015))),
            )
        )
        corpus.append(
            (
                f"{name}/shaken",
                frozenset({"blurry"}),
                metrics_of(
                    shaken(image, shake_rng.uniform(0.015, 0.04), shake_rng.uniform(0, 180))
                ),
            )
        )
    for seed in range(4):
        for kind, make in [
            ("night_sky", samples.night_sky),
            ("black_cat", samples.dark_subject),
            ("screenshot", samples.screenshot),
            ("document", samples.document),
        ]:
            corpus.append((f"{kind}_{seed}", frozenset(), metrics_of(make(500 + seed))))
    return corpus


@pytest.fixture(scope="module")
def corpus() -> list[tuple[str, frozenset[str], QualityMetrics]]:
    return labelled_corpus()


def f1(corpus, flag: str, predict) -> tuple[float, list[str]]:
    tp = fp = fn = 0
    mistakes = []
    for name, truth, metrics in corpus:
        predicted, actual = predict(metrics, LIMITS), flag in truth
        tp += predicted and actual
        fp += predicted and not actual
        fn += actual and not predicted
        if predicted != actual:
            mistakes.append(name)
    return (2 * tp / (2 * tp + fp + fn) if tp else 0.0), mistakes


@pytest.mark.parametrize(
    "flag,predict", [("dark", is_dark), ("bright", is_bright), ("blurry", is_blurry)]
)
def test_flag_f1_is_at_least_085(corpus, flag, predict):
    score, mistakes = f1(corpus, flag, predict)
    assert score >= 0.85, (score, mistakes)


@pytest.mark.parametrize("kind", ["night_sky", "black_cat", "screenshot", "document"])
def test_look_alikes_are_not_flagged(corpus, kind):
    for name, _, metrics in corpus:
        if name.startswith(kind):
            flags = [
                is_dark(metrics, LIMITS),
                is_bright(metrics, LIMITS),
                is_blurry(metrics, LIMITS),
            ]
            assert flags == [False, False, False], name


def test_generated_dark_images_really_are_dark():
    image = samples.darken(samples.photo(1, 640, 480), 0.2)
    assert np.asarray(image).max() <= 0.2 * 255 + 1


def test_blur_score_does_not_depend_on_resolution():
    base = samples.photo(7, 4000, 3000)
    big = metrics_of(base).blur
    small = metrics_of(base.resize((1000, 750), Image.Resampling.LANCZOS)).blur
    assert abs(big - small) < 0.1
    blurred = samples.defocus(base, 0.01)
    assert metrics_of(blurred).blur > 0.5 > big


def test_a_streak_at_any_angle_is_blurry_and_a_page_is_not():
    photo = samples.photo(11, 960, 720)
    sharp = metrics_of(photo)
    assert not is_blurry(sharp, LIMITS)
    for angle in (0, 30, 67, 90, 135):
        streaked = metrics_of(shaken(photo, 0.03, angle))
        assert is_blurry(streaked, LIMITS), angle
        # soft along the streak only: the sharpest orientation keeps much of its detail
        assert streaked.sharpness_min_dir < 0.5 * streaked.sharpness_max_dir, angle
    page = metrics_of(samples.document(7))
    assert not is_blurry(page, LIMITS) and not is_bright(page, LIMITS)


def framed(image: Image.Image, colour: tuple[int, int, int]) -> Image.Image:
    """The image inside a uniform frame 1/12 of its width wide."""
    pad = image.width // 12
    out = Image.new("RGB", (image.width + 2 * pad, image.height + 2 * pad), colour)
    out.paste(image, (pad, pad))
    return out


def test_a_white_frame_is_not_over_exposure_and_does_not_hide_it():
    photo = samples.photo(12, 960, 720)
    plain_framed = metrics_of(framed(photo, (255, 255, 255)))
    assert plain_framed.highlight_fraction >= 0.2  # a fifth of the frame is white...
    assert plain_framed.clipped_content_fraction < 0.01  # ...but none of the photo
    assert not is_bright(plain_framed, LIMITS)
    blown = samples.overexpose(photo, 2.6)
    assert is_bright(metrics_of(blown), LIMITS)
    assert is_bright(metrics_of(framed(blown, (255, 255, 255))), LIMITS)


def test_text_on_white_is_fragments_and_an_over_exposed_scene_is_not():
    page = Image.new("L", (960, 720), 255)
    ink = np.asarray(page).copy()
    rng = np.random.default_rng(3)
    for top in range(40, 680, 24):  # lines of "glyphs": small dark marks on white
        for left in range(40, 900, 11):
            if rng.random() < 0.8:
                ink[top : top + 12, left : left + int(rng.integers(3, 8))] = 20
    page_metrics = metrics_of(Image.fromarray(ink).convert("RGB"))
    assert page_metrics.clipped_fragment_fraction > LIMITS.bright_clipped_fragment_fraction_max
    assert not is_bright(page_metrics, LIMITS)
    blown = metrics_of(samples.overexpose(samples.photo(13, 960, 720), 2.6))
    assert blown.clipped_fragment_fraction < LIMITS.bright_clipped_fragment_fraction_max


def test_thresholds_decide_flags_from_stored_metrics():
    metrics = metrics_of(samples.photo(3, 640, 480))
    assert not is_blurry(metrics, LIMITS)
    assert is_blurry(metrics, QualityThresholds(blurry_blur_min=0.0))


def test_png_round_trip_gives_the_same_metrics_as_jpeg_of_same_photo():
    image = samples.photo(4, 800, 600)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    decoded = decode(buffer.getvalue(), "PNG", max_pixels=10**9, reduce_to_px=QUALITY_SIDE_MIN_PX)
    from_png = measure(grey_thumbnail(decoded.rgb))
    assert abs(from_png.luma_mean - metrics_of(image).luma_mean) < 0.01


def test_a_schema_4_catalog_gains_the_new_quality_columns(tmp_path):
    import sqlite3

    from hygiene import catalog
    from hygiene.records import QUALITY_FIELDS

    path = tmp_path / "old.sqlite"
    old = sqlite3.connect(path)
    for version in range(1, 5):  # what a catalog written before the new measures holds
        old.executescript(catalog._MIGRATIONS[version])
    old.execute("PRAGMA user_version = 4")
    old.commit()
    columns = {row[1] for row in old.execute("PRAGMA table_info(contents)")}
    old.close()
    assert "blur" in columns and "sharpness_min_dir" not in columns
    conn = catalog.open_catalog(path)
    try:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(contents)")}
        assert set(QUALITY_FIELDS) <= columns
        assert conn.execute("PRAGMA user_version").fetchone()[0] == catalog.SCHEMA_VERSION
    finally:
        conn.close()


def test_flag_columns_give_each_image_its_own_verdicts():
    """The run's flags are computed for all images at once from RunTable columns; each row must
    get exactly the verdicts of its own measures, and a file without facts (NaN measures) none.
    Measures are drawn at random over 0..1, so every flag fires on some rows and not others."""
    rng = np.random.default_rng(7)
    names = list(QualityMetrics.__dataclass_fields__)
    metrics = [QualityMetrics(*rng.uniform(0, 1, len(names)).tolist()) for _ in range(3000)]
    columns = {name: np.array([getattr(m, name) for m in metrics] + [np.nan]) for name in names}
    flags = flag_columns(columns, LIMITS)
    checks = {"dark": is_dark, "bright": is_bright, "blurry": is_blurry}
    for index, one in enumerate(metrics):
        for name, check in checks.items():
            assert bool(flags[name][index]) == bool(check(one, LIMITS)), (name, one)
    assert not any(column[-1] for column in flags.values())
    assert all(column[:-1].any() and not column[:-1].all() for column in flags.values())


@pytest.mark.parametrize("count", [1, 2, 5, 58, 301])
@pytest.mark.parametrize("percent", [0, 50, 90, 98, 100])
def test_linear_percentile_is_numpys_default_percentile(count, percent):
    from hygiene.scan.quality import linear_percentile

    values = np.random.default_rng(count).random((16, count))
    np.testing.assert_allclose(
        linear_percentile(values, percent), np.percentile(values, percent, axis=1), atol=1e-12
    )
    np.testing.assert_allclose(
        linear_percentile(values[0], percent), np.percentile(values[0], percent), atol=1e-12
    )


def test_reduced_shrinks_by_whole_blocks():
    from hygiene.scan.imageio import reduced

    image = Image.new("RGB", (400, 300))
    assert reduced(image, 64).size == (67, 50)  # blocks of 6: 400 / 6 rounded up
    assert reduced(image, 1000).size == (400, 300)


def test_the_grey_thumbnail_is_the_perceived_luminance_formula_for_every_colour():
    # every 8-bit colour once, in 64 frames of 512x512 (a size grey_thumbnail keeps as it is)
    levels = np.arange(256, dtype=np.uint8)
    red, green, blue = np.meshgrid(levels, levels, levels, indexing="ij")
    colours = np.stack([red, green, blue], axis=-1).reshape(-1, 512, 512, 3)
    for tile in colours:
        channels = tile.astype(np.float32) / 255.0
        expected = np.sqrt(
            0.241 * channels[..., 0] ** 2
            + 0.691 * channels[..., 1] ** 2
            + 0.068 * channels[..., 2] ** 2
        )
        grey = grey_thumbnail(Image.fromarray(tile))
        assert grey.dtype == np.float32
        assert np.array_equal(grey, expected)
