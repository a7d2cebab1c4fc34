"""File names of any bytes (not UTF-8, backslashes, newlines) work end to end.

Linux allows any bytes but NUL and "/" in a name; Python gives the ones that are not UTF-8 as
lone surrogates. Every output carries a name in its text form (hygiene.paths.to_text), and the
plan takes it back to the exact bytes.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pandas as pd
import pytest

from hygiene.demo.samples import jpeg_bytes, photo
from hygiene.paths import to_text
from tests.conftest import run_hygiene

LATIN1 = b"caf\xe9.jpg"
BACKSLASH = b"back\\slash.jpg"
NEWLINE = b"new\nline.jpg"
KEEPER = b"a keeper.jpg"
COPY = b"z\xff\xfe copy.jpg"  # an exact copy of KEEPER whose name is not UTF-8
IN_FOLDER = b"Urlaub \xe4\xf6/IMG_1.jpg"  # a folder whose name is not UTF-8
NAMES = (LATIN1, BACKSLASH, NEWLINE, KEEPER, COPY, IN_FOLDER)


def text(raw: bytes) -> str:
    return to_text(os.fsdecode(raw))


def build_archive(root: Path) -> dict[bytes, bytes]:
    """Write the archive by bytes (not through str) and return name -> content."""
    contents = {
        LATIN1: jpeg_bytes(photo(11, 320, 240)),
        BACKSLASH: jpeg_bytes(photo(12, 320, 240)),
        NEWLINE: jpeg_bytes(photo(13, 320, 240)),
        KEEPER: jpeg_bytes(photo(14, 320, 240)),
        IN_FOLDER: jpeg_bytes(photo(15, 320, 240)),
    }
    contents[COPY] = contents[KEEPER]
    base = os.fsencode(root)
    for name, data in contents.items():
        path = base + b"/" + name
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(data)
    return contents


def tree_bytes(root: Path) -> dict[bytes, bytes]:
    """Every file under root by its name as bytes, quarantine included."""
    found = {}
    base = os.fsencode(root)
    for folder, _, files in os.walk(base):
        for name in files:
            path = os.path.join(folder, name)
            with open(path, "rb") as handle:
                found[os.path.relpath(path, base)] = handle.read()
    return found


def script_data(path: Path) -> list[dict]:
    """The JSON inside one of the report's data/*.js chunks."""
    body = path.read_text(encoding="utf-8")
    start = body.index(".concat([") + len(".concat([")
    end = body.rindex("]);")
    return json.loads(body[start:end])


@pytest.fixture
def archive(tmp_path: Path) -> tuple[Path, dict[bytes, bytes]]:
    root = tmp_path / "archive"
    root.mkdir()
    return root, build_archive(root)


def scan(root: Path, out: Path, catalog: Path):
    process = run_hygiene(
        "scan", root, "--out", out, "--catalog", catalog, "--quiet", "--no-clip", timeout=240
    )
    assert "Traceback" not in process.stderr, process.stderr
    assert process.returncode == 0, process.stderr
    return process


def test_any_file_name_is_scanned_exported_and_reported(archive, tmp_path):
    root, contents = archive
    out, catalog = tmp_path / "run", tmp_path / "catalog.sqlite"
    scan(root, out, catalog)

    with (out / "images.csv").open(newline="", encoding="utf-8", errors="strict") as handle:
        rows = {row["path"]: row for row in csv.DictReader(handle)}
    assert set(rows) == {text(name) for name in NAMES}
    assert r"caf\xe9.jpg" in rows
    assert r"back\\slash.jpg" in rows
    assert "new\nline.jpg" in rows
    assert r"Urlaub \xe4\xf6/IMG_1.jpg" in rows
    assert {row["status"] for row in rows.values()} == {"ok"}
    copy, keeper = rows[text(COPY)], rows[text(KEEPER)]
    assert copy["dup_group"] == keeper["dup_group"] != ""
    assert (keeper["keeper"], copy["keeper"], copy["dup_kind"]) == ("true", "false", "exact")
    assert copy["action"] == "delete"  # the plan's action found under the internal name
    assert keeper["action"] == "keep"

    table = pd.read_parquet(out / "images.parquet")
    assert set(table["path"]) == set(rows)

    with (out / "duplicates.csv").open(newline="", encoding="utf-8") as handle:
        duplicates = list(csv.DictReader(handle))
    assert {row["path"] for row in duplicates} == {text(KEEPER), text(COPY)}

    plan = json.loads((out / "plan.json").read_bytes().decode("utf-8", errors="strict"))
    assert text(COPY) in {action["source"] for action in plan["actions"]}

    assert (out / "index.html").is_file()
    shown = [
        row for chunk in sorted((out / "data").glob("images-*.js")) for row in script_data(chunk)
    ]
    assert {row["path"] for row in shown} == set(rows)
    assert all(row["mtime_ns"] is not None for row in shown)  # the catalog lookup found them all
    assert (out / "data" / "meta.js").is_file()

    assert tree_bytes(root) == contents  # the scan is read-only


def test_a_second_scan_reuses_the_catalog_for_every_name(archive, tmp_path):
    root, _ = archive
    catalog = tmp_path / "catalog.sqlite"
    scan(root, tmp_path / "run1", catalog)
    scan(root, tmp_path / "run2", catalog)
    record = json.loads((tmp_path / "run2" / "run.json").read_text(encoding="utf-8"))
    assert record["scan"]["cached_by_path"] == len(NAMES)
    assert record["scan"]["decoded"] == 0


def test_report_rewrite_removes_only_its_own_data_files(archive, tmp_path):
    root, _ = archive
    out, catalog = tmp_path / "run", tmp_path / "catalog.sqlite"
    scan(root, out, catalog)
    data = out / "data"
    (data / "images-7.js").write_text("stale chunk", encoding="utf-8")
    (data / "notes.txt").write_text("mine", encoding="utf-8")
    (data / "images-x.js").write_text("not a chunk name", encoding="utf-8")
    (data / "keep").mkdir()

    process = run_hygiene("report", out, "--catalog", catalog)
    assert process.returncode == 0, process.stderr

    assert not (data / "images-7.js").exists()
    assert (data / "images-0.js").is_file() and (data / "meta.js").is_file()
    assert (data / "notes.txt").read_text(encoding="utf-8") == "mine"
    assert (data / "images-x.js").is_file()
    assert (data / "keep").is_dir()


def test_plan_apply_and_undo_keep_the_exact_bytes_of_a_name(archive, tmp_path):
    root, contents = archive
    out = tmp_path / "run"
    scan(root, out, tmp_path / "catalog.sqlite")

    applied = run_hygiene("apply", out, "--execute")
    assert "Traceback" not in applied.stderr, applied.stderr
    assert applied.returncode == 0, applied.stderr + applied.stdout
    after = tree_bytes(root)
    assert COPY not in after
    assert after[b".hygiene-quarantine/" + COPY] == contents[COPY]
    assert after[KEEPER] == contents[KEEPER]

    undone = run_hygiene("undo", out, "--execute")
    assert "Traceback" not in undone.stderr, undone.stderr
    assert undone.returncode == 0, undone.stderr + undone.stdout
    restored = tree_bytes(root)
    assert {name: data for name, data in restored.items() if not name.startswith(b".")} == contents
