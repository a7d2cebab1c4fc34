"""Files that could not be checked are `unverified`, never `corrupt`: reported, counted, kept out of
duplicates, categories and the plan, never cached, and tried again on the next run."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import sqlite3
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hygiene import catalog
from hygiene.config import load_config
from hygiene.demo.samples import encoded, jpeg_bytes, photo
from hygiene.plan.decisions import Fingerprint, PlanInput, Policy, build_plan
from hygiene.records import FileEntry
from hygiene.scan import stage as scan_stage
from hygiene.scan.measure import scan_file
from tests.conftest import run_hygiene


def plan_sources(run) -> set[str]:
    plan = json.loads((run.out / "plan.json").read_text())
    return {action["source"] for action in plan["actions"]}


def content_rows(catalog_path: Path, sha256: str) -> int:
    with sqlite3.connect(catalog_path) as conn:
        return conn.execute("SELECT count(*) FROM contents WHERE sha256 = ?", (sha256,)).fetchone()[
            0
        ]


def test_image_over_the_pixel_cap_is_unverified_and_tried_again(tmp_path, scan):
    root = tmp_path / "archive"
    root.mkdir()
    big = encoded(photo(1, 1100, 1000), "PNG")  # 1.1 MP, just over the smallest allowed cap
    (root / "big.png").write_bytes(big)
    (root / "copy of big.png").write_bytes(big)
    (root / "small.jpg").write_bytes(jpeg_bytes(photo(2, 640, 480)))
    capped = tmp_path / "capped.toml"
    capped.write_text("[scan]\nmax_pixels = 1_000_000\n")
    catalog_path = tmp_path / "catalog.sqlite"

    first = scan(root, "--config", capped, catalog=catalog_path)
    rows = {row["path"]: row for row in first.rows}
    for name in ("big.png", "copy of big.png"):
        row = rows[name]
        assert row["status"] == "unverified"
        assert row["error"] == (
            "not checked: 1100x1000 = 1.1 MP exceeds the 1.0 MP pixel cap "
            "(raise scan.max_pixels to check it)"
        )
        assert row["sha256"] == hashlib.sha256(big).hexdigest()
        assert row["dup_group"] == "" and row["category"] == "" and row["action"] == "keep"
    assert rows["small.jpg"]["status"] == "ok"
    assert not plan_sources(first) & {"big.png", "copy of big.png"}
    assert first.record["by_status"] == {
        "ok": 1,
        "damaged": 0,
        "corrupt": 0,
        "unverified": 2,
        "skipped": 0,
    }
    assert first.record["scan"]["unverified"] == 2
    assert content_rows(catalog_path, hashlib.sha256(big).hexdigest()) == 0  # never cached

    second = scan(root, "--config", capped, catalog=catalog_path)
    assert second.record["scan"]["cached_by_path"] == 1  # only small.jpg
    assert second.record["scan"]["unverified"] == 2  # both tried again, by path and by content
    assert {r["path"]: r["status"] for r in second.rows}["big.png"] == "unverified"

    raised = tmp_path / "raised.toml"
    raised.write_text("[scan]\nmax_pixels = 2_000_000\n")
    third = {row["path"]: row for row in scan(root, "--config", raised, catalog=catalog_path).rows}
    assert third["big.png"]["status"] == "ok" and third["big.png"]["width"] == "1100"
    assert third["copy of big.png"]["dup_group"] == third["big.png"]["dup_group"] != ""


def test_summary_table_counts_unverified_files(tmp_path):
    root = tmp_path / "archive"
    root.mkdir()
    (root / "big.png").write_bytes(encoded(photo(1, 1100, 1000), "PNG"))
    capped = tmp_path / "capped.toml"
    capped.write_text("[scan]\nmax_pixels = 1_000_000\n")
    result = run_hygiene(
        "scan",
        root,
        "--out",
        tmp_path / "out",
        "--catalog",
        tmp_path / "c.sqlite",
        "--no-clip",
        "--config",
        capped,
    )
    assert result.returncode == 0, result.stderr
    table_row = next(line for line in result.stdout.splitlines() if " unverified " in line)
    assert table_row.split("│")[2].strip() == "1"
    assert "unverified: 1 file not checked" in result.stdout


def test_file_over_the_size_cap_is_unverified_and_tried_again(tmp_path, scan):
    root = tmp_path / "archive"
    root.mkdir()
    noise = np.random.default_rng(3).integers(0, 256, (720, 720, 3), dtype=np.uint8)
    data = encoded(Image.fromarray(noise), "PNG")
    assert 1.4 * 2**20 < len(data) < 2 * 2**20
    (root / "noise.png").write_bytes(data)
    capped = tmp_path / "capped.toml"
    capped.write_text("[scan]\nmax_file_mb = 1\n")
    catalog_path = tmp_path / "catalog.sqlite"

    first = scan(root, "--config", capped, catalog=catalog_path)
    (row,) = first.rows
    assert row["status"] == "unverified"
    assert row["error"] == (
        f"not checked: {len(data) / 2**20:.1f} MiB exceeds the 1 MiB file size cap "
        "(raise scan.max_file_mb to check it)"
    )
    assert row["sha256"] == hashlib.sha256(data).hexdigest()
    assert plan_sources(first) == set()
    assert first.record["by_status"]["unverified"] == 1
    assert first.record["bytes_by_status"]["unverified"] == len(data)
    assert content_rows(catalog_path, row["sha256"]) == 0

    second = scan(root, "--config", capped, catalog=catalog_path)
    assert second.record["scan"]["cached_by_path"] == 0
    assert second.record["scan"]["unverified"] == 1

    raised = tmp_path / "raised.toml"
    raised.write_text("[scan]\nmax_file_mb = 2\n")
    (row,) = scan(root, "--config", raised, catalog=catalog_path).rows
    assert row["status"] == "ok"


def hang_or_crash(entry: FileEntry):
    """Runs in the scan's worker processes in place of scan_file."""
    if entry.rel_path == "slow.png":
        time.sleep(3600)
    if entry.rel_path == "crash.png":
        os.kill(os.getpid(), signal.SIGSEGV)
    return scan_file(entry)


