"""Duplicate groups, keepers and similar shots, measured on real and generated photos."""

from __future__ import annotations

import collections
import csv
import itertools
from pathlib import Path

import numpy as np
import pytest

from hygiene.demo import samples
from hygiene.demo.samples import real_photos
from hygiene.duplicates.keeper import Candidate, strictly_better
from hygiene.duplicates.nearsearch import hamming_pairs
from hygiene.duplicates.stage import _split_by_bytes
from hygiene.records import ImageRow
from tests.conftest import run_hygiene

KEEPABLE = {None, "exact_copy", "metadata_stripped", "lossless_png", "lossless_bmp"}
GREY_ORIGINALS = {"brick.png", "camera.png", "coins.png", "grass.png", "gravel.png"}


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def corpus_run(tmp_path_factory):
    """Every duplicate transform of 12 real and 6 generated photos, bursts and look-alikes."""
    root = tmp_path_factory.mktemp("dups") / "archive"
    originals = dict(real_photos())
    originals.update({f"generated_{i}": samples.photo(700 + i, 1024, 768) for i in range(6)})
    files = samples.build_duplicate_corpus(root, originals)
    look_alikes = {  # distinct photos that share a layout or a scene
        "lookalike/chat_a.png": samples.encoded(samples.screenshot(41), "PNG"),
        "lookalike/chat_b.png": samples.encoded(samples.screenshot(42), "PNG"),
        "lookalike/page_a.jpg": samples.jpeg_bytes(samples.document(43)),
        "lookalike/page_b.jpg": samples.jpeg_bytes(samples.document(44)),
        "lookalike/stars_a.jpg": samples.jpeg_bytes(samples.night_sky(45, 800, 600)),
        "lookalike/stars_b.jpg": samples.jpeg_bytes(samples.night_sky(46, 800, 600)),
    }
    for rel_path, data in look_alikes.items():
        (root / rel_path).parent.mkdir(parents=True, exist_ok=True)
        (root / rel_path).write_bytes(data)
        files.append(samples.SampleFile(rel_path, "look_alike", "ok", extra={"group": rel_path}))
    out = root.parent / "run"
    result = run_hygiene(
        "scan",
        root,
        "--out",
        out,
        "--quiet",
        "--no-clip",
        "--catalog",
        root.parent / "catalog.sqlite",
        timeout=900,
    )
    assert result.returncode == 0, result.stderr
    return files, out


def pairs_within(groups: dict[str, list[str]]) -> set[tuple[str, str]]:
    return {
        pair for members in groups.values() for pair in itertools.combinations(sorted(members), 2)
    }


def test_near_duplicate_precision_and_recall(corpus_run):
    files, out = corpus_run
    rows = {row["path"]: row for row in read_csv(out / "images.csv")}
    truth_groups = collections.defaultdict(list)
    for f in files:
        truth_groups[f.extra["group"]].append(f.rel_path)
    predicted_groups = collections.defaultdict(list)
    for path, row in rows.items():
        if row["dup_group"]:
            predicted_groups[row["dup_group"]].append(path)
    truth, predicted = pairs_within(truth_groups), pairs_within(predicted_groups)
    precision = len(truth & predicted) / len(predicted)
    recall = len(truth & predicted) / len(truth)
    assert precision >= 0.99 and recall >= 0.90, (precision, recall)

    by_transform = collections.defaultdict(list)
    for f in files:
        if f.transform:
            by_transform[f.transform].append(tuple(sorted((f.rel_path, f.source))) in predicted)
    for transform, found in by_transform.items():
        expected = 1.0 if transform in KEEPABLE else 0.85
        assert np.mean(found) >= expected, (transform, np.mean(found))


def test_groups_never_merge_unrelated_photos_or_bursts(corpus_run):
    files, out = corpus_run
    group_of = {f.rel_path: f.extra["group"] for f in files}
    predicted = collections.defaultdict(set)
    for row in read_csv(out / "images.csv"):
        if row["dup_group"]:
            predicted[row["dup_group"]].add(group_of[row["path"]])
    merged = [groups for groups in predicted.values() if len(groups) > 1]
    assert not merged


def test_exact_and_pixel_copies_are_all_found_with_their_kind(corpus_run):
    files, out = corpus_run
    rows = {row["path"]: row for row in read_csv(out / "images.csv")}
    for f in files:
        relation = f.extra.get("relation")
        if relation in ("exact", "pixel") and rows[f.rel_path]["keeper"] == "false":
            copy, original = rows[f.rel_path], rows[f.source]
            assert copy["dup_group"] and copy["dup_group"] == original["dup_group"], f.rel_path
            # dup_kind says how a file relates to its group's keeper
            if original["keeper"] == "true":
                assert copy["dup_kind"] == relation, f.rel_path
            else:
                assert copy["dup_kind"] in ("exact", "pixel"), f.rel_path


