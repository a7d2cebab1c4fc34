"""Does measuring quality at a smaller size pay? Tune at each size on TUNING, score on HELD-OUT.

    .venv/bin/python bench/measure_size.py [--sizes 512,256] [--workers 2]

Issue 13's phone-sized goal needs the per-file measures cheaper; measuring at 256 px instead of
512 (a 1000x750 JPEG then decodes at 1/4 instead of 1/2) is the measured lead. Thresholds were
tuned at 512 px, so comparing sizes with them proves nothing. This script measures every file of
the two held-out corpora (bench/heldout.py builds them) at each size the way the scan would (the
decoder's DCT reduction down to 15/16 of the size, then a bilinear downscale), chooses the dark,
bright and blurry thresholds per size by the same grid search on TUNING (best F1), and scores
HELD-OUT with them. Only the quality flags are scored here: the thumbnails and near-duplicate
hashes the duplicate stage reads are left as they are.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from heldout import score  # noqa: E402  (bench/ is on sys.path when this script runs)

from hygiene.config import load_config  # noqa: E402
from hygiene.scan import quality  # noqa: E402
from hygiene.scan.formats import sniff_image_format  # noqa: E402
from hygiene.scan.imageio import DecodeError, decode, downscale  # noqa: E402

WORK = REPO / "bench" / "out" / "heldout"
SPLITS = ("tuning", "heldout")
FIELDS = (
    "luma_p01",
    "luma_p50",
    "luma_p99",
    "luma_p999",
    "highlight_fraction",
    "flat_midtone_fraction",
    "clipped_content_fraction",
    "clipped_fragment_fraction",
    "blur",
    "sharpness_min_dir",
    "sharpness_max_dir",
)
# The grids searched per flag (every combination); the other limits keep their defaults.
GRIDS: dict[str, dict[str, np.ndarray]] = {
    "dark": {
        "dark_luma_p99_max": np.linspace(0.20, 0.60, 21),
        "dark_luma_p999_max": np.linspace(0.30, 0.80, 11),
    },
    "bright": {
        "bright_clipped_content_fraction_min": np.array([0.0, 0.02, 0.05, 0.1, 0.2, 0.3]),
        "bright_clipped_fragment_fraction_max": np.array([0.1, 0.2, 0.35, 0.5, 1.0]),
        "bright_luma_p50_min": np.linspace(0.3, 0.8, 11),
        "bright_flat_midtone_fraction_max": np.array([0.04, 0.08, 0.12, 0.2, 0.3, 1.0]),
    },
    "blurry": {
        "blurry_sharpness_max": np.linspace(0.02, 0.40, 39),
        "blurry_streak_sharpness_max": np.linspace(0.02, 0.50, 25),
        "blurry_streak_ratio_max": np.linspace(0.2, 0.8, 13),
    },
}
DEFAULT_LIMITS = {
    "bright_highlight_fraction_min": 0.0,
    "bright_luma_p01_min": 0.0,
    "blurry_blur_min": 1.0,
}
_LIMIT_NAMES = [name for grid in GRIDS.values() for name in grid] + list(DEFAULT_LIMITS)
CHECKS: dict[str, Callable[..., np.ndarray]] = {
    "dark": quality.is_dark,
    "bright": quality.is_bright,
    "blurry": quality.is_blurry,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="512,256")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--small-tiles",
        action="store_true",
        help="sharpness tiles scaled with the size (32 px at 512, 16 at 256) instead of 32 px",
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    results: dict[str, dict] = {}
    for size in sizes:
        tile_px = max(8, 32 * size // 512) if args.small_tiles else 32
        table = {split: _measured(split, size, tile_px, args.workers) for split in SPLITS}
        per_flag = {}
        for flag in GRIDS:
            limits, tuning_f1 = _tuned(flag, *table["tuning"])
            held_f1 = _score(flag, limits, *table["heldout"])
            per_flag[flag] = {"limits": limits, "tuning": tuning_f1, "heldout": held_f1}
        results[str(size)] = per_flag
        configured = {name: getattr(load_config(None).quality, name) for name in _LIMIT_NAMES}
        results[f"{size} (configured limits)"] = {
            flag: {
                "limits": {n: configured[n] for n in GRIDS[flag]},
                "tuning": _score(flag, configured, *table["tuning"]),
                "heldout": _score(flag, configured, *table["heldout"]),
            }
            for flag in GRIDS
        }
    print("| size | flag | TUNING F1 | HELD-OUT F1 | HELD-OUT P / R | limits |")
    print("|--:|---|--:|--:|---|---|")
    for size, per_flag in results.items():
        for flag, entry in per_flag.items():
            held = entry["heldout"]
            limits = ", ".join(f"{k.split('_', 1)[1]}={v:.3g}" for k, v in entry["limits"].items())
            print(
                f"| {size} | {flag} | {entry['tuning']['f1']:.3f} | {held['f1']:.3f} | "
                f"{held['precision']:.3f} / {held['recall']:.3f} | {limits} |"
            )
    out = REPO / "bench" / "out" / f"measure_size{'-small-tiles' if args.small_tiles else ''}.json"
    out.write_text(json.dumps(results, indent=1))
    print(f"\nJSON: {out.relative_to(REPO)}")


def _measured(
    split: str, size: int, tile_px: int, workers: int
) -> tuple[dict[str, np.ndarray], dict]:
    """Every scored file's measures at `size` (columns), and which flags each should raise."""
    truth = json.loads((WORK / f"truth-{split}.json").read_text())["items"]
    items = [t for t in truth if t["class"] not in ("corrupt", "damaged_complete")]
    paths = [str(WORK / f"corpus-{split}" / t["path"]) for t in items]
    with ProcessPoolExecutor(workers) as pool:
        sizes, tiles = itertools.repeat(size), itertools.repeat(tile_px)
        rows = list(pool.map(_measure_file, paths, sizes, tiles, chunksize=8))
    kept = [i for i, row in enumerate(rows) if row is not None]
    columns = {name: np.array([rows[i][name] for i in kept]) for name in FIELDS}
    expected = {f: np.array([f in items[i]["expected_flags"] for i in kept]) for f in GRIDS}
    return columns, expected