class _NoProgress:
    def start(self, total_files: int) -> None:
        pass

    def advance(self, files: int = 1) -> None:
        pass


def test_timed_out_and_crashed_files_are_unverified_and_tried_again(tmp_path, monkeypatch):
    root = tmp_path / "archive"
    root.mkdir()
    for name, seed in (("slow.png", 1), ("crash.png", 2), ("fine.png", 3)):
        (root / name).write_bytes(encoded(photo(seed, 320, 240), "PNG"))
    config_file = tmp_path / "hygiene.toml"
    config_file.write_text("[scan]\nfile_timeout_s = 3\n")  # leaves a slow machine time to start
    config = load_config(config_file)
    catalog_path = tmp_path / "catalog.sqlite"
    conn = catalog.open_catalog(catalog_path)

    def run(run_id: str) -> tuple[scan_stage.ScanStats, dict[str, tuple[str, str | None]]]:
        stats = scan_stage.run_scan(
            root, config, conn, run_id, catalog_path, _NoProgress(), workers=2
        )
        table = catalog.read_run_table(conn, run_id)
        rows = dict(zip(table.rel_path, zip(table.status, table.error, strict=True), strict=True))
        return stats, rows

    monkeypatch.setattr(scan_stage, "scan_file", hang_or_crash)
    stats, rows = run("first")
    assert rows["slow.png"] == (
        "unverified",
        "not checked: decoding timed out after 3 s (raise scan.file_timeout_s to check it)",
    )
    assert rows["crash.png"] == ("unverified", "not checked: decoder process crashed (SIGSEGV)")
    assert rows["fine.png"] == ("ok", None)
    assert (stats.unverified, stats.worker_failures, stats.decoded) == (2, 2, 1)

    monkeypatch.undo()  # the next run decodes them for real
    stats, rows = run("second")
    assert stats.cached_by_path == 1 and stats.decoded == 2 and stats.unverified == 0
    assert {status for status, _ in rows.values()} == {"ok"}
    conn.close()


def test_worker_failure_is_stored_as_unverified_and_never_cached(tmp_path):
    conn = catalog.open_catalog(tmp_path / "catalog.sqlite")
    root_key = catalog.root_id(conn, tmp_path)
    entry = FileEntry("hang.jpg", 1234, 5678)
    stats = scan_stage.ScanStats()
    failure = scan_stage.WorkerFailure("timeout", "timed out after 60 s")
    scan_stage.store_result(conn, root_key, entry, "key", failure, stats)
    row = conn.execute("SELECT status, error FROM files WHERE rel_path = 'hang.jpg'").fetchone()
    assert row == (
        "unverified",
        "not checked: decoding timed out after 60 s (raise scan.file_timeout_s to check it)",
    )
    assert (stats.unverified, stats.worker_failures) == (1, 1)
    assert catalog.unchanged_paths(conn, root_key, [entry], "key") == set()
    scan_stage.store_result(
        conn, root_key, entry, "key", scan_stage.FileVerdict("corrupt", "x"), stats
    )
    # a real verdict is kept, for this size and mtime only
    assert catalog.unchanged_paths(conn, root_key, [entry], "key") == {"hang.jpg"}
    touched = FileEntry("hang.jpg", 1234, 5679)
    assert catalog.unchanged_paths(conn, root_key, [touched], "key") == set()
    assert catalog.unchanged_paths(conn, root_key, [entry], "other key") == set()
    conn.close()


@pytest.mark.parametrize("quarantine_corrupt", [True, False])
def test_the_plan_never_acts_on_an_unverified_file(quarantine_corrupt):
    policy = Policy(quarantine_corrupt=quarantine_corrupt, sort_into="Sorted")
    item = PlanInput("huge.tif", "unverified", Fingerprint(10, 20, "ab" * 32), category="Food")
    plan = build_plan([item], policy, root="/archive", created_at="now", settings_hash="h")
    assert plan.actions == ()


def test_a_copied_archive_is_checked_again_not_taken_from_the_cache(tmp_path, scan):
    """A copied archive (other mtimes) is still unverified, not taken from the cache."""
    root = tmp_path / "archive"
    root.mkdir()
    (root / "big.png").write_bytes(encoded(photo(1, 1100, 1000), "PNG"))
    capped = tmp_path / "capped.toml"
    capped.write_text("[scan]\nmax_pixels = 1_000_000\n")
    scan(root, "--config", capped)
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    run = scan(copy, "--config", capped)
    assert run.rows[0]["status"] == "unverified"
    assert run.record["scan"]["cached_by_content"] == 0
