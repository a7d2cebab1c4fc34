"""The HTML report: a static folder that opens from disk in any browser, with no network.

`index.html` and the app (`report.js`, `report.css`, shipped in hygiene/outputs/report_assets/)
read the run's data from small `data/*.js` chunks, so a large archive never becomes one huge
file, and thumbnails from `thumbs/`. The page renders every string with textContent, never as
HTML, so a hostile file name stays text.
"""

from __future__ import annotations

import copy
import itertools
import json
import os
import re
import sqlite3
import stat
from importlib import resources
from pathlib import Path

import numpy as np
import pyarrow as pa

from hygiene import catalog
from hygiene.outputs.layout import Layout, read_layout
from hygiene.outputs.report_data import ReportData
from hygiene.outputs.runs import RUN_MARKER
from hygiene.paths import to_text
from hygiene.records import READABLE

_CHUNK_ROWS = 5_000
_ASSETS = ("index.html", "report.js", "report.css")
# the files this writer puts in data/: the only ones it ever removes there
_DATA_FILE = re.compile(r"meta\.js|images-[0-9]+\.js")
# Entries next to a run folder looked at for an earlier run: --out may sit in a crowded folder.
# Past this many, an earlier run can be missed and its thumbnails are written again instead.
_SIBLINGS_LOOKED_AT = 1_000


def write_report(run_dir: Path, conn: sqlite3.Connection, data: ReportData) -> Path:
    """(Re)write run_dir/index.html, its data chunks and thumbnails from the run's data; the
    catalog is only asked for thumbnails."""
    data_dir = run_dir / "data"
    _clear_data_files(data_dir)
    chunks = _write_image_chunks(data_dir, data.images, data.review_reasons)
    meta = {
        "run": {**data.record, "root": to_text(data.record["root"])},
        "plan": _exact_integers(copy.deepcopy(data.plan)),
        "duplicates": data.duplicates,
        "similar": data.similar,
        "categoryNames": data.category_names,
        **_embedding_map(data, read_layout(run_dir)),
        "chunks": chunks,
    }
    (data_dir / "meta.js").write_text(_script("meta", meta), encoding="utf-8")
    _write_thumbnails(conn, run_dir / "thumbs", data.images)
    assets = resources.files("hygiene.outputs").joinpath("report_assets")
    for asset in _ASSETS:
        text = assets.joinpath(asset).read_text("utf-8")
        (run_dir / asset).write_text(text, encoding="utf-8")
    return run_dir / "index.html"


def _clear_data_files(data_dir: Path) -> None:
    """Remove the data chunks an earlier write left (fewer chunks now must not leave stale ones),
    and nothing else: the folder and any other file in it stay."""
    data_dir.mkdir(exist_ok=True)
    for path in data_dir.iterdir():
        if _DATA_FILE.fullmatch(path.name) and (path.is_symlink() or path.is_file()):
            path.unlink()  # a link is removed, not followed


def _write_image_chunks(data_dir: Path, images: pa.Table, reasons: dict[str, str]) -> int:
    chunks = 0
    for start in range(0, max(images.num_rows, 1), _CHUNK_ROWS):
        rows = []
        for row in images.slice(start, _CHUNK_ROWS).to_pylist():
            mtime = row["mtime_ns"]
            # the page fingerprints files from it when a plan is edited in the browser
            row["mtime_ns"] = int(mtime) if mtime else None
            rows.append({**row, "review": reasons.get(row["path"], "")})
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


