"""Crops up to 30%, framed copies and still-camera frame pairs, on real photos (issue 11)."""

from __future__ import annotations

import collections
import csv
import io
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from hygiene.demo import samples
from hygiene.demo.samples import real_photos
from hygiene.duplicates.grouping import Edge, groups_around_keepers
from hygiene.duplicates.verify import rgb_array
from hygiene.records import KEEPER_RULES, ImageRow
from tests.conftest import run_hygiene
from tests.test_keeper import _node, metrics

PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png")


def _crop(image: Image.Image, keep: float, corner: tuple[float, float]) -> Image.Image:
    """Keep `keep` of each side; `corner` places the window (0, 0) top left ... (1, 1)."""
    width, height = round(image.width * keep), round(image.height * keep)
    left = round(corner[0] * (image.width - width))
    top = round(corner[1] * (image.height - height))
    return image.crop((left, top, left + width, top + height))


def _moved_subject(image: Image.Image, seed: int) -> Image.Image:
    """The next frame from a tripod: a textured patch (about 6% of the frame) moved by 3% of
    the width, the rest unchanged."""
    rng = np.random.default_rng(seed)
    pixels = np.asarray(image.convert("RGB"), dtype=np.float32)
    height, width = pixels.shape[:2]
    mask = np.zeros((height, width), np.float32)
    centre = (int(rng.uniform(0.3, 0.7) * width), int(rng.uniform(0.3, 0.7) * height))
    cv2.ellipse(mask, centre, (width // 7, height // 7), 0, 0, 360, 1.0, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), width / 80)[..., None]
    shift = np.float32([[1, 0, 0.03 * width], [0, 1, 0]])
    moved = cv2.warpAffine(pixels, shift, (width, height), borderMode=cv2.BORDER_REFLECT)
    return Image.fromarray(np.clip(pixels * (1 - mask) + moved * mask, 0, 255).astype(np.uint8))


def _groups(run: Path) -> dict[str, set[str]]:
    with (run / "images.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    groups: dict[str, set[str]] = collections.defaultdict(set)
    for row in rows:
        if row["dup_group"]:
            groups[row["dup_group"]].add(row["path"])
    return groups


def _scan(root: Path) -> Path:
    out = root.parent / "run"
    result = run_hygiene(
        "scan", root, "--out", out, "--quiet", "--no-clip", "--catalog", root.parent / "c.sqlite"
    )
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="module")
def crops_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("crops") / "archive"
    root.mkdir()
    photos = real_photos()
    families: dict[str, set[str]] = {}
    for index, name in enumerate(PHOTOS):
        taken = f"2021:05:0{index + 1} 10:00:00"
        exif = samples.camera_exif(taken, "Phone")
        image = photos[name].convert("RGB")
        files = {f"{name}.jpg": samples.jpeg_bytes(image, 92, exif)}
        for keep, corner in ((0.7, (0.0, 0.0)), (0.7, (1.0, 1.0)), (0.8, (0.3, 0.8))):
            crop = _crop(image, keep, corner)
            files[f"{name}_crop{round(keep * 100)}_{corner[0]}.jpg"] = samples.jpeg_bytes(
                crop, 90, exif
            )
        files[f"{name}_framed.jpg"] = samples.jpeg_bytes(
            samples.pad(image, 1 / 12, (255, 255, 255)), 90
        )
        for rel_path, data in files.items():
            (root / rel_path).write_bytes(data)
        families[name] = set(files)
    # Another photo taken in the same second by another camera: same capture time, other picture.
    other = photos["gravel.png"].convert("RGB")
    (root / "same_second.jpg").write_bytes(
        samples.jpeg_bytes(other, 92, samples.camera_exif("2021:05:01 10:00:00", "Other"))
    )
    return families, _groups(_scan(root))


def test_crops_that_keep_their_capture_time_join_their_original(crops_run):
    families, groups = crops_run
    for name, members in families.items():
        original = f"{name}.jpg"
        [group] = [g for g in groups.values() if original in g]
        crops = {m for m in members if "_crop" in m}
        assert crops <= group, (name, crops - group)


def test_a_framed_copy_without_exif_joins_its_original(crops_run):
    families, groups = crops_run
    for name in families:
        assert any({f"{name}.jpg", f"{name}_framed.jpg"} <= g for g in groups.values()), name


def test_the_same_capture_time_alone_groups_nothing(crops_run):
    families, groups = crops_run
    assert not any("same_second.jpg" in g for g in groups.values())
    for members in groups.values():
        assert len({name for name, family in families.items() if members & family}) == 1


def test_copies_without_exif_stay_with_their_own_frame(tmp_path):
    """Two tripod frames one second apart, each with a half-size copy that lost its EXIF: no
    group holds files of both frames (the copies' hashes sit as close to either frame)."""
    root = tmp_path / "archive"
    root.mkdir()
    photos = real_photos()
    for index, name in enumerate(("astronaut.png", "coffee.png", "chelsea.png")):
        first = photos[name].convert("RGB")
        frames = (first, _moved_subject(first, index))
        for number, frame in enumerate(frames):
            taken = f"2021:06:0{index + 1} 12:00:0{number}"
            (root / f"{name}_frame{number}.jpg").write_bytes(
                samples.jpeg_bytes(frame, 92, samples.camera_exif(taken, "Phone"))
            )
            half = frame.resize((frame.width // 2, frame.height // 2), Image.Resampling.LANCZOS)
            (root / f"{name}_frame{number}_half.jpg").write_bytes(samples.jpeg_bytes(half, 85))
    groups = _groups(_scan(root))
    for members in groups.values():
        frames = {m.split("_frame")[0] + m.split("_frame")[1][0] for m in members}
        assert len(frames) == 1, members


def test_an_untimed_copy_takes_the_time_of_the_frame_it_matches_best():
    """The copy is one hash bit closer to the second frame but matches the first frame's pixels
    better: it joins the first frame, and the second frame stays out."""
    first, second, copy = (_node(seq, metrics()) for seq in (1, 2, 3))
    first.rows[0] = _timed(first.rows[0], "2021-06-01T12:00:00")
    second.rows[0] = _timed(second.rows[0], "2021-06-01T12:00:01")
    edges = {
        0: {2: Edge("near", 6, 0.010)},
        1: {2: Edge("near", 5, 0.030)},
        2: {0: Edge("near", 6, 0.010), 1: Edge("near", 5, 0.030)},
    }
    [group] = groups_around_keepers([first, second, copy], edges, KEEPER_RULES, lambda a, b: True)
    assert {m.seq for m in group.members} == {1, 3}


def _timed(row: ImageRow, taken_at: str) -> ImageRow:
    return replace(row, facts=replace(row.facts, taken_at=taken_at))


def test_thumbnails_are_trimmed_by_the_measured_content_box():
    """A white frame of 1/12 of the width, on a lossy WebP thumbnail: the stored box removes
    all of it, rim included."""
    photo = np.asarray(real_photos()["astronaut.png"].convert("RGB").resize((240, 240)))
    framed = np.full((280, 280, 3), 255, np.uint8)
    framed[20:260, 20:260] = photo
    thumbnail = np.asarray(
        Image.open(io.BytesIO(samples.encoded(Image.fromarray(framed), "WEBP", quality=70)))
    )
    trimmed = rgb_array(thumbnail, (20 / 280, 20 / 280, 260 / 280, 260 / 280))
    assert trimmed.shape[:2] == (240, 240)
    edges = np.concatenate([trimmed[0], trimmed[-1], trimmed[:, 0], trimmed[:, -1]])
    photo_edges = np.concatenate([photo[0], photo[-1], photo[:, 0], photo[:, -1]]) / 255.0
    assert np.abs(edges - photo_edges).mean() < 0.08


def test_frames_of_one_second_are_told_apart_by_their_sub_second_times(tmp_path):
    """A phone burst within one second: DateTimeOriginal is equal, SubSecTimeOriginal is not;
    the camera drifted by 1% and the subject moved. The frames are two exposures, never
    duplicates (without the fraction, whole-frame comparison alone groups them)."""
    root = tmp_path / "archive"
    root.mkdir()
    photos = real_photos()
    for name in ("astronaut.png", "coffee.png", "chelsea.png"):
        image = photos[name].convert("RGB")
        first = _crop(image, 0.9, (0.0, 0.5))
        second = _moved_subject(_crop(image, 0.9, (0.1, 0.5)), 3)
        for number, frame in enumerate((first, second)):
            exif = samples.camera_exif("2021:07:01 09:30:00", "Phone", subsec=f"{number * 3}5")
            (root / f"{name}_{number}.jpg").write_bytes(samples.jpeg_bytes(frame, 92, exif))
    groups = _groups(_scan(root))
    assert not groups, groups


def test_a_copy_that_two_frames_match_about_equally_joins_neither():
    """Residuals 0.030 and 0.031 cannot say which frame the copy was made from: it stays out of
    both frames' groups rather than be removed as a copy of the wrong one."""
    first, second, copy, first_copy = (_node(seq, metrics()) for seq in (1, 2, 3, 4))
    first.rows[0] = _timed(first.rows[0], "2021-06-01T12:00:00")
    second.rows[0] = _timed(second.rows[0], "2021-06-01T12:00:01")
    first_copy.rows[0] = _timed(first_copy.rows[0], "2021-06-01T12:00:00")
    edges = _graph({(0, 2): 0.030, (1, 2): 0.031, (0, 3): 0.005})
    groups = groups_around_keepers(
        [first, second, copy, first_copy], edges, KEEPER_RULES, lambda a, b: True
    )
    assert [{m.seq for m in g.members} for g in groups] == [{1, 4}]


def test_flagged_versions_of_a_picture_kept_elsewhere_form_no_group():
    """A dark and a blurred version match each other (the degradations leave little to compare)
    and the blurred one only looks like (similar, not confirmed) the original's copy: no group
    keeps one of them over the other."""
    original, original_copy, dark, blurred = (_node(seq, metrics()) for seq in (1, 2, 3, 4))
    dark.best = replace(dark.best, degraded=("dark",))
    blurred.best = replace(blurred.best, degraded=("blurry",))
    edges = _graph({(0, 1): 0.004, (2, 3): 0.015})
    nodes = [original, original_copy, dark, blurred]
    groups = groups_around_keepers(nodes, edges, KEEPER_RULES, lambda a, b: True, [(1, 3)])
    assert [{m.seq for m in g.members} for g in groups] == [{1, 2}]
    # Without the picture's good copy the two versions are still one group.
    alone = groups_around_keepers(
        [dark, blurred], _graph({(0, 1): 0.015}), KEEPER_RULES, lambda a, b: True
    )
    assert [{m.seq for m in g.members} for g in alone] == [{3, 4}]


def test_versions_that_are_all_too_bright_or_dark_group_only_as_identical_pixels():
    """Two blown-out frames of a burst match on what clipping left; with nothing unflagged to
    anchor them they form no group. Identical pixels still make one (a re-saved copy)."""
    first, second, resaved = (_node(seq, metrics()) for seq in (1, 2, 3))
    first.best = replace(first.best, degraded=("bright",))
    second.best = replace(second.best, degraded=("bright", "blurry"))
    resaved.best = replace(resaved.best, degraded=("bright",))
    edges = _graph({(0, 1): 0.012})
    assert groups_around_keepers([first, second], edges, KEEPER_RULES, lambda a, b: True) == []
    edges[0][2] = edges[2][0] = Edge("pixel", 0, 0.0)
    groups = groups_around_keepers([first, second, resaved], edges, KEEPER_RULES, lambda a, b: True)
    assert [{m.seq for m in g.members} for g in groups] == [{1, 3}]


def test_the_frame_that_matches_its_crop_seeds_the_group_not_a_downscale_of_two_frames():
    """An untimed downscale matches both burst frames and the second frame's copy (three
    relations); the first frame matches the downscale and its own crop (two). Counting only
    relations within one exposure, the frame seeds the group and its crop joins it."""
    first, second, second_copy, down, crop = (_node(seq, metrics()) for seq in (1, 2, 3, 4, 5))
    for node, taken in ((first, "12:00:00"), (second, "12:00:01"), (second_copy, "12:00:01")):
        node.rows[0] = _timed(node.rows[0], f"2021-06-01T{taken}")
    crop.rows[0] = _timed(crop.rows[0], "2021-06-01T12:00:00")
    edges = _graph({(0, 3): 0.010, (1, 3): 0.020, (2, 3): 0.021, (0, 4): 0.008, (1, 2): 0.004})
    groups = groups_around_keepers(
        [first, second, second_copy, down, crop], edges, KEEPER_RULES, lambda a, b: True
    )
    assert sorted(sorted(m.seq for m in g.members) for g in groups) == [[1, 4, 5], [2, 3]]


def _graph(residuals: dict[tuple[int, int], float]) -> dict[int, dict[int, Edge]]:
    edges: dict[int, dict[int, Edge]] = collections.defaultdict(dict)
    for (a, b), residual in residuals.items():
        edges[a][b] = edges[b][a] = Edge("near", 4, residual)
    return edges


def test_a_dated_copy_as_good_as_an_undated_keeper_is_kept_too():
    """The seed lost its EXIF date and the dated frame is not confirmed against the third
    member, so the seed stays the keeper; the dated frame, no worse on any aspect, is not
    removed."""
    seed, dated, other = (_node(seq, metrics()) for seq in (1, 2, 3))
    dated.rows[0] = _timed(dated.rows[0], "2021-06-01T12:00:00")
    dated.best = replace(dated.best, taken_at="2021-06-01T12:00:00")
    edges = _graph({(0, 1): 0.01, (0, 2): 0.02})
    [group] = groups_around_keepers(
        [seed, dated, other], edges, KEEPER_RULES, lambda a, b: {a, b} != {1, 2}
    )
    members = {m.seq: m for m in group.members}
    assert group.keeper_seq == 1
    assert members[2].keeper and "capture date" in members[2].reason
    assert not members[3].keeper


def test_a_copy_equally_close_to_two_photos_taken_far_apart_goes_with_the_closer():
    """Dated a year apart, the two photos are one picture whose date was rewritten, not two
    frames of a burst: the copy joins the closer one."""
    first, second, copy = (_node(seq, metrics()) for seq in (1, 2, 3))
    first.rows[0] = _timed(first.rows[0], "2019-07-04T10:03:00")
    second.rows[0] = _timed(second.rows[0], "2020-01-02T03:04:05")
    edges = _graph({(0, 2): 0.030, (1, 2): 0.031})
    groups = groups_around_keepers([first, second, copy], edges, KEEPER_RULES, lambda a, b: True)
    assert [{m.seq for m in g.members} for g in groups] == [{1, 3}]


def test_a_frame_dropped_from_the_cache_is_freed_at_once():
    import weakref

    from hygiene.duplicates.verify import Frame, compare

    rgb = np.random.default_rng(0).random((96, 128, 3), dtype=np.float32)
    frame = Frame(rgb)
    compare(frame, Frame(rgb.copy()), 0, b_is_crop_of_a=False)
    compare(frame, Frame(np.ascontiguousarray(np.rot90(rgb))), 1, b_is_crop_of_a=False)
    assert frame.turned_back(0) is frame
    gone = weakref.ref(frame)
    del frame
    # no reference cycle: freed without waiting for the garbage collector (which a worker's
    # numpy-heavy loop hardly triggers, so cycles piled up to 170 MB per worker)
    assert gone() is None


def _photo_frame(name: str, box: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """A real photo as a 256-px thumbnail would show it (float RGB), optionally cropped first."""
    photo = real_photos()[name]
    if box is not None:
        photo = photo.crop(box)
    photo.thumbnail((256, 256), Image.Resampling.BILINEAR)
    return np.asarray(photo.convert("RGB"), np.float32) / 255.0


def test_a_crop_far_from_a_match_is_not_placed_at_full_size(monkeypatch):
    from hygiene.duplicates import verify

    limits = verify.MatchLimits(0.70, 0.10, 0.06, 0.65)
    whole, other = (
        verify.Frame(_photo_frame("astronaut.png")),
        verify.Frame(_photo_frame("coffee.png")),
    )
    crop = verify.Frame(_photo_frame("astronaut.png", (40, 30, 470, 420)))
    placements = []
    real_refine = verify._refine
    monkeypatch.setattr(
        verify, "_refine", lambda *a, **k: placements.append(a[0].shape) or real_refine(*a, **k)
    )

    unrelated = verify.compare(whole, other, 0, b_is_crop_of_a=True, unless_far_from=limits)
    assert verify._misses_by_far(unrelated.correlation, unrelated.changed_fraction, limits)
    assert not unrelated.is_duplicate(limits)
    assert len(placements) == 1  # the half-size step only
    placements.clear()

    # a real crop is placed at full size, and comes out as it does without the early stop
    found = verify.compare(whole, crop, 0, b_is_crop_of_a=True, unless_far_from=limits)
    assert len(placements) == 2 and found.is_duplicate(limits)
    assert found == verify.compare(whole, crop, 0, b_is_crop_of_a=True)


def test_the_gain_and_offset_fit_is_the_least_squares_one():
    from hygiene.duplicates.verify import _residual

    rng = np.random.default_rng(3)
    for a in (
        rng.random((64, 64), dtype=np.float32),
        np.full((64, 64), 0.3, np.float32),  # flat: fitted by its offset alone
    ):
        b = (0.6 * a + 0.2 + 0.1 * rng.random((64, 64), dtype=np.float32)).astype(np.float32)
        design = np.stack([a.ravel(), np.ones(a.size, np.float32)], axis=1)
        (gain, offset), *_ = np.linalg.lstsq(design, b.ravel(), rcond=None)
        np.testing.assert_allclose(_residual(a, b), np.abs(b - (gain * a + offset)), atol=1e-6)


def _facts_of(image: Image.Image):
    from hygiene.scan.measure import WorkerSettings, scan_bytes

    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    settings = WorkerSettings("", 10**9, 10**10, 256, "")
    facts = scan_bytes(buffer.getvalue(), "PNG", "", settings).facts
    assert facts is not None
    return facts


def test_a_crop_shows_the_colours_of_the_window_its_hash_matched():
    """The scan's colour layouts: a crop's whole frame against the original's matching window
    is well within the colour limit; the same crop with its colours turned is far outside it;
    a greyscale crop cannot be told by colour."""
    from hygiene.duplicates.candidates import CropMatches, layout_differences
    from hygiene.scan.hashing import CROP_WINDOWS

    photo = real_photos()["coffee.png"].convert("RGB")
    corner = next(i for i, box in enumerate(CROP_WINDOWS) if np.allclose(box, (0, 0, 0.8, 0.8)))
    crop = _crop(photo, 0.8, (0.0, 0.0))
    red, green, blue = crop.split()
    turned = Image.merge("RGB", (blue, red, green))
    facts = [_facts_of(image) for image in (photo, crop, turned, crop.convert("L").convert("RGB"))]
    matches = CropMatches(
        originals=np.zeros(3, np.int64),
        window=np.full(3, corner),
        crops=np.array([1, 2, 3]),
        distance=np.zeros(3, np.int64),
    )
    colourfulness = np.array([one.colourfulness for one in facts])
    same, recoloured, grey = layout_differences(
        matches, lambda named: [facts[i].window_colours for i in named], colourfulness
    )
    limit = 0.06  # duplicates.max_colour_difference
    assert same < limit / 5
    assert recoloured > 2 * limit
    assert np.isnan(grey)


def test_colour_differences_are_those_of_each_pair_of_layouts(monkeypatch):
    """Each crop-window match's colour difference is the mean chroma step between its two
    layouts, NaN where one has none or is greyscale; layouts are asked for a block at a time,
    and the block size changes nothing."""
    from hygiene.duplicates import candidates
    from hygiene.scan.hashing import CROP_WINDOWS, LAYOUT_CELLS

    rng = np.random.default_rng(7)
    nodes, matched = 60, 500
    size = (1 + len(CROP_WINDOWS)) * LAYOUT_CELLS**2 * 3
    layouts = [rng.integers(-60, 60, size, dtype=np.int8).tobytes() for _ in range(nodes)]
    layouts[5] = b""  # never scanned with layouts
    colourfulness = rng.uniform(0.0, 0.3, nodes)
    colourfulness[7] = 0.01  # greyscale
    matches = candidates.CropMatches(
        originals=rng.integers(0, nodes, matched),
        window=rng.integers(0, len(CROP_WINDOWS), matched),
        crops=rng.integers(0, nodes, matched),
        distance=np.zeros(matched, np.int64),
    )
    asked: list[int] = []

    def read(named: list[int]) -> list[bytes]:
        asked.append(len(named))
        return [layouts[i] for i in named]

    at_once = candidates.layout_differences(matches, read, colourfulness)
    monkeypatch.setattr(candidates, "_LAYOUT_BLOCK", 7)
    asked.clear()
    in_blocks = candidates.layout_differences(matches, read, colourfulness)
    assert max(asked) == 7
    assert np.array_equal(at_once, in_blocks, equal_nan=True)
    assert np.isnan(in_blocks).any() and (in_blocks > 0).any()
    for index in range(matched):  # each difference is the one its own layouts give
        original, crop = matches.originals[index], matches.crops[index]
        if {original, crop} & {5, 7} or min(colourfulness[[original, crop]]) < 0.04:
            assert np.isnan(in_blocks[index])
            continue
        window = np.frombuffer(layouts[original], np.int8).reshape(1 + len(CROP_WINDOWS), -1)
        whole = np.frombuffer(layouts[crop], np.int8).reshape(1 + len(CROP_WINDOWS), -1)
        steps = np.abs(window[1 + matches.window[index]].astype(int) - whole[0]).mean()
        assert in_blocks[index] == pytest.approx(steps * candidates.LAYOUT_STEP)


def test_the_colour_gate_inside_the_search_keeps_the_matches_a_gate_after_it_keeps():
    """ColourGate drops crop-window matches inside the hash search, before they are held; the
    matches it keeps are exactly those that layout_differences lets through afterwards."""
    from hygiene.duplicates import candidates
    from hygiene.scan.hashing import CROP_WINDOWS, LAYOUT_CELLS

    rng = np.random.default_rng(11)
    nodes, views = 80, candidates.CENTRE_BAND_SLOT + 1
    hashes = rng.integers(0, 2**63, (nodes, views), dtype=np.uint64)
    windows = len(CROP_WINDOWS)
    for crop in range(40):  # half the photos look like a window of another, a few bits off
        original, window = rng.integers(40, nodes), rng.integers(0, windows)
        flips = np.uint64(sum(1 << int(b) for b in rng.choice(64, 6, replace=False)))
        hashes[crop, 0] = hashes[original, len(candidates.DIHEDRAL) + window] ^ flips
    size = (1 + windows) * LAYOUT_CELLS**2 * 3
    layouts = [rng.integers(-3, 3, size, dtype=np.int8).tobytes() for _ in range(nodes)]
    for recoloured in range(0, 40, 3):  # some crops far from any colours
        layouts[recoloured] = np.full(size, 90, np.int8).tobytes()
    layouts[4] = b""
    colourfulness = rng.uniform(0.0, 0.3, nodes)

    def read(named: list[int]) -> list[bytes]:
        return [layouts[i] for i in named]

    limit = 0.06
    every = candidates.crop_window_matches(hashes, 14)
    agree = ~(candidates.layout_differences(every, read, colourfulness) > limit)
    gate = candidates.ColourGate(read, colourfulness, limit)
    gated = candidates.crop_window_matches(hashes, 14, keep=gate.agrees)

    def triples(matches, mask=None):
        mask = np.ones(len(matches.crops), bool) if mask is None else mask
        parts = (matches.originals, matches.window, matches.crops, matches.distance)
        return sorted(zip(*(part[mask].tolist() for part in parts), strict=True))

    assert 0 < len(gated.crops) < len(every.crops)
    assert triples(gated) == triples(every, agree)


def _hashed_node(seq: int, hashes: np.ndarray, colour: np.ndarray, colourfulness: float):
    from hygiene.scan.hashing import CROP_WINDOWS, LAYOUT_CELLS

    node = _node(seq, metrics())
    layouts = np.zeros((1 + len(CROP_WINDOWS), LAYOUT_CELLS, LAYOUT_CELLS, 3), np.int8)
    layouts[:] = colour  # one chroma everywhere
    facts = replace(
        node.facts,
        near_hashes=hashes.tobytes(),
        window_colours=layouts.tobytes(),
        colourfulness=colourfulness,
    )
    row = replace(node.rows[0], facts=facts)
    return replace(node, rows=[row], hashes=hashes)


def test_crop_candidates_whose_colours_disagree_with_the_matched_window_are_not_proposed():
    from hygiene.config import DuplicateSettings
    from hygiene.duplicates.candidates import candidate_pairs
    from hygiene.scan import DIHEDRAL
    from hygiene.scan.hashing import NEAR_HASH_COUNT

    rng = np.random.default_rng(7)
    matched = np.uint64(rng.integers(0, 2**63))
    warm = np.array([40, -20, -20], np.int8)  # red-brown
    cool = np.array([-20, -20, 40], np.int8)  # blue

    def hashes(slot: int) -> np.ndarray:
        values = rng.integers(0, 2**63, NEAR_HASH_COUNT).astype(np.uint64)
        values[slot] = matched
        return values

    original = _hashed_node(0, hashes(len(DIHEDRAL) + 5), warm, 0.2)  # window 5 matches
    alike = _hashed_node(1, hashes(0), warm, 0.2)
    other_colours = _hashed_node(2, hashes(0), cool, 0.2)
    greyscale = _hashed_node(3, hashes(0), cool, 0.01)
    asked = []

    def stored(wanted):
        asked.extend(node.rows[0].seq for node in wanted)
        return [node.facts.window_colours for node in wanted]

    nodes = [original, alike, other_colours, greyscale]
    proposals = candidate_pairs(nodes, DuplicateSettings(), stored)
    crops_of_original = {b for a, b, _, crop, _, _ in proposals if crop and a == 0}
    assert crops_of_original == {1, 3}
    assert sorted(asked) == [0, 1, 2, 3]  # only the photos some window matched


def test_a_frame_keeps_its_crop_templates_within_a_byte_budget():
    """A crop is placed against every copy of its group, which share a size: a template is
    resized once and the same array comes back, while the bytes kept per frame stay bounded."""
    from hygiene.duplicates import verify

    rng = np.random.default_rng(3)
    frame = verify.Frame(rng.random((180, 240, 3), dtype=np.float32))
    template = frame.template((0.5,), (70, 52))
    expected = cv2.resize(frame.grey_at((0.5,)), (70, 52), interpolation=cv2.INTER_AREA)
    assert np.array_equal(template, expected)
    assert frame.template((0.5,), (70, 52)) is template
    sizes = [(w, round(w * 0.75)) for w in range(120, 240, 4)]  # far more than the budget
    for size in sizes:
        assert frame.template((), size).shape == (size[1], size[0])
        assert frame._template_bytes <= verify._TEMPLATE_BYTES_KEPT
    assert frame.template((), sizes[-1]) is frame.template((), sizes[-1])
    assert ((0.5,), (70, 52)) not in frame._templates  # the oldest went first
