"""hygiene as a library: pipeline.run gives the same outputs as `hygiene scan`, and DataFrames."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pandas as pd
import pytest

from hygiene.config import Config
from hygiene.demo.samples import build_sample_archive, iter_expected
from hygiene.outputs.runs import RunFolderError
from hygiene.pipeline import run
from tests.conftest import run_hygiene


@pytest.fixture(scope="module")
def library_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("library")
    root = base / "archive"
    files = build_sample_archive(root, seed=5, photos=4, scale=0.4)
    result = run(
        root, Config(), out=base / "run", catalog_path=base / "catalog.sqlite", categorize=False
    )
    return files, result


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_images_frame_has_one_row_per_file_with_its_status(library_run):
    files, result = library_run
    expected = list(iter_expected(files))
    images = result.images()
    assert isinstance(images, pd.DataFrame)
    assert sorted(images["path"]) == sorted(f.rel_path for f in expected)
    by_path = images.set_index("path")["status"].to_dict()
    for sample in expected:
        assert by_path[sample.rel_path] == sample.status, sample.rel_path


def test_duplicate_and_similar_frames_match_the_csv_files(library_run):
    _, result = library_run
    duplicates = result.duplicates()
    on_disk = _csv(result.folder / "duplicates.csv")
    assert len(duplicates) == len(on_disk) > 0
    assert list(duplicates.columns) == list(on_disk[0])
    assert duplicates["keeper"].dtype == bool
    assert (duplicates.groupby("group")["keeper"].sum() == 1).all()
    assert sorted(duplicates["path"]) == sorted(row["path"] for row in on_disk)
    similar = result.similar()
    assert list(similar.columns) == ["cluster", "path", "taken_at"]
    assert len(similar) == len(_csv(result.folder / "similar.csv"))


def test_a_run_without_categorization_says_so(library_run):
    _, result = library_run
    assert result.category_report is None
    assert result.clip_status == "--no-clip was given"
    assert result.categories().empty
    assert (result.folder / "index.html").is_file()
    assert result.summary.files == result.stats.files_seen == len(result.images())
    assert result.plan.actions  # the sample archive has duplicates and corrupt files to act on


def test_run_refuses_an_output_folder_holding_other_files(tmp_path):
    root = tmp_path / "archive"
    build_sample_archive(root, seed=6, photos=2, scale=0.3)
    occupied = tmp_path / "mine"
    occupied.mkdir()
    (occupied / "holiday.jpg").write_bytes(b"not hygiene's")
    with pytest.raises(RunFolderError):
        run(root, Config(), out=occupied, catalog_path=tmp_path / "c.sqlite", categorize=False)
    assert [p.name for p in occupied.iterdir()] == ["holiday.jpg"]


def _chunk_rows(run_folder: Path) -> dict[str, dict]:
    text = (run_folder / "data" / "images-0.js").read_text(encoding="utf-8")
    payload = text[text.index(".concat([") + len(".concat([") : text.rindex("]);")]
    return {row["path"]: row for row in json.loads(payload)}


def test_a_rewritten_report_keeps_the_mtimes_of_its_own_run(tmp_path):
    """The report fingerprints files with the run's mtimes (images.csv), not with what a later
    scan put in the catalog: an edited plan from an old report must not vouch for a changed file."""
    root = tmp_path / "archive"
    build_sample_archive(root, seed=8, photos=2, scale=0.3)
    catalog_path = tmp_path / "c.sqlite"
    first = run(root, Config(), out=tmp_path / "one", catalog_path=catalog_path, categorize=False)
    images = first.images().set_index("path")
    path = next(p for p in images.index if images.loc[p, "status"] == "ok")
    then = int(images.loc[path, "mtime_ns"])
    assert then == (root / path).stat().st_mtime_ns
    os.utime(root / path, ns=(then + 10**9, then + 10**9))
    run(root, Config(), out=tmp_path / "two", catalog_path=catalog_path, categorize=False)
    assert run_hygiene("report", first.folder, "--catalog", catalog_path).returncode == 0
    assert int(_chunk_rows(first.folder)[path]["mtime_ns"]) == then


def test_the_report_from_the_run_equals_the_report_rendered_again_from_its_folder(
    library_run, tmp_path
):
    """pipeline.run writes the report from the run's data in memory; `hygiene report` builds
    the same record from the run folder's files: the page's data must not differ."""
    _, result = library_run
    written = {p.name: p.read_bytes() for p in (result.folder / "data").iterdir()}
    again = tmp_path / "again"
    again.mkdir()
    for name in ("run.json", "images.csv", "duplicates.csv", "similar.csv", "plan.json"):
        (again / name).write_bytes((result.folder / name).read_bytes())
    rendered = run_hygiene("report", again, "--catalog", result.catalog_path)
    assert rendered.returncode == 0, rendered.stderr
    assert {p.name: p.read_bytes() for p in (again / "data").iterdir()} == written
    assert sorted(p.name for p in (again / "thumbs").iterdir()) == sorted(
        p.name for p in (result.folder / "thumbs").iterdir()
    )


class _Recorder:
    """A RunProgress that keeps what each stage reported."""

    def __init__(self) -> None:
        self.files: list[int] = []
        self.pairs: list[tuple[int, int]] = []

    def start(self, total_files: int) -> None:
        self.total_files = total_files

    def advance(self, files: int = 1) -> None:
        self.files.append(files)

    def comparing(self, done: int, total: int) -> None:
        self.pairs.append((done, total))

    def categorizing(self):
        return lambda images: None

    def categorized(self, images: int | None) -> None:
        pass


def test_each_stage_reports_its_own_progress(tmp_path):
    """The scan counts files; the duplicate stage counts the candidate pairs it confirms, from
    0 to all of them, so a progress bar shows where a long run spends its time."""
    root = tmp_path / "archive"
    build_sample_archive(root, seed=3, photos=3, scale=0.3)
    recorder = _Recorder()
    result = run(
        root,
        Config(),
        out=tmp_path / "run",
        catalog_path=tmp_path / "c.sqlite",
        categorize=False,
        progress=recorder,
    )
    assert sum(recorder.files) == recorder.total_files == result.summary.files
    total = recorder.pairs[-1][1]
    assert total > 0 and recorder.pairs[0] == (0, total) and recorder.pairs[-1] == (total, total)
    assert [done for done, _ in recorder.pairs] == sorted(done for done, _ in recorder.pairs)


def test_a_later_run_links_the_thumbnails_an_earlier_run_beside_it_wrote(tmp_path, scan):
    root = tmp_path / "archive"
    build_sample_archive(root, seed=5, photos=3, scale=0.3)
    first = scan(root).out / "thumbs"
    names = sorted(p.name for p in first.iterdir())
    changed, linked_elsewhere = first / names[0], first / names[1]
    changed.write_bytes(b"not the thumbnail any more")
    outside = tmp_path / "outside.webp"
    outside.write_bytes(linked_elsewhere.read_bytes())
    linked_elsewhere.unlink()
    linked_elsewhere.symlink_to(outside)

    second = scan(root).out / "thumbs"

    assert sorted(p.name for p in second.iterdir()) == names
    for name in names[2:]:  # the same file, not a copy
        assert (second / name).stat().st_ino == (first / name).stat().st_ino
    # an earlier file of another size (cut short, replaced) or a link is not taken: the
    # catalog's bytes are written
    for name in names[:2]:
        written = second / name
        assert not written.is_symlink() and written.stat().st_nlink == 1
        assert written.read_bytes() != b"not the thumbnail any more"
        assert written.read_bytes()[:4] == b"RIFF"


def test_tables_written_a_few_rows_at_a_time_are_the_tables_written_at_once(tmp_path, monkeypatch):
    """images.csv / .parquet and the report's rows are built in chunks to bound memory; the
    chunk size must change nothing in them."""
    from hygiene.outputs import tables

    root = tmp_path / "archive"
    build_sample_archive(root, seed=6, photos=3, scale=0.3)
    catalog = tmp_path / "catalog.sqlite"
    folders = {}
    for rows in (1_000_000, 3):
        monkeypatch.setattr(tables, "_CHUNK_ROWS", rows)
        folders[rows] = run(
            root, Config(), out=tmp_path / f"run{rows}", catalog_path=catalog, categorize=False
        ).folder
    whole, pieces = folders[1_000_000], folders[3]
    assert len(_csv(pieces / "images.csv")) > 3 * 3
    assert (pieces / "images.csv").read_bytes() == (whole / "images.csv").read_bytes()
    assert pd.read_parquet(pieces / "images.parquet").equals(
        pd.read_parquet(whole / "images.parquet")
    )
    rows = sorted((pieces / "data").glob("images-*.js"))  # meta.js names the run and its times
    assert rows and [p.read_bytes() for p in rows] == [
        (whole / "data" / p.name).read_bytes() for p in rows
    ]


def test_a_rerun_over_the_same_photos_reuses_the_candidate_search(tmp_path, monkeypatch):
    """The hash search's candidate pairs are kept in the catalog under a digest of what the
    search reads: the same photos and settings skip it with the same outcome; another photo or
    setting searches again."""
    import dataclasses

    from hygiene.demo import samples
    from hygiene.duplicates import stage

    root = tmp_path / "archive"
    build_sample_archive(root, seed=3, photos=3, scale=0.3)
    searches: list[int] = []

    def counted(*args, **kwargs):
        searches.append(1)
        return candidate_pairs(*args, **kwargs)

    candidate_pairs = stage.candidate_pairs
    monkeypatch.setattr(stage, "candidate_pairs", counted)

    def once(name: str, config: Config) -> Path:
        result = run(
            root, config, out=tmp_path / name, catalog_path=tmp_path / "c.sqlite", categorize=False
        )
        return result.folder

    first = once("first", Config())
    second = once("second", Config())
    assert len(searches) == 1
    for name in ("duplicates.csv", "similar.csv"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    assert _csv(first / "duplicates.csv")  # the sample archive has duplicates to find

    (root / "new.jpg").write_bytes(samples.jpeg_bytes(samples.photo(99, 320, 240)))
    once("third", Config())
    assert len(searches) == 2

    defaults = Config()
    narrower = dataclasses.replace(
        defaults, duplicates=dataclasses.replace(defaults.duplicates, crop_max_distance=10)
    )
    once("fourth", narrower)
    assert len(searches) == 3