def test_keeper_is_never_a_degraded_or_smaller_copy(corpus_run):
    files, out = corpus_run
    transform_of = {f.rel_path: f.transform for f in files}
    keepers = [row for row in read_csv(out / "duplicates.csv") if row["keeper"] == "true"]
    groups_with_original = {
        row["group"]
        for row in read_csv(out / "duplicates.csv")
        if row["path"].startswith("originals/")
    }
    bad = [
        row["path"]
        for row in keepers
        if row["group"] in groups_with_original and transform_of[row["path"]] not in KEEPABLE
    ]
    assert not bad
    assert all(row["rationale"].startswith("kept: ") for row in read_csv(out / "duplicates.csv"))


def test_bursts_are_similar_shots_not_duplicates(corpus_run):
    files, out = corpus_run
    rows = {row["path"]: row for row in read_csv(out / "images.csv")}
    bursts = [f for f in files if f.kind == "burst"]
    assert all(rows[f.rel_path]["dup_group"] == "" for f in bursts)
    clusters = collections.defaultdict(set)
    for row in read_csv(out / "similar.csv"):
        clusters[row["cluster"]].add(row["path"])
    paired = 0
    for burst in bursts:
        original_group = rows[burst.extra["similar_to"]]["dup_group"]
        group_paths = {
            p for p, r in rows.items() if original_group and r["dup_group"] == original_group
        }
        group_paths.add(burst.extra["similar_to"])
        paired += any(burst.rel_path in c and c & group_paths for c in clusters.values())
    assert paired / len(bursts) >= 0.8


def test_run_summary_counts_reclaimable_bytes(corpus_run):
    _, out = corpus_run
    import json

    record = json.loads((out / "run.json").read_text())
    removable = [row for row in read_csv(out / "duplicates.csv") if row["keeper"] == "false"]
    assert record["duplicates"]["removable_files"] == len(removable)
    assert record["duplicates"]["reclaimable_bytes"] == sum(int(r["size_bytes"]) for r in removable)


def test_hamming_search_finds_every_close_pair_and_no_far_one():
    rng = np.random.default_rng(1)
    index = rng.integers(0, 2**63, 3000, dtype=np.int64).astype(np.uint64)
    flips = rng.integers(0, 4, 3000)
    queries = index.copy()
    for position, count in enumerate(flips):
        for bit in rng.choice(64, count, replace=False):
            queries[position] ^= np.uint64(1) << np.uint64(int(bit))
    pairs = hamming_pairs(index, queries, 3)
    found = set(zip(pairs.query.tolist(), pairs.index.tolist(), strict=True))
    assert all((i, i) in found for i in range(3000))  # every pair within 3 bits (pigeonhole)
    brute = np.bitwise_count(queries[pairs.query] ^ index[pairs.index])
    assert np.array_equal(brute, pairs.distance) and brute.max() <= 3


def test_equal_hashes_with_different_bytes_are_not_exact_duplicates(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"first content")
    (tmp_path / "b.jpg").write_bytes(b"other content")
    (tmp_path / "c.jpg").write_bytes(b"first content")
    rows = [
        ImageRow(i, name, 13, "0" * 64, None) for i, name in enumerate(["a.jpg", "b.jpg", "c.jpg"])
    ]
    groups = _split_by_bytes([0, 1, 2], rows, tmp_path)  # a pretend sha256 collision
    assert sorted(sorted(rows[i].rel_path for i in g) for g in groups) == [
        ["a.jpg", "c.jpg"],
        ["b.jpg"],
    ]


def _scan_small_archive(tmp_path, scan, config_text: str):
    root = tmp_path / "archive"
    image = samples.photo(5, 1200, 900)
    small = image.resize((600, 450))
    files = {
        "Inbox/photo.jpg": samples.jpeg_bytes(image, 92),
        "Inbox/photo (1).jpg": samples.jpeg_bytes(image, 92),
        "Protected/small.jpg": samples.jpeg_bytes(small, 85),
        "s.jpg": samples.jpeg_bytes(small, 80),
        "broken.jpg": samples.jpeg_bytes(image)[:5000],
    }
    for rel_path, data in files.items():
        (root / rel_path).parent.mkdir(parents=True, exist_ok=True)
        (root / rel_path).write_bytes(data)
    config = tmp_path / "hygiene.toml"
    config.write_text(config_text)
    return {row["path"]: row for row in scan(root, "--config", config).rows}


