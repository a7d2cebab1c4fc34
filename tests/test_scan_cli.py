"""`hygiene scan` end to end, through the real command in a subprocess."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from hygiene.demo.samples import build_sample_archive, iter_expected, jpeg_bytes, photo
from hygiene.records import READABLE
from tests.conftest import run_hygiene

CONTRACT = [
    "path",
    "status",
    "error",
    "size_bytes",
    "sha256",
    "width",
    "height",
    "format",
    "taken_at",
    "dup_group",
    "dup_kind",
    "keeper",
    "dark",
    "bright",
    "blurry",
    "brightness",
    "blur",
    "category",
    "confidence",
    "margin",
    "uncertain",
    "action",
    "mtime_ns",
]


def tree_fingerprint(root: Path) -> dict[str, tuple[str, int]]:
    return {
        str(path.relative_to(root)): (
            hashlib.sha256(path.read_bytes()).hexdigest(),
            path.stat().st_mtime_ns,
        )
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def test_images_csv_follows_the_contract(sample_archive, scan):
    run = scan(sample_archive.root)
    assert run.header == CONTRACT
    rows = run.rows
    for row in rows:
        assert row["status"] in {"ok", "damaged", "corrupt", "unverified", "skipped"}
        assert not row["path"].startswith("/") and "\\" not in row["path"]
        for column in ("dark", "bright", "blurry", "keeper", "uncertain"):
            assert row[column] in {"", "true", "false"}
        if row["status"] in READABLE:
            assert row["dark"] in {"true", "false"} and row["blur"] != ""
            assert int(row["width"]) > 0 and len(row["sha256"]) == 64
        else:
            assert row["error"] and row["dark"] == "" and row["width"] == ""
            assert "\n" not in row["error"]
    parquet = pd.read_parquet(run.out / "images.parquet")
    assert list(parquet.columns) == CONTRACT
    assert parquet["path"].tolist() == [row["path"] for row in rows]


def test_every_file_gets_the_status_its_ground_truth_says(sample_archive, scan):
    rows = {row["path"]: row for row in scan(sample_archive.root).rows}
    expected = {f.rel_path: f for f in iter_expected(sample_archive.files)}
    assert set(rows) == set(expected)
    wrong = {
        p: (rows[p]["status"], rows[p]["error"])
        for p, f in expected.items()
        if rows[p]["status"] != f.status
    }
    assert not wrong


def test_corruption_reasons_are_specific(sample_archive, scan):
    rows = {row["path"]: row for row in scan(sample_archive.root).rows}
    reasons = {
        "Broken/zero_byte.jpg": "empty file",
        "Broken/header_only.jpg": "truncated",
        "Broken/truncated_half.jpg": "truncated",
        "Damaged/no_end_marker.jpg": "damaged but complete",
        "Damaged/no_iend.png": "damaged but complete",
        "Broken/bad_crc.png": "checksum",
        "Broken/truncated.png": "truncated",
        "Broken/page.html.jpg": "HTML",
        "Broken/random.png": "not an image",
        "Broken/bomb.bmp": "truncated: the BMP header announces 60000x60000 pixels",
        "Broken/truncated.webp": "truncated",
        "Videos/VID_0001.mp4": "video",
        "Documents/manual.pdf": "PDF",
    }
    for path, reason in reasons.items():
        assert reason in rows[path]["error"], (path, rows[path]["error"])


def test_formats_dimensions_and_exif(sample_archive, scan):
    rows = {row["path"]: row for row in scan(sample_archive.root).rows}
    formats = {p: rows[p]["format"] for p in rows if p.startswith("Formats/")}
    assert formats == {
        "Formats/photo.webp": "WEBP",
        "Formats/photo.gif": "GIF",
        "Formats/photo.tiff": "TIFF",
        "Formats/photo.bmp": "BMP",
        "Formats/photo.heic": "HEIF",
        "Formats/stereo.mpo": "MPO",
        "Formats/rotated_exif6.jpg": "JPEG",
    }
    truth = sample_archive.by_path()["Formats/rotated_exif6.jpg"].extra
    rotated = rows["Formats/rotated_exif6.jpg"]
    assert (int(rotated["width"]), int(rotated["height"])) == (truth["width"], truth["height"])
    assert rotated["taken_at"] == "2020-01-02T03:04:05"
    assert rows["Camera/IMG_0000.jpg"]["taken_at"] == "2019-07-01T10:00:00"
    assert rows["Names/photo.txt"]["status"] == "ok"  # recognised by content, not by name
    assert rows["Names/line\nbreak.jpg"]["status"] == "ok"
    assert rows["Ümlaut Ordner/Strand  mit Leerzeichen.jpg"]["status"] == "ok"


def test_scan_never_writes_inside_the_archive(sample_archive, scan):
    before = tree_fingerprint(sample_archive.root)
    scan(sample_archive.root)
    assert tree_fingerprint(sample_archive.root) == before


def test_output_folder_inside_the_archive_is_refused(sample_archive, tmp_path):
    result = run_hygiene(
        "scan",
        sample_archive.root,
        "--out",
        sample_archive.root / "reports",
        "--catalog",
        tmp_path / "c.sqlite",
        "--quiet",
    )
    assert result.returncode == 2
    assert "inside the archive" in result.stderr and "Traceback" not in result.stderr
    assert not (sample_archive.root / "reports").exists()


def test_missing_root_is_a_one_line_error(tmp_path):
    result = run_hygiene("scan", tmp_path / "nope", "--out", tmp_path / "out")
    assert result.returncode == 2
    assert "not found" in result.stderr and "Traceback" not in result.stderr


def test_second_run_decodes_only_what_changed(tmp_path, scan):
    root = tmp_path / "archive"
    build_sample_archive(root, seed=5, photos=4, scale=0.4)
    first = scan(root).record
    assert first["scan"]["decoded"] > 10
    second = scan(root).record
    assert second["scan"]["decoded"] == 0
    assert (
        second["scan"]["cached_by_path"]
        == first["scan"]["files_seen"] - first["scan"]["skipped_early"]
    )

    changed = root / "Camera/IMG_0001.jpg"
    changed.write_bytes(jpeg_bytes(photo(99, 640, 480)))
    third = scan(root)
    assert third.record["scan"]["decoded"] == 1
    row = next(r for r in third.rows if r["path"] == "Camera/IMG_0001.jpg")
    assert row["sha256"] == hashlib.sha256(changed.read_bytes()).hexdigest()
    assert (row["width"], row["height"]) == ("640", "480")


def test_renamed_file_reuses_results_by_content(tmp_path, scan):
    root = tmp_path / "archive"
    build_sample_archive(root, seed=6, photos=3, scale=0.4)
    scan(root)
    (root / "Camera/IMG_0002.jpg").rename(root / "Camera/renamed.jpg")
    shutil.copy(root / "Camera/IMG_0000.jpg", root / "copy of IMG_0000.jpg")
    record = scan(root).record
    assert record["scan"]["decoded"] == 0
    assert record["scan"]["cached_by_content"] == 2


def test_kill_9_mid_scan_then_rerun_completes(tmp_path):
    root = tmp_path / "archive"
    for i in range(60):
        (root / f"d{i % 3}").mkdir(parents=True, exist_ok=True)
        (root / f"d{i % 3}" / f"p{i:03d}.jpg").write_bytes(jpeg_bytes(photo(i, 1600, 1200)))
    catalog = tmp_path / "catalog.sqlite"
    command = [
        sys.executable,
        "-m",
        "hygiene",
        "scan",
        str(root),
        "--out",
        str(tmp_path / "killed"),
        "--catalog",
        str(catalog),
        "--workers",
        "1",
        "--quiet",
    ]
    process = subprocess.Popen(command, start_new_session=True, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    done = 0
    while time.monotonic() < deadline and done < 5:
        time.sleep(0.05)
        if catalog.exists():
            try:
                with sqlite3.connect(catalog, timeout=1) as conn:
                    done = conn.execute("SELECT count(*) FROM contents").fetchone()[0]
            except sqlite3.Error:
                pass
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert 5 <= done < 60, "the scan was not caught in the middle"

    result = run_hygiene("scan", root, "--out", tmp_path / "again", "--catalog", catalog, "--quiet")
    assert result.returncode == 0, result.stderr
    rows = pd.read_csv(tmp_path / "again" / "images.csv")
    assert len(rows) == 60 and (rows["status"] == "ok").all()
    record = json.loads((tmp_path / "again" / "run.json").read_text())
    assert record["scan"]["decoded"] <= 60 - done  # files finished before the kill are not redone
    with sqlite3.connect(catalog) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_two_scans_at_once_share_a_catalog_safely(tmp_path):
    root = tmp_path / "archive"
    build_sample_archive(root, seed=8, photos=6, scale=0.4)
    catalog = tmp_path / "catalog.sqlite"
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hygiene",
                "scan",
                str(root),
                "--out",
                str(tmp_path / f"r{i}"),
                "--catalog",
                str(catalog),
                "--workers",
                "1",
                "--quiet",
            ],
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    for process in processes:
        _, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr
    first = pd.read_csv(tmp_path / "r0" / "images.csv", keep_default_na=False)
    second = pd.read_csv(tmp_path / "r1" / "images.csv", keep_default_na=False)
    pd.testing.assert_frame_equal(first, second)
    with sqlite3.connect(catalog) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_pixel_cap_comes_from_the_config(tmp_path, scan):
    root = tmp_path / "archive"
    root.mkdir()
    (root / "big.jpg").write_bytes(jpeg_bytes(photo(1, 1200, 900)))
    config = tmp_path / "hygiene.toml"
    config.write_text("[scan]\nmax_pixels = 1_000_000\n")
    row = scan(root, "--config", config).rows[0]
    assert row["status"] == "unverified"
    assert row["error"] == (
        "not checked: 1200x900 = 1.1 MP exceeds the 1.0 MP pixel cap "
        "(raise scan.max_pixels to check it)"
    )


def test_threshold_change_changes_flags_without_decoding(tmp_path, scan):
    root = tmp_path / "archive"
    build_sample_archive(root, seed=9, photos=5, scale=0.4)
    scan(root)
    config = tmp_path / "hygiene.toml"
    config.write_text("[quality]\nblurry_blur_min = 0.0\n")
    run = scan(root, "--config", config)
    assert run.record["scan"]["decoded"] == 0
    assert all(row["blurry"] == "true" for row in run.rows if row["status"] == "ok")


def test_demo_generates_and_scans(tmp_path):
    result = run_hygiene("demo", tmp_path / "demo", "--workers", "2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "corrupt" in result.stdout and "images.csv" in result.stdout
    (run_folder,) = (tmp_path / "reports").iterdir()
    assert (run_folder / "images.csv").is_file() and (run_folder / "images.parquet").is_file()


def test_a_catalog_in_a_folder_named_with_a_hash_sign_finds_the_same_duplicates(
    sample_archive, scan, tmp_path
):
    """Workers open the catalog read-only by URI; a '#' or '?' in its path once ended the path
    there, so they read another, empty database and confirmed almost no duplicates."""
    plain = scan(sample_archive.root, catalog=tmp_path / "plain" / "c.sqlite")
    odd_folder = tmp_path / "photos #2 ?"
    odd = scan(sample_archive.root, catalog=odd_folder / "c.sqlite")
    duplicates = (plain.out / "duplicates.csv").read_text(encoding="utf-8")
    assert duplicates.count("\n") > 5
    assert (odd.out / "duplicates.csv").read_text(encoding="utf-8") == duplicates
    assert sorted(path.name for path in tmp_path.iterdir() if path.name.startswith("photos")) == [
        odd_folder.name
    ]


@pytest.mark.parametrize(
    "command",
    [
        ("scan", "{name}", "--no-clip"),
        ("apply", "{name}"),
        ("report", "{name}"),
        ("serve", "{name}"),
        ("config", "show", "--config", "{name}"),
        ("search", "a cat", "--run", "{name}"),
    ],
)
def test_a_name_too_long_for_the_system_is_a_one_line_error(tmp_path, command):
    """A path over 255 bytes raises from a mere existence check; each command says so in one
    line, like any other bad path, instead of a traceback."""
    name = str(tmp_path / ("x" * 300))
    result = run_hygiene(*(part.format(name=name) for part in command))
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error:"), result.stderr