def _measure_file(path: str, size: int, tile_px: int) -> dict[str, float] | None:
    quality._TILE_PX = tile_px
    data = Path(path).read_bytes()
    image_format = sniff_image_format(data[:64])
    if image_format is None:
        return None
    try:
        decoded = decode(data, image_format, max_pixels=200_000_000, reduce_to_px=size * 15 // 16)
    except DecodeError:
        return None
    # grey_thumbnail's own downscale (to 512 px) leaves an image this size as it is
    metrics = quality.measure(quality.grey_thumbnail(downscale(decoded.rgb, size)))
    return {name: float(getattr(metrics, name)) for name in FIELDS}


def _tuned(flag: str, columns: dict, expected: dict) -> tuple[dict[str, float], dict]:
    """The grid point with the best F1 on these files (ties: the first in grid order)."""
    names = list(GRIDS[flag])
    best: tuple[float, dict[str, float], dict] | None = None
    for values in itertools.product(*(GRIDS[flag][n] for n in names)):
        limits = dict(zip(names, (float(v) for v in values), strict=True))
        scored = _score(flag, limits, columns, expected)
        if best is None or scored["f1"] > best[0]:
            best = (scored["f1"], limits, scored)
    assert best is not None
    return best[1], best[2]


def _score(flag: str, limits: dict[str, float], columns: dict, expected: dict) -> dict:
    every = dict.fromkeys(_LIMIT_NAMES, 0.0) | DEFAULT_LIMITS | limits
    got = np.asarray(CHECKS[flag](SimpleNamespace(**columns), SimpleNamespace(**every)), bool)
    want = expected[flag]
    scored = score.prf(int((got & want).sum()), int((got & ~want).sum()), int((~got & want).sum()))
    # the same figures as bench/heldout.py's; a flag never raised counts as F1 0 here
    return scored | {k: scored[k] or 0.0 for k in ("precision", "recall", "f1")}


if __name__ == "__main__":
    main()