def _embedding_map(data: ReportData, layout: Layout | None) -> dict[str, object]:
    """The map of the CLIP embeddings: [path, x, y] scaled to 0..1, from the app's UMAP layout
    (its first two axes) when the run has one covering every mapped photo, else from the two
    principal components."""
    paths, vectors = data.embedding_paths, data.embeddings
    if len(paths) < 2:
        return {"map": [], "mapMethod": ""}
    placed = dict(zip(layout.shas, layout.positions, strict=True)) if layout else {}
    sha_of = dict(
        zip(data.images.column("path").to_pylist(), data.images.column("sha256").to_pylist(),
            strict=True)
    )  # fmt: skip
    # the layout places one photo per content, a duplicate group by its keeper
    group_of = {row["path"]: row["group"] for row in data.duplicates}
    keeper_of = {row["group"]: row["path"] for row in data.duplicates if row["keeper"] == "true"}

    def placed_sha(path: str) -> str:
        own = sha_of.get(path, "")
        return own if own in placed else sha_of.get(keeper_of.get(group_of.get(path, ""), ""), "")

    if layout is not None and all(placed_sha(path) in placed for path in paths):
        points = np.array([placed[placed_sha(path)][:2] for path in paths], np.float64)
        method = f"{layout.method.upper()}, first two of three axes"
    else:
        centred = vectors - vectors.mean(axis=0)
        _, _, components = np.linalg.svd(centred, full_matrices=False)
        points = centred @ components[:2].T
        method = "2 principal components"
    points = (points - points.min(axis=0)) / np.maximum(np.ptp(points, axis=0), 1e-9)
    rows = [
        [p, round(float(x), 4), round(float(y), 4)] for p, (x, y) in zip(paths, points, strict=True)
    ]
    return {"map": rows, "mapMethod": method}


def _write_thumbnails(conn: sqlite3.Connection, folder: Path, images: pa.Table) -> None:
    """One file per readable image, named by its content. Where the latest earlier run folder
    beside this one holds the same file, it is hard-linked instead of written: a link costs a
    tenth of writing a small file (0.02 against 0.24 ms here), which is most of a cached
    re-run's report, and runs of one archive then share their thumbnails' disk space. A name
    already in the folder (a file, a link, anything) is left as it is."""
    earlier = _earlier_thumbnails(folder.parent)
    folder.mkdir(exist_ok=True)
    present = set(os.listdir(folder))
    statuses = images.column("status").to_pylist()
    shas = images.column("sha256").to_pylist()
    wanted = {
        sha
        for sha, status in zip(shas, statuses, strict=True)
        if status in READABLE and sha and f"{sha}.webp" not in present
    }
    if earlier is not None:
        for sha, size in catalog.thumbnail_sizes(conn, wanted):
            name = f"{sha}.webp"  # os.path on strings: pathlib's objects cost more than a link
            if _linked(os.path.join(earlier, name), os.path.join(folder, name), size):
                wanted.discard(sha)
    for sha, webp in catalog.thumbnails(conn, wanted):
        (folder / f"{sha}.webp").write_bytes(webp)


def _earlier_thumbnails(run_dir: Path) -> Path | None:
    """The thumbs/ folder of the most recently written hygiene run folder next to `run_dir`."""
    found: list[tuple[float, Path]] = []
    try:
        with os.scandir(run_dir.parent) as entries:
            for entry in itertools.islice(entries, _SIBLINGS_LOOKED_AT):
                thumbs = Path(entry.path) / "thumbs"
                if entry.path == str(run_dir) or not entry.is_dir(follow_symlinks=False):
                    continue
                try:
                    if (Path(entry.path) / RUN_MARKER).is_file() and not thumbs.is_symlink():
                        found.append((thumbs.stat().st_mtime, thumbs))
                except OSError:
                    continue
    except OSError:
        return None
    return max(found)[1] if found else None


def _linked(source: str, target: str, size: int) -> bool:
    """Hard-link `source` as `target` when it is a plain file of `size` bytes.

    Its name is the sha256 of the photo it shows, so it shows the same picture; the size must
    match the stored thumbnail's, so that a truncated file (or, most often, one made under other
    thumbnail settings) is written again. Reading every earlier file to compare its bytes cost
    more than linking it."""
    try:
        info = os.lstat(source)
        if not stat.S_ISREG(info.st_mode) or info.st_size != size:
            return False
        os.link(source, target)
    except OSError:  # missing, another file system, or no hard links there: write it instead
        return False
    return True


def _script(name: str, value: object) -> str:
    """A data chunk as a script the page loads from disk (file:// pages cannot fetch JSON)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return (
        f"window.HYGIENE_DATA=window.HYGIENE_DATA||{{}};window.HYGIENE_DATA[{json.dumps(name)}]"
        f"=(window.HYGIENE_DATA[{json.dumps(name)}]||[]).concat([{text}]);\n"
    )
