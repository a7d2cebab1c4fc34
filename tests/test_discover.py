"""Discovery: order, what is skipped, symlinks, and unreadable places."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hygiene.demo import samples
from hygiene.scan.discover import count_files, iter_files


def walk(root: Path) -> list:
    return list(iter_files(root, exclude=("Backups/**",), quarantine_dir="_quarantine"))


def make_tree(root: Path) -> None:
    for rel in [
        "b/2.jpg",
        "b/1.jpg",
        "a.jpg",
        "c/d/e.jpg",
        ".hidden/x.jpg",
        "_quarantine/q.jpg",
        "Backups/old/z.jpg",
        "B.jpg",
    ]:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")


def test_order_is_deterministic_depth_first_by_name(tmp_path):
    make_tree(tmp_path)
    paths = [entry.rel_path for entry in walk(tmp_path)]
    assert paths == ["B.jpg", "a.jpg", "b/1.jpg", "b/2.jpg", "c/d/e.jpg"]


def test_symlink_loops_and_links_out_of_root_are_not_followed(tmp_path):
    root = tmp_path / "root"
    make_tree(root)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.jpg").write_bytes(b"x")
    (root / "c" / "loop").symlink_to(root)
    (root / "out").symlink_to(outside)
    (root / "link.jpg").symlink_to(outside / "secret.jpg")
    entries = {entry.rel_path: entry for entry in walk(root)}
    assert entries["c/loop"].skip_reason == "symbolic link (not followed)"
    assert entries["out"].skip_reason == "symbolic link (not followed)"
    assert entries["link.jpg"].skip_reason == "symbolic link (not followed)"
    assert not any("secret" in path for path in entries)


def test_the_progress_count_is_the_number_of_entries_the_walk_yields(tmp_path):
    """count_files skips the stat calls, so links, special files and hidden files must still
    count as the walk reports them."""
    root = tmp_path / "root"
    make_tree(root)
    (root / "c" / "loop").symlink_to(root)
    (root / "link.jpg").symlink_to(root / "a.jpg")
    os.mkfifo(root / "pipe.jpg")
    (root / ".hidden.jpg").write_bytes(b"x")
    counted = count_files(root, exclude=("Backups/**",), quarantine_dir="_quarantine")
    assert counted == len(walk(root)) == 9


def test_special_files_are_skipped_not_opened(tmp_path):
    os.mkfifo(tmp_path / "pipe.jpg")
    (entry,) = walk(tmp_path)
    assert entry.skip_reason == "not a regular file"


def _without_root_privileges() -> list[str]:
    """A command prefix under which permission bits apply even when the tests run as root."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: permissions cannot be denied")
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]


def test_permission_denied_is_reported_and_the_scan_goes_on(tmp_path):
    root = tmp_path / "archive"
    (root / "locked_dir").mkdir(parents=True)
    (root / "locked_dir" / "inside.jpg").write_bytes(samples.jpeg_bytes(samples.photo(1, 64, 48)))
    (root / "locked.jpg").write_bytes(samples.jpeg_bytes(samples.photo(2, 64, 48)))
    (root / "open.jpg").write_bytes(samples.jpeg_bytes(samples.photo(3, 64, 48)))
    out = tmp_path / "out"
    os.chmod(root / "locked_dir", 0)
    os.chmod(root / "locked.jpg", 0)
    try:
        result = subprocess.run(
            [
                *_without_root_privileges(),
                sys.executable,
                "-m",
                "hygiene",
                "scan",
                str(root),
                "--out",
                str(out),
                "--catalog",
                str(tmp_path / "c.sqlite"),
                "--quiet",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        os.chmod(root / "locked_dir", 0o755)
        os.chmod(root / "locked.jpg", 0o644)
    assert result.returncode == 0, result.stderr
    import csv

    rows = {row["path"]: row for row in csv.DictReader((out / "images.csv").open())}
    assert rows["locked_dir/"]["status"] == "skipped"
    assert "permission denied" in rows["locked_dir/"]["error"]
    assert rows["locked.jpg"]["status"] == "skipped"
    assert "permission denied" in rows["locked.jpg"]["error"]
    assert rows["open.jpg"]["status"] == "ok"
