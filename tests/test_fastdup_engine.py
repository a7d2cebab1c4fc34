"""The optional fastdup engine, run from its own environment (see README: .venv-fastdup)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from hygiene.demo import samples
from hygiene.duplicates.fastdup_engine import FastdupUnavailable, fastdup_python
from tests.conftest import run_hygiene

try:
    FASTDUP_PYTHON = fastdup_python("")
except FastdupUnavailable:
    FASTDUP_PYTHON = None

needs_fastdup = pytest.mark.skipif(
    FASTDUP_PYTHON is None,
    reason="no fastdup environment (.venv-fastdup or $HYGIENE_FASTDUP_PYTHON)",
)


def make_archive(root):
    image = samples.photo(11, 1024, 768)
    files = {
        "original.jpg": samples.jpeg_bytes(image, 92),
        "resized.jpg": samples.jpeg_bytes(image.resize((512, 384)), 85),
        "recompressed.jpg": samples.jpeg_bytes(image, 40),
        "other.jpg": samples.jpeg_bytes(samples.photo(12, 1024, 768), 92),
        "document.jpg": samples.jpeg_bytes(samples.document(13), 90),
    }
    for name, data in files.items():
        (root / name).write_bytes(data)


@needs_fastdup
def test_fastdup_candidates_are_confirmed_into_groups(tmp_path, scan):
    root = tmp_path / "archive"
    root.mkdir()
    make_archive(root)
    rows = {row["path"]: row for row in scan(root, "--dup-engine", "fastdup").rows}
    group = rows["original.jpg"]["dup_group"]
    assert group and rows["resized.jpg"]["dup_group"] == group
    assert rows["recompressed.jpg"]["dup_group"] == group
    assert rows["other.jpg"]["dup_group"] == "" and rows["document.jpg"]["dup_group"] == ""
    assert rows["original.jpg"]["keeper"] == "true"


@needs_fastdup
def test_names_fastdup_cannot_carry_still_get_exact_duplicates(tmp_path, scan):
    """A name that is not UTF-8 or holds a line break is kept out of fastdup's file list
    (it would break it) and still joins its exact duplicate."""
    root = tmp_path / "archive"
    root.mkdir()
    make_archive(root)
    data = (root / "original.jpg").read_bytes()
    (root / os.fsdecode(b"caf\xe9 copy.jpg")).write_bytes(data)
    (root / "line\nbreak.jpg").write_bytes(data)
    rows = {row["path"]: row for row in scan(root, "--dup-engine", "fastdup").rows}
    group = rows["original.jpg"]["dup_group"]
    assert rows["caf\\xe9 copy.jpg"]["dup_group"] == group
    assert rows["caf\\xe9 copy.jpg"]["dup_kind"] == "exact"
    assert rows["line\nbreak.jpg"]["dup_group"] == group


@needs_fastdup
@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed")
def test_fastdup_run_makes_no_network_connection(tmp_path):
    """Without any sandbox: telemetry and the version check must be off by themselves."""
    root = tmp_path / "archive"
    root.mkdir()
    make_archive(root)
    file_list = tmp_path / "files.txt"
    file_list.write_text("".join(f"{p}\n" for p in sorted(root.iterdir())))
    trace = tmp_path / "strace.log"
    runner = __import__("hygiene.duplicates.fastdup_engine", fromlist=["_RUNNER"])._RUNNER
    result = subprocess.run(
        [
            "strace",
            "-f",
            "-qq",
            "-e",
            "trace=connect,sendto,sendmsg",
            "-o",
            str(trace),
            str(FASTDUP_PYTHON),
            str(runner),
            str(file_list),
            str(tmp_path / "work"),
            str(tmp_path / "out.json"),
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "out.json").is_file()
    network_calls = [
        line for line in trace.read_text().splitlines() if re.search(r"AF_INET6?|sin6?_port", line)
    ]
    assert not network_calls


def test_missing_fastdup_environment_is_a_one_line_error(tmp_path):
    root = tmp_path / "archive"
    root.mkdir()
    make_archive(root)
    config = tmp_path / "c.toml"
    config.write_text('[duplicates]\nfastdup_python = "/nonexistent/python"\n')
    result = run_hygiene(
        "scan",
        root,
        "--out",
        tmp_path / "out",
        "--catalog",
        tmp_path / "c.sqlite",
        "--quiet",
        "--config",
        config,
        "--dup-engine",
        "fastdup",
        env_extra={"HYGIENE_FASTDUP_PYTHON": "/nonexistent/python"},
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "fastdup" in result.stderr and "Traceback" not in result.stderr