def test_protected_files_are_always_kept(tmp_path, scan):
    rows = _scan_small_archive(tmp_path, scan, '[duplicates]\nprotected_roots = ["Protected"]\n')
    group = rows["Inbox/photo.jpg"]["dup_group"]
    assert group and all(rows[p]["dup_group"] == group for p in rows if p != "broken.jpg")
    keepers = sorted(path for path, row in rows.items() if row["keeper"] == "true")
    assert keepers == ["Inbox/photo.jpg", "Protected/small.jpg"]
    assert rows["broken.jpg"]["dup_group"] == ""  # corrupt files never join a group


def test_keeper_rules_come_from_the_config(tmp_path, scan):
    rows = _scan_small_archive(tmp_path, scan, '[duplicates]\nkeeper_rules = ["shortest_path"]\n')
    keepers = [path for path, row in rows.items() if row["keeper"] == "true"]
    assert keepers == ["s.jpg"]


TURNED = {"rotate_90", "rotate_180", "rotate_270", "mirrored"}


def _measured(path: Path, transform: str | None) -> Candidate:
    """The file as a keeper candidate, measured again through the scan's own code."""
    from PIL import Image

    from hygiene.scan.measure import WorkerSettings, scan_bytes

    data = path.read_bytes()
    with Image.open(path) as image:
        image_format = image.format or ""
    settings = WorkerSettings(str(path.parent), 10**9, 10**10, 64, "")
    facts = scan_bytes(data, image_format, "", settings).facts
    assert facts is not None, path
    return Candidate(
        seq=0,
        rel_path=path.name,
        size_bytes=len(data),
        width=facts.width,
        height=facts.height,
        format=facts.format,
        content_fraction=facts.content_fraction,
        colourfulness=facts.colourfulness,
        taken_at=facts.taken_at,
        degraded=(),
        protected=False,
        quality=facts.quality,
        turned=transform in TURNED,
    )


def test_no_removed_copy_is_better_than_its_keeper_on_any_aspect(corpus_run):
    """Every removed copy is worse than its group's keeper on some aspect (quality, pixels,
    compression), or ties with it; none is strictly better."""
    files, out = corpus_run
    root = out.parent / "archive"
    transform_of = {f.rel_path: f.transform for f in files}
    groups = collections.defaultdict(list)
    for row in read_csv(out / "duplicates.csv"):
        groups[row["group"]].append(row)
    checked = 0
    for members in groups.values():
        [keeper] = [m["path"] for m in members if m["reason"] == "kept"]
        kept = _measured(root / keeper, transform_of.get(keeper))
        for path in (m["path"] for m in members if m["keeper"] == "false"):
            removed = _measured(root / path, transform_of[path])
            assert not strictly_better(removed, kept), (path, keeper)
            checked += 1
    assert checked > 300


def test_removed_copies_say_what_is_worse_about_them(corpus_run):
    files, out = corpus_run
    reasons = {row["path"]: row["reason"] for row in read_csv(out / "duplicates.csv")}
    colour = {f.extra["group"] for f in files if f.kind == "photo"} - GREY_ORIGINALS
    for f in files:
        if f.rel_path not in reasons or f.extra["group"] not in colour:
            continue
        if f.transform in TURNED:
            assert reasons[f.rel_path] == "rotated or mirrored", f.rel_path
        elif f.transform == "grayscale":
            assert reasons[f.rel_path] == "greyscale", f.rel_path


