"""Report scale check (by hand): a synthetic 100k-image run folder, its report written and opened
in headless Chromium. Prints the report's size, the largest file, write time and the time until
the overview and the first page of duplicate groups are on screen.

    .venv/bin/python bench/report_bench.py [--files 100000]
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hygiene import catalog
from hygiene.outputs import read_report_data, write_report
from hygiene.outputs.tables import DUPLICATES_COLUMNS, IMAGES_COLUMNS


def fake_run(folder: Path, count: int) -> None:
    """A run folder shaped like a real one: one file in five is a duplicate copy."""
    folder.mkdir(parents=True)
    actions, duplicates = [], []
    with (folder / "images.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, IMAGES_COLUMNS)
        writer.writeheader()
        for i in range(count):
            copy = i % 5 == 4
            sha = f"{i:064x}"
            writer.writerow(
                {
                    "path": f"Camera/{i // 1000:03d}/IMG_{i:06d}.jpg",
                    "status": "ok",
                    "error": "",
                    "size_bytes": 3_000_000,
                    "sha256": sha,
                    "width": 4000,
                    "height": 3000,
                    "format": "JPEG",
                    "taken_at": "2020-01-01T00:00:00",
                    "dup_group": i // 5 if copy else "",
                    "dup_kind": "near" if copy else "",
                    "keeper": "false" if copy else "",
                    "dark": "false",
                    "bright": "false",
                    "blurry": "false",
                    "brightness": 0.5,
                    "blur": 0.1,
                    "category": "",
                    "confidence": "",
                    "margin": "",
                    "uncertain": "",
                    "action": "delete" if copy else "keep",
                }
            )
            if copy:
                keeper = f"Camera/{i // 1000:03d}/IMG_{i - 1:06d}.jpg"
                duplicates.append(
                    [i // 5, "near", keeper, 0, "true", 3_000_000, "kept", "kept: ..."]
                )
                duplicates.append(
                    [
                        i // 5,
                        "near",
                        f"Camera/{i // 1000:03d}/IMG_{i:06d}.jpg",
                        2,
                        "false",
                        3_000_000,
                        "fewer pixels",
                        "kept: ...",
                    ]
                )
                fp = {"size_bytes": 3_000_000, "mtime_ns": 1, "sha256": sha}
                actions.append(
                    {
                        "id": len(actions) + 1,
                        "kind": "delete",
                        "source": f"Camera/{i // 1000:03d}/IMG_{i:06d}.jpg",
                        "destination": f".hygiene-quarantine/Camera/IMG_{i:06d}.jpg",
                        "reason": "near duplicate",
                        "fingerprint": fp,
                        "dup_kind": "near",
                        "keeper": keeper,
                        "keeper_fingerprint": fp,
                    }
                )
    with (folder / "duplicates.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(DUPLICATES_COLUMNS)
        writer.writerows(duplicates)
    (folder / "similar.csv").write_text("cluster,path,taken_at\n")
    header = {
        "tool": "hygiene",
        "version": "0.1.0",
        "format": 1,
        "root": "/archive",
        "created_at": "now",
        "policy": {"quarantine_dir": ".hygiene-quarantine", "sort_into": ""},
        "settings_hash": "x",
    }
    (folder / "plan.json").write_text(json.dumps({"header": header, "actions": actions}))
    record = {"root": "/archive", "run_id": "bench", "categorization": {"status": "skipped"}}
    (folder / "run.json").write_text(json.dumps(record))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as scratch:
        run = Path(scratch) / "run"
        fake_run(run, args.files)
        conn = catalog.open_catalog(Path(scratch) / "catalog.sqlite")
        started = time.perf_counter()
        write_report(run, conn, read_report_data(run, conn))
        written = time.perf_counter() - started
        files = [p for p in run.rglob("*") if p.is_file() and p.suffix in (".js", ".html", ".css")]
        sizes = {p.name: p.stat().st_size for p in files}
        largest = max(sizes, key=sizes.__getitem__)
        with sync_playwright() as driver:
            browser = driver.chromium.launch(
                executable_path=shutil.which("chromium"), args=["--no-sandbox", "--disable-gpu"]
            )
            page = browser.new_page()
            started = time.perf_counter()
            page.goto((run / "index.html").as_uri())
            page.wait_for_selector("[data-stat=files]", timeout=120_000)
            overview = time.perf_counter() - started
            shown = int(page.inner_text("[data-stat=files] b"))
            started = time.perf_counter()
            page.click("nav >> text=Duplicates")
            page.wait_for_selector(".group")
            duplicates = time.perf_counter() - started
            browser.close()
    total = sum(sizes.values())
    print(
        f"files: {args.files:,}; report (html/js/css): {total / 2**20:.1f} MiB in {len(sizes)} "
        f"files, largest {largest} {sizes[largest] / 2**20:.1f} MiB"
    )
    print(
        f"write_report: {written:.1f} s; overview on screen: {overview:.1f} s; "
        f"duplicates page: {duplicates:.2f} s ({shown:,} files)"
    )


if __name__ == "__main__":
    main()
