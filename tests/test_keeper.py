"""Keepers chosen by comparing the copies of a photo with each other, not by absolute flags."""

from __future__ import annotations

import csv
import functools
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter

from hygiene.demo import samples
from hygiene.demo.samples import real_photos
from hygiene.duplicates.grouping import Edge, Node, _turned_nodes, groups_around_keepers
from hygiene.duplicates.keeper import (
    MEASURED_SIDE_PX,
    Candidate,
    compare_copies,
    describe_keeper,
    strictly_better,
)
from hygiene.duplicates.stage import DuplicateReport
from hygiene.records import KEEPER_RULES, ImageFacts, ImageRow, QualityMetrics
from hygiene.scan.quality import QUALITY_SIDE_PX
from tests.conftest import run_hygiene

LEGACY_RULES = [rule for rule in KEEPER_RULES if rule != "best_quality"]


# ---------------------------------------------------------------- the comparison, on measurements


def metrics(
    blur: float = 0.05,
    p50: float = 0.45,
    p99: float = 0.93,
    p999: float = 0.98,
    *,
    p01: float = 0.03,
    highlights: float = 0.005,
) -> QualityMetrics:
    return QualityMetrics(
        luma_mean=p50,
        luma_p01=p01,
        luma_p05=p01 * 2,
        luma_p50=p50,
        luma_p95=(p50 + p99) / 2,
        luma_p99=p99,
        luma_p999=p999,
        highlight_fraction=highlights,
        flat_midtone_fraction=0.0,
        blur=blur,
    )


def gained(quality: QualityMetrics, gain: float) -> QualityMetrics:
    """The measurements of a copy whose pixels were multiplied by `gain` (clipped at white)."""
    scaled = {
        name: min(getattr(quality, name) * gain, 1.0)
        for name in ("luma_mean", "luma_p01", "luma_p05", "luma_p50", "luma_p95", "luma_p99")
    }
    return replace(quality, **scaled, luma_p999=min(quality.luma_p999 * gain, 1.0))


def copy(
    seq: int = 1,
    quality: QualityMetrics | None = None,
    *,
    width: int = 1024,
    height: int = 768,
    size_bytes: int = 300_000,
    colourfulness: float = 0.1,
    turned: bool = False,
    fmt: str = "JPEG",
) -> Candidate:
    return Candidate(
        seq=seq,
        rel_path=f"copy{seq}.jpg",
        size_bytes=size_bytes,
        width=width,
        height=height,
        format=fmt,
        content_fraction=1.0,
        colourfulness=colourfulness,
        taken_at=None,
        degraded=(),
        protected=False,
        quality=quality if quality is not None else metrics(),
        turned=turned,
    )


def sharpness_blur(sharpness: float) -> float:
    """The stored `blur` of a frame with this sharpness (quality.py: blur = exp(-2 sharpness))."""
    return float(np.exp(-2 * sharpness))


def test_the_measuring_size_is_the_one_quality_uses():
    assert MEASURED_SIDE_PX == QUALITY_SIDE_PX


def test_a_clearly_blurrier_copy_of_the_same_size_loses_but_jpeg_noise_does_not():
    original = copy(1, metrics(blur=sharpness_blur(1.5)))
    blurred = copy(2, metrics(blur=sharpness_blur(1.5 / 1.4)))
    noisy = copy(3, metrics(blur=sharpness_blur(1.5 / 1.1)))
    assert compare_copies(original, blurred).better == ("sharper",)
    assert compare_copies(blurred, original).worse == ("blurrier",)
    assert compare_copies(original, noisy) == compare_copies(noisy, original)  # neither wins


def test_a_larger_copy_loses_on_sharpness_only_when_visibly_blurrier():
    original = copy(1, metrics(blur=sharpness_blur(1.5)))
    upscale = replace(original, seq=2, width=1536, height=1152, size_bytes=675_000)
    soft_upscale = replace(upscale, quality=metrics(blur=sharpness_blur(1.5 / 1.2)))
    blurred_upscale = replace(upscale, quality=metrics(blur=sharpness_blur(1.5 / 1.6)))
    assert compare_copies(original, soft_upscale).better == ()  # resampling alone does this
    assert compare_copies(original, blurred_upscale).better == ("sharper",)
    assert strictly_better(upscale, original)  # as sharp and larger
    assert not strictly_better(blurred_upscale, original)  # larger but blurrier: a trade


def test_a_copy_measured_unresampled_is_never_called_sharper_than_a_larger_one():
    """A copy no larger than the measuring size reads sharper for being small, not for detail."""
    original = copy(1, metrics(blur=sharpness_blur(1.0)), width=1600, height=1200)
    small = copy(2, metrics(blur=sharpness_blur(1.8)), width=512, height=384)
    assert compare_copies(small, original).better == ()
    assert compare_copies(small, original, with_size=True).worse == ("fewer pixels",)