def test_pixel_hashes_the_duplicate_stage_computes_go_to_its_own_table(tmp_path, scan):
    """Two JPEGs with the same pixels and other metadata, large enough that the scan decodes
    them at reduced size (no pixel hash): the duplicate stage hashes their full pixels to call
    them pixel copies, and keeps those hashes in its own table, leaving the scan's untouched."""
    import sqlite3

    root = tmp_path / "archive"
    root.mkdir()
    image = samples.photo(11, 1600, 1200)
    for name, model in (("a.jpg", "Phone A"), ("b.jpg", "Phone B")):
        exif = samples.camera_exif("2021:05:01 10:00:00", model)
        (root / name).write_bytes(samples.jpeg_bytes(image, 90, exif))
    catalog_path = tmp_path / "catalog.sqlite"
    run = scan(root, catalog=catalog_path)
    with (run.out / "duplicates.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(row["path"] for row in rows) == ["a.jpg", "b.jpg"]
    assert {row["kind"] for row in rows if row["keeper"] == "false"} == {"pixel"}
    conn = sqlite3.connect(catalog_path)
    assert conn.execute("SELECT pixel_sha256 FROM contents").fetchall() == [(None,), (None,)]
    hashes = {digest for (digest,) in conn.execute("SELECT pixel_sha256 FROM pixel_hashes")}
    assert len(hashes) == 1


def test_near_hashes_are_imagehash_phashes_of_area_averaged_views():
    """near_hashes shrinks every window from one integral image and hashes them in one batch:
    each shrunk view must match cv2's INTER_AREA resize (to a rounding step on a few pixels),
    and each hash must equal imagehash.phash of that view (a PIL transpose for the rotations)."""
    import cv2
    import imagehash
    from PIL import Image

    from hygiene.scan import hashing
    from hygiene.scan.quality import grey_thumbnail

    for name in ("astronaut.png", "coins.png", "motorcycle_left.png"):
        grey = grey_thumbnail(real_photos()[name].convert("RGB"))
        left, top, right, bottom = hashing.content_box(grey)
        levels = np.clip(grey[top:bottom, left:right] * 255.0 + 0.5, 0, 255).astype(np.uint8)
        height, width = levels.shape
        windows = [(0, height, 0, width)]
        for x0, y0, x1, y1 in (*hashing.CROP_WINDOWS, hashing.CENTRE_BAND):
            windows.append((int(y0 * height), int(y1 * height), int(x0 * width), int(x1 * width)))
        shrunk = hashing.area_resized(levels, windows, 32)
        for (top_px, bottom_px, left_px, right_px), view in zip(windows, shrunk, strict=True):
            window = levels[top_px:bottom_px, left_px:right_px]
            by_cv2 = cv2.resize(window, (32, 32), interpolation=cv2.INTER_AREA).astype(int)
            off = np.abs(view.astype(int) - by_cv2)
            assert off.max() <= 1 and (off > 0).mean() < 0.01, name
        small = Image.fromarray(shrunk[0])
        views = [small if t is None else small.transpose(t) for t in hashing.DIHEDRAL]
        views += [Image.fromarray(view) for view in shrunk[1:]]
        expected = [int(str(imagehash.phash(view)), 16) for view in views]
        assert hashing.near_hashes(grey).tolist() == expected, name


def test_hamming_search_in_small_runs_finds_the_same_pairs(monkeypatch):
    from hygiene.duplicates import nearsearch

    rng = np.random.default_rng(2)
    index = rng.integers(0, 2**63, 2000, dtype=np.int64).astype(np.uint64)
    index[:500] &= np.uint64(0xFFFF0000FFFF0000)  # crowded buckets, as photos of one layout give
    queries = index[rng.permutation(2000)] ^ np.uint64(0b101)
    whole = hamming_pairs(index, queries, 8)
    runs = []
    real_runs = nearsearch._runs
    monkeypatch.setattr(
        nearsearch, "_runs", lambda counts, cap: runs.append(real_runs(counts, cap)) or runs[-1]
    )
    pieces = hamming_pairs(index, queries, 8, max_lookups=300)
    assert max(len(r) for r in runs) > 10  # it did split the lookups
    for field in ("query", "index", "distance"):
        assert np.array_equal(getattr(whole, field), getattr(pieces, field))
    assert nearsearch._runs(np.array([5, 1, 9, 2, 2]), 6) == [(0, 2), (2, 3), (3, 5)]


def test_window_colours_are_the_mean_chroma_of_each_cell_of_each_view():
    from hygiene.scan import hashing

    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, (97, 131, 3), dtype=np.uint8)
    layouts = hashing.window_colours(rgb)
    cells = hashing.LAYOUT_CELLS
    views = [(0.0, 0.0, 1.0, 1.0), *hashing.CROP_WINDOWS]
    assert layouts.shape == (len(views), cells, cells, 3) and layouts.dtype == np.int8
    for layout, (x0, y0, x1, y1) in zip(layouts, views, strict=True):
        columns = [round((x0 + (x1 - x0) * k / cells) * 131) for k in range(cells + 1)]
        rows = [round((y0 + (y1 - y0) * k / cells) * 97) for k in range(cells + 1)]
        for r in range(cells):
            for c in range(cells):
                block = rgb[rows[r] : rows[r + 1], columns[c] : columns[c + 1]]
                mean = block.reshape(-1, 3).astype(np.float64).mean(axis=0)
                expected = np.rint((mean - mean.mean()) / 2).astype(np.int8)
                assert np.array_equal(layout[r, c], expected), (x0, y0, r, c)
