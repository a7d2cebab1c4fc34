"""The colour gate on crop candidates: which crop duplicates it would drop, and how many other
candidates it saves a template search, on TUNING (where its limit is read) and HELD-OUT.

    .venv/bin/python bench/crop_colours.py [--workers 2]

A photo whose whole-frame pHash is within crop_max_distance of one of another photo's 23 crop
windows becomes a crop candidate, and each candidate costs a multi-scale template search. The
gate drops a candidate when the colour layout of the crop (hashing.window_colours: mean chroma
in a 4x4 grid) differs from the matched window's by more than duplicates.max_colour_difference,
unless either photo is greyscale. This script scans the two corpora that bench/heldout.py builds
(into their own catalog), finds every crop-window match, judges each pair the way the duplicate
stage would (a template search on the thumbnails; two capture times are never a duplicate), and
prints the layout difference of the crop duplicates against that of everything else.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hygiene import catalog  # noqa: E402
from hygiene.config import load_config  # noqa: E402
from hygiene.duplicates.candidates import crop_window_matches, layout_differences  # noqa: E402
from hygiene.duplicates.confirm import _different_capture_times, match_limits  # noqa: E402
from hygiene.duplicates.verify import Frame, compare, rgb_array  # noqa: E402
from hygiene.outputs.runs import new_run_id  # noqa: E402
from hygiene.records import ImageRow  # noqa: E402
from hygiene.scan import decode_thumbnail, run_scan  # noqa: E402

OUT = REPO / "bench" / "out"
WORK = OUT / "heldout"
CATALOG = OUT / "crop_colours.sqlite"
RESULTS = OUT / "crop_colours.json"
SPLITS = ("tuning", "heldout")
LIMIT_SWEEP = (0.03, 0.04, 0.05, 0.06, 0.08, 0.10)


class _Quiet:
    def start(self, total_files: int) -> None:
        pass

    def advance(self, files: int = 1) -> None:
        pass


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments.add_argument("--workers", type=int, default=2)
    workers = arguments.parse_args().workers
    config = load_config(None)
    results = {}
    for split in SPLITS:
        root = WORK / f"corpus-{split}"
        if not root.is_dir():
            sys.exit(f"{root} is missing: build it with bench/heldout.py --fetch")
        conn = catalog.open_catalog(CATALOG)
        rows = _scanned(conn, root, config, workers)
        results[split] = _judged(conn, root, rows, config)
    limit = config.duplicates.max_colour_difference
    RESULTS.write_text(json.dumps(results, indent=1), encoding="utf-8")
    _print(results, limit)


def _scanned(conn: sqlite3.Connection, root: Path, config, workers: int) -> list[ImageRow]:
    run_id = new_run_id()
    run_scan(root, config, conn, run_id, CATALOG, _Quiet(), workers=workers)
    rows = catalog.read_run_table(conn, run_id).images()
    catalog.forget_run(conn, run_id)
    return rows


def _judged(conn: sqlite3.Connection, root: Path, rows: list[ImageRow], config) -> dict[str, list]:
    """Per crop pair: its smallest layout difference (None: greyscale) and the verdict."""
    contents = list({row.sha256: row for row in rows}.values())
    facts = [row.facts for row in contents]
    hashes = np.stack([np.frombuffer(f.near_hashes, np.uint64) for f in facts])
    matches = crop_window_matches(hashes, config.duplicates.crop_max_distance)
    stored = catalog.window_colours(conn, root, [row.rel_path for row in contents])
    colourfulness = np.array([f.colourfulness for f in facts])
    differences = layout_differences(
        matches, lambda named: [stored.get(contents[i].rel_path, b"") for i in named], colourfulness
    )
    closest: dict[tuple[int, int], float] = {}
    for original, crop, difference in zip(
        matches.originals.tolist(), matches.crops.tolist(), differences.tolist(), strict=True
    ):
        if original != crop:
            key = (original, crop)  # greyscale is a property of the pair: NaN on every row
            closest[key] = min(closest.get(key, np.inf), difference, key=_nan_first)
    limits = match_limits(config.duplicates)
    frames = dict(_frames(conn, contents))
    out: dict[str, list] = {"duplicate": [], "other": []}
    for (original, crop), difference in closest.items():
        a, b = contents[original], contents[crop]
        kind = "other"
        two_exposures = _different_capture_times(a.facts.taken_at, b.facts.taken_at)
        if a.sha256 in frames and b.sha256 in frames and not two_exposures:
            found = compare(frames[a.sha256], frames[b.sha256], 0, b_is_crop_of_a=True)
            kind = "duplicate" if found.is_duplicate(limits) else "other"
        out[kind].append(None if np.isnan(difference) else round(difference, 4))
    return out


def _nan_first(value: float) -> float:
    return -np.inf if np.isnan(value) else value


def _frames(conn: sqlite3.Connection, rows: list[ImageRow]) -> Iterator[tuple[str, Frame]]:
    for row in rows:
        webp = catalog.thumbnail(conn, row.sha256)
        if webp:
            f = row.facts
            box = (f.content_left, f.content_top, f.content_right, f.content_bottom)
            yield row.sha256, Frame(rgb_array(decode_thumbnail(webp), box))


def _print(results: dict[str, dict[str, list]], limit: float) -> None:
    print(f"limit (duplicates.max_colour_difference): {limit}\n")
    print("| split | kind | pairs | greyscale | colourful: p50 / p99 / max difference |")
    print("|---|---|--:|--:|---|")
    for split, kinds in results.items():
        for kind, values in kinds.items():
            colourful = np.array([v for v in values if v is not None])
            spread = "-"
            if len(colourful):
                spread = " / ".join(f"{v:.3f}" for v in np.percentile(colourful, [50, 99, 100]))
            greyscale = len(values) - len(colourful)
            print(f"| {split} | {kind} | {len(values)} | {greyscale} | {spread} |")
    print("\n| split | limit | duplicates dropped | other candidates dropped |")
    print("|---|--:|--:|--:|")
    for split, kinds in results.items():
        for sweep in LIMIT_SWEEP:
            lost = sum(v is not None and v > sweep for v in kinds["duplicate"])
            saved = sum(v is not None and v > sweep for v in kinds["other"])
            share = saved / max(len(kinds["other"]), 1)
            mark = " (default)" if abs(sweep - limit) < 1e-9 else ""
            print(f"| {split} | {sweep:.2f}{mark} | {lost} | {saved} ({share:.0%}) |")


if __name__ == "__main__":
    main()