def test_sharpness_is_not_compared_across_a_tone_change():
    """A tone curve or a caption moves the contrast-normalised sharpness by itself."""
    original = copy(1, metrics(blur=sharpness_blur(1.0)))
    recoloured = copy(2, metrics(blur=sharpness_blur(1.4), p50=0.30, p01=0.005))
    assert compare_copies(recoloured, original).better == ()


def test_a_darkened_copy_loses_a_slightly_darker_one_ties():
    original = copy(1, metrics())
    darkened = copy(2, gained(metrics(), 0.6))
    slightly = copy(3, gained(metrics(), 0.85))
    assert compare_copies(darkened, original).worse == ("darker",)
    assert compare_copies(original, darkened).better == ("better exposed",)
    assert compare_copies(slightly, original) == compare_copies(original, slightly)


def test_an_over_exposed_copy_loses_even_to_a_dim_original():
    dim = copy(1, metrics(p50=0.35, p99=0.70, p999=0.74, highlights=0.0))
    blown = copy(2, replace(gained(dim.quality, 1.5), highlight_fraction=0.04))  # type: ignore[arg-type]
    assert compare_copies(blown, dim).worse == ("over-exposed",)
    brighter_unclipped = copy(3, gained(dim.quality, 1.2))  # type: ignore[arg-type]
    assert compare_copies(brighter_unclipped, dim) == compare_copies(dim, brighter_unclipped)


def test_darkening_a_frame_with_clipped_sky_does_not_make_the_original_over_exposed():
    original = copy(1, metrics(p50=0.55, p99=1.0, p999=1.0, highlights=0.06))
    darkened = copy(2, gained(original.quality, 0.6))  # type: ignore[arg-type]
    assert darkened.quality is not None and darkened.quality.luma_p999 == pytest.approx(0.6)
    assert compare_copies(original, darkened).better == ("better exposed",)
    assert compare_copies(darkened, original).worse == ("darker",)


def test_greyscale_and_turned_copies_lose_to_the_upright_colour_one():
    original = copy(1)
    grey = copy(2, colourfulness=0.001)
    turned = copy(3, turned=True, width=768, height=1024)
    assert compare_copies(grey, original).worse == ("greyscale",)
    assert compare_copies(turned, original).worse == ("rotated or mirrored",)
    assert compare_copies(original, turned).better == ("in the usual orientation",)


def test_size_and_compression_count_only_when_asked():
    original = copy(1, size_bytes=400_000)
    recompressed = copy(2, size_bytes=100_000)
    assert compare_copies(original, recompressed).better == ()
    assert compare_copies(original, recompressed, with_size=True).better == ("less compressed",)
    png = copy(3, fmt="PNG", size_bytes=2_000_000)
    assert compare_copies(png, original, with_size=True).better == ("lossless",)


def test_the_keeper_rationale_says_why_in_words():
    text = describe_keeper(copy(1), ("sharper", "better exposed"))
    assert text == "1024x768 JPEG, best copy: sharper, better exposed"


# ---------------------------------------------------------------- the guarantee, on a graph


