"""The HTML report: a static folder that opens from disk in any browser, with no network.

`index.html` and the app (`report.js`, `report.css`, shipped in hygiene/outputs/report_assets/)
read the run's data from small `data/*.js` chunks, so a large archive never becomes one huge
file, and thumbnails from `thumbs/`. The page renders every string with textContent, never as
HTML, so a hostile file name stays text.
"""

from __future__ import annotations

import csv
import json
import re
import sqlite3
from importlib import resources
from pathlib import Path

import numpy as np

from hygiene import catalog
from hygiene.paths import to_text
from hygiene.records import READABLE

_CHUNK_ROWS = 5_000
_ASSETS = ("index.html", "report.js", "report.css")
# the files this writer puts in data/: the only ones it ever removes there
_DATA_FILE = re.compile(r"meta\.js|images-[0-9]+\.js")


def write_report(run_dir: Path, conn: sqlite3.Connection) -> Path:
    """(Re)write run_dir/index.html and its data and thumbnails from the run's outputs."""
    images = _read_csv(run_dir / "images.csv")
    duplicates = _read_csv(run_dir / "duplicates.csv")
    similar = _read_csv(run_dir / "similar.csv")
    categories = _read_csv(run_dir / "categories.csv")
    plan = json.loads((run_dir / "plan.json").read_text(encoding="utf-8"))
    record = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    mtimes = _mtimes(conn, record["root"], images)
    data_dir = run_dir / "data"
    _clear_data_files(data_dir)
    chunks = _write_image_chunks(data_dir, images, categories, mtimes)
    meta = {
        "run": {**record, "root": to_text(record["root"])},
        "plan": _exact_integers(plan),
        "duplicates": duplicates,
        "similar": similar,
        "categoryNames": _category_names(run_dir / "categories.csv"),
        "map": _embedding_map(run_dir / "embeddings.parquet"),
        "chunks": chunks,
    }
    (data_dir / "meta.js").write_text(_script("meta", meta), encoding="utf-8")
    _write_thumbnails(conn, run_dir / "thumbs", images)
    assets = resources.files("hygiene.outputs").joinpath("report_assets")
    for asset in _ASSETS:
        text = assets.joinpath(asset).read_text("utf-8")
        (run_dir / asset).write_text(text, encoding="utf-8")
    return run_dir / "index.html"


def _read_csv(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _category_names(path: Path) -> list[str]:
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle))
    return header[7:]


def _clear_data_files(data_dir: Path) -> None:
    """Remove the data chunks an earlier write left (fewer chunks now must not leave stale ones),
    and nothing else: the folder and any other file in it stay."""
    data_dir.mkdir(exist_ok=True)
    for path in data_dir.iterdir():
        if _DATA_FILE.fullmatch(path.name) and (path.is_symlink() or path.is_file()):
            path.unlink()  # a link is removed, not followed


def _mtimes(conn: sqlite3.Connection, root: str, images: list[dict[str, str]]) -> dict[str, int]:
    """path (text form, as in images.csv) -> mtime_ns at the time of the run, which an edited
    plan needs to fingerprint files the plan left alone. images.csv records it; in a run folder
    written before that column existed, the catalog's (possibly newer) record is used."""
    if images and "mtime_ns" in images[0]:
        return {row["path"]: int(row["mtime_ns"]) for row in images if row["mtime_ns"]}
    wanted = {row["path"] for row in images}
    found = {to_text(path): mtime for path, mtime in catalog.mtimes_for_root(conn, root).items()}
    return {path: mtime for path, mtime in found.items() if path in wanted}


def _write_image_chunks(
    data_dir: Path,
    images: list[dict[str, str]],
    categories: list[dict[str, str]],
    mtimes: dict[str, int],
) -> int:
    reasons = {row["path"]: row.get("reason", "") for row in categories}
    chunks = 0
    for start in range(0, max(len(images), 1), _CHUNK_ROWS):
        rows = []
        for row in images[start : start + _CHUNK_ROWS]:
            rows.append(
                {**row, "mtime_ns": mtimes.get(row["path"]), "review": reasons.get(row["path"], "")}
            )
        (data_dir / f"images-{chunks}.js").write_text(_script("images", rows), encoding="utf-8")
        chunks += 1
    return chunks


def _exact_integers(plan: dict) -> dict:
    """Nanosecond mtimes exceed JavaScript's exact integers: carry them as strings (the plan
    reader accepts both), so a plan edited in the browser keeps them exact."""
    for action in plan["actions"]:
        for key in ("fingerprint", "keeper_fingerprint"):
            if action.get(key):
                action[key]["mtime_ns"] = str(action[key]["mtime_ns"])
    return plan


def _embedding_map(path: Path) -> list[list[object]]:
    """Two principal components of the CLIP embeddings: [path, x, y] scaled to 0..1."""
    if not path.is_file():
        return []
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    paths = table.column("path").to_pylist()
    if len(paths) < 2:
        return []
    vectors = np.array(table.column("vector").to_pylist(), dtype=np.float32)
    centred = vectors - vectors.mean(axis=0)
    _, _, components = np.linalg.svd(centred, full_matrices=False)
    points = centred @ components[:2].T
    points = (points - points.min(axis=0)) / np.maximum(np.ptp(points, axis=0), 1e-9)
    return [
        [p, round(float(x), 4), round(float(y), 4)] for p, (x, y) in zip(paths, points, strict=True)
    ]


def _write_thumbnails(conn: sqlite3.Connection, folder: Path, images: list[dict[str, str]]) -> None:
    folder.mkdir(exist_ok=True)
    for sha in {row["sha256"] for row in images if row["status"] in READABLE and row["sha256"]}:
        target = folder / f"{sha}.webp"
        if not target.exists() and (webp := catalog.thumbnail(conn, sha)) is not None:
            target.write_bytes(webp)


def _script(name: str, value: object) -> str:
    """A data chunk as a script the page loads from disk (file:// pages cannot fetch JSON)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return (
        f"window.HYGIENE_DATA=window.HYGIENE_DATA||{{}};window.HYGIENE_DATA[{json.dumps(name)}]"
        f"=(window.HYGIENE_DATA[{json.dumps(name)}]||[]).concat([{text}]);\n"
    )
