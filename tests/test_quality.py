"""Dark / bright / blurry flags: accuracy on real and generated photos, and the look-alikes."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hygiene import samples
from hygiene.config import QualityThresholds
from hygiene.imageio import decode
from hygiene.quality import QUALITY_SIDE_PX, grey_thumbnail, is_blurry, is_bright, is_dark, measure
from hygiene.records import QualityMetrics

LIMITS = QualityThresholds()


def real_photos() -> dict[str, Image.Image]:
    """Photographs shipped inside the scikit-image and scikit-learn wheels."""
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


def metrics_of(image: Image.Image) -> QualityMetrics:
    """Through the real path: JPEG bytes -> strict decode -> grey thumbnail -> metrics."""
    decoded = decode(
        samples.jpeg_bytes(image, 92), "JPEG", max_pixels=10**9, min_side_px=QUALITY_SIDE_PX
    )
    return measure(grey_thumbnail(decoded.rgb))


def labelled_corpus() -> list[tuple[str, frozenset[str], QualityMetrics]]:
    rng = np.random.default_rng(2024)
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


def test_thresholds_decide_flags_from_stored_metrics():
    metrics = metrics_of(samples.photo(3, 640, 480))
    assert not is_blurry(metrics, LIMITS)
    assert is_blurry(metrics, QualityThresholds(blurry_blur_min=0.0))


def test_png_round_trip_gives_the_same_metrics_as_jpeg_of_same_photo():
    image = samples.photo(4, 800, 600)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    decoded = decode(buffer.getvalue(), "PNG", max_pixels=10**9, min_side_px=QUALITY_SIDE_PX)
    from_png = measure(grey_thumbnail(decoded.rgb))
    assert abs(from_png.luma_mean - metrics_of(image).luma_mean) < 0.01