def _node(seq: int, quality: QualityMetrics, width: int = 1024) -> Node:
    facts = ImageFacts(
        format="JPEG",
        width=width,
        height=width * 3 // 4,
        orientation=1,
        taken_at=None,
        camera_model=None,
        pixel_sha256=None,
        near_hashes=np.zeros(14, np.uint64).tobytes(),
        window_colours=b"",
        colourfulness=0.1,
        content_fraction=1.0,
        content_left=0.0,
        content_top=0.0,
        content_right=1.0,
        content_bottom=1.0,
        quality=quality,
        thumbnail_webp=b"",
    )
    row = ImageRow(seq, f"n{seq}.jpg", 300_000, f"{seq:064x}", facts)
    best = replace(copy(seq, quality, width=width, height=width * 3 // 4), rel_path=row.rel_path)
    return Node([row], np.zeros(14, np.uint64), best)


def test_a_member_better_than_the_keeper_is_never_removed():
    """The sharp original is not confirmed against one copy, so the seed stays the keeper; the
    original is kept as well, and only the copies worse than the keeper can be removed."""
    seed = _node(1, metrics(blur=sharpness_blur(1.0)))  # matches both others
    sharp = _node(2, metrics(blur=sharpness_blur(1.6)))
    blurred = _node(3, metrics(blur=sharpness_blur(0.6)))
    edges = {0: {1: Edge("near", 4, 0.01), 2: Edge("near", 6, 0.02)}, 1: {0: Edge("near", 4, 0.01)}}
    edges[2] = {0: Edge("near", 6, 0.02)}

    def confirm(a: int, b: int) -> bool:
        return {a, b} != {1, 2}  # the sharp copy and the blurred copy do not match directly

    [group] = groups_around_keepers([seed, sharp, blurred], edges, KEEPER_RULES, confirm)
    members = {m.seq: m for m in group.members}
    assert group.keeper_seq == 1
    assert members[2].keeper and "sharper" in members[2].reason
    assert [m.seq for m in DuplicateReport([group], []).removable] == [3]
    assert members[3].reason == "blurrier"


def test_a_confirmed_member_better_than_the_keeper_becomes_the_keeper():
    seed = _node(1, metrics(blur=sharpness_blur(1.0)))
    sharp = _node(2, metrics(blur=sharpness_blur(1.6)))
    edges = {0: {1: Edge("near", 4, 0.01)}, 1: {0: Edge("near", 4, 0.01)}}
    [group] = groups_around_keepers([seed, sharp], edges, KEEPER_RULES, lambda a, b: True)
    assert group.keeper_seq == 2
    assert group.rationale == "kept: 1024x768 JPEG, best copy: sharper; others: 1 near (blurrier)"


def _hashes(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 2**63, 14, dtype=np.int64).astype(np.uint64)


def _with_hashes(node: Node, hashes: np.ndarray, camera: str | None = None) -> Node:
    row = replace(node.rows[0], facts=replace(node.facts, camera_model=camera))
    return Node([row], hashes, node.best)


def test_the_usual_orientation_is_the_majority_then_the_camera_original():
    frame = _hashes(5)
    turned = _hashes(6)
    turned[0] = frame[1]  # this copy looks like the frame turned by DIHEDRAL[1] (90 degrees)
    turned[3] = frame[0]  # and turning it back (DIHEDRAL[3], 270 degrees) gives the frame
    nodes = [_with_hashes(_node(seq, metrics()), frame) for seq in (1, 2)]
    nodes.append(_with_hashes(_node(3, metrics()), turned))
    assert _turned_nodes(nodes, [0, 1, 2]) == {2}
    assert _turned_nodes(nodes, [2, 0, 1]) == {2}  # whichever member seeds the group
    pair = [_with_hashes(_node(1, metrics()), frame), nodes[2]]
    assert _turned_nodes(pair, [0, 1]) == set()  # one against one: no one is turned
    pair[0] = _with_hashes(pair[0], frame, camera="Camera")
    assert _turned_nodes(pair, [1, 0]) == {1}


# ---------------------------------------------------------------- scanned archives


def _blur(image: Image.Image, sigma_px: float) -> Image.Image:
    return image.filter(ImageFilter.GaussianBlur(sigma_px))


def _blurred_upscale(image: Image.Image, sigma_px: float) -> Image.Image:
    """1.5x larger, and blurred by `sigma_px` at that size."""
    bigger = image.resize((image.width * 3 // 2, image.height * 3 // 2), Image.Resampling.BICUBIC)
    return _blur(bigger, sigma_px)


@functools.cache
def _real(name: str) -> Image.Image:
    return real_photos()[name]


CASES = ("blur", "blur_real", "dark", "dark_real", "bright_real", "grey", "upscale", "upscale_real")


@functools.cache
def _cases() -> dict[str, tuple[Image.Image, Image.Image]]:
    """case -> (original, mildly degraded copy); each case is a different picture."""
    generated = {seed: samples.photo(seed, 1024, 768) for seed in (31, 32, 33, 34)}
    coffee, chelsea, motorcycle, china = (
        _real(n) for n in ("coffee.png", "chelsea.png", "motorcycle_left.png", "china.jpg")
    )
    return {
        "blur": (generated[31], _blur(generated[31], 1.0)),
        "blur_real": (coffee, _blur(coffee, 1.0)),
        "dark": (generated[32], samples.darken(generated[32], 0.6)),
        "dark_real": (chelsea, samples.darken(chelsea, 0.6)),
        "bright_real": (motorcycle, samples.darken(motorcycle, 1.3)),
        "grey": (generated[33], generated[33].convert("L").convert("RGB")),
        "upscale": (generated[34], _blurred_upscale(generated[34], 2.0)),
        "upscale_real": (china, _blurred_upscale(china, 1.2)),
    }


def _write(root: Path, rel_path: str, data: bytes) -> None:
    (root / rel_path).parent.mkdir(parents=True, exist_ok=True)
    (root / rel_path).write_bytes(data)


def _archive(root: Path) -> dict[str, tuple[str, list[str]]]:
    """case -> (original's path, the degraded copies' paths).

    Everything the old rules fall back on favours the degraded copy: it is saved at a higher
    JPEG quality (fewer bytes per pixel for the original) under a shorter path, and no file
    has an EXIF date.
    """
    layout: dict[str, tuple[str, list[str]]] = {}
    assert tuple(_cases()) == CASES
    for case, (original, degraded) in _cases().items():
        original_path = f"Camera Roll/2019/{case}/IMG_{case}_original.jpg"
        _write(root, original_path, samples.jpeg_bytes(original, 80))
        _write(root, f"{case}.jpg", samples.jpeg_bytes(degraded, 95))
        layout[case] = (original_path, [f"{case}.jpg"])
    rocket = _real("rocket.jpg")  # the photo, a smaller export, and a full-size rotated copy
    original_path = "Camera Roll/2019/rotated/IMG_rotated_original.jpg"
    _write(root, original_path, samples.jpeg_bytes(rocket, 80))
    half = rocket.resize((rocket.width // 2, rocket.height // 2), Image.Resampling.LANCZOS)
    _write(root, "Web/rocket_small.jpg", samples.jpeg_bytes(half, 90))
    _write(root, "r.jpg", samples.jpeg_bytes(rocket.transpose(Image.Transpose.ROTATE_90), 95))
    layout["rotated"] = (original_path, ["r.jpg", "Web/rocket_small.jpg"])
    return layout


@pytest.fixture(scope="module")
def degraded_archive(tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("keepers")
    root = base / "archive"
    layout = _archive(root)
    legacy_config = base / "legacy.toml"
    legacy_config.write_text(f"[duplicates]\nkeeper_rules = {LEGACY_RULES!r}\n".replace("'", '"'))
    runs = {}
    for name, extra in (("default", ()), ("legacy", ("--config", legacy_config))):
        out = base / name
        result = run_hygiene(
            "scan", root, "--out", out, "--catalog", base / "catalog.sqlite", "--quiet",
            "--no-clip", *extra,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        runs[name] = (_rows(out / "images.csv"), _rows(out / "duplicates.csv"))
    return layout, runs


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("case", [*CASES, "rotated"])
def test_the_original_is_kept_and_the_degraded_copy_removed(degraded_archive, case):
    layout, runs = degraded_archive
    images = {row["path"]: row for row in runs["default"][0]}
    original, copies = layout[case]
    group = images[original]["dup_group"]
    assert group, f"{case}: the copies were not grouped"
    assert all(images[path]["dup_group"] == group for path in copies)
    assert images[original]["keeper"] == "true"
    assert images[original]["action"] == "keep"
    for path in copies:
        assert images[path]["keeper"] == "false", path
        assert images[path]["action"] == "delete", path


@pytest.mark.parametrize("case", CASES)
def test_no_quality_flag_fired_on_the_degraded_copy(degraded_archive, case):
    """The flags are absolute: these copies are too mildly degraded to raise them."""
    layout, runs = degraded_archive
    images = {row["path"]: row for row in runs["default"][0]}
    original, [degraded] = layout[case]
    for path in (original, degraded):
        flags = [flag for flag in ("dark", "bright", "blurry") if images[path][flag] == "true"]
        assert flags == [], path


def test_the_reasons_say_what_is_wrong_with_each_copy(degraded_archive):
    layout, runs = degraded_archive
    reasons = {row["path"]: row["reason"] for row in runs["default"][1]}
    expected = {
        "blur": "blurrier",
        "blur_real": "blurrier",
        "dark": "darker",
        "dark_real": "darker",
        "bright_real": "over-exposed",
        "grey": "greyscale",
        "upscale": "blurrier",
        "upscale_real": "blurrier",
        "rotated": "rotated or mirrored",
    }
    for case, word in expected.items():
        degraded = layout[case][1][0]
        assert reasons[degraded] == word, case
    rationale = {row["path"]: row["rationale"] for row in runs["default"][1]}
    assert rationale[layout["blur"][0]].endswith("best copy: sharper; others: 1 near (blurrier)")
    assert "best copy: better exposed;" in rationale[layout["dark"][0]]


def test_without_the_comparison_the_degraded_copies_would_have_been_kept(degraded_archive):
    """The archive is built so that the rules that follow prefer the degraded copies."""
    layout, runs = degraded_archive
    images = {row["path"]: row for row in runs["legacy"][0]}
    kept_degraded = [
        case for case, (_, copies) in layout.items() if images[copies[0]]["keeper"] == "true"
    ]
    assert set(kept_degraded) >= {"blur", "blur_real", "dark", "dark_real", "rotated", "upscale"}
