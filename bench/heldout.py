"""Held-out evaluation of every decision of hygiene that feeds a removal (issue 11), by hand.

    .venv/bin/python bench/heldout.py --fetch        # download, build both corpora, scan, score
    .venv/bin/python bench/heldout.py                # re-scan and re-score the corpora in bench/out

Real photos come from the scikit-image / scikit-learn wheels and from Debian packages (fetched
with `apt-get download`, unpacked with `dpkg -x`), split by source into TUNING and HELD-OUT (see
heldout/sources.py: SPLIT_SOURCES). Each split gets its photos, their copies and degraded
variants, rendered look-alikes (documents, receipts, scans, screenshots, star fields, black
subjects), bursts and damaged files, all with ground truth. Each split is scanned with
`hygiene scan --no-clip` at the default config, and dark / bright / blurry, corruption,
duplicates, keepers and the plan are scored separately per split. Writes
bench/out/heldout-results.json and prints markdown tables.
"""

from __future__ import annotations

import argparse
import collections
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

import PIL
from heldout import corpus, render, report, score, sources

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "out"
WORK = OUT / "heldout"
SOURCES_DIR = WORK / "sources"
CATALOG = OUT / "heldout.sqlite"
RESULTS = OUT / "heldout-results.json"
SPLITS = ("tuning", "heldout")


def main() -> None:
    args = _arguments()
    sources.check_split()
    if args.fetch:
        _fresh(WORK)
        sources.fetch_packages(WORK / "debs", SOURCES_DIR)
    elif not (SOURCES_DIR / "versions.json").exists():
        sys.exit("no downloaded sources in bench/out/heldout: run with --fetch first")
    versions = sources.source_versions(SOURCES_DIR)
    for warning in sources.version_warnings(versions):
        print(f"warning: {warning}", file=sys.stderr)
    if not args.keep_catalog:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{CATALOG}{suffix}").unlink(missing_ok=True)
    results: dict[str, Any] = {}
    timings: dict[str, dict[str, float]] = {}
    revision = _git("rev-parse", "--verify", args.commit) if args.commit else None  # resolved once
    with tempfile.TemporaryDirectory(prefix="heldout-code-") as exported:
        code = _export(revision, Path(exported)) if revision else None
        for split in args.splits:
            truth, build_s = _corpus(split, rebuild=args.fetch or args.rebuild)
            run_dir, scan_s = _scan(split, code, args.workers, args.config)
            rows, actions = score.read_run(run_dir)
            results[split] = score.score(truth, rows, actions)
            results[split]["corpus"] = _corpus_counts(truth)
            timings[split] = {"build_s": round(build_s, 1), "scan_s": round(scan_s, 1)}
    meta = _meta(revision, versions, timings)
    meta["corpus_drawn_with"] = {  # absent from corpora built before it was recorded
        split: corpus.read_truth_meta(WORK / f"truth-{split}.json").get("drawn_with")
        for split in args.splits
    }
    RESULTS.write_text(json.dumps({"meta": meta, "splits": results}, indent=1))
    print(report.markdown(results, meta))
    print(f"\ntimings (s): {json.dumps(timings)}; results: {RESULTS.relative_to(REPO)}")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--fetch", action="store_true", help="download the packages and rebuild everything"
    )
    parser.add_argument(
        "--rebuild", action="store_true", help="rebuild the corpora from the downloads"
    )
    parser.add_argument("--splits", type=lambda s: tuple(s.split(",")), default=SPLITS)
    parser.add_argument("--workers", type=int, default=None, help="hygiene scan --workers")
    parser.add_argument(
        "--config", type=Path, help="hygiene scan --config (score another setting; default: none)"
    )
    parser.add_argument(
        "--commit",
        default=None,
        help="scan with the hygiene package of this git revision (exported with `git archive` "
        "into a temporary folder) instead of the working tree's",
    )
    parser.add_argument(
        "--keep-catalog", action="store_true", help="reuse bench/out/heldout.sqlite"
    )
    args = parser.parse_args()
    unknown = set(args.splits) - set(SPLITS)
    if unknown:
        parser.error(f"unknown split(s): {', '.join(sorted(unknown))}")
    return args


def _fresh(folder: Path) -> None:
    """Empty one of this script's own folders under bench/out."""
    assert OUT in folder.resolve().parents, folder
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)


def _corpus(split: str, rebuild: bool) -> tuple[list[score.Truth], float]:
    root, truth_path = WORK / f"corpus-{split}", WORK / f"truth-{split}.json"
    started = time.perf_counter()
    if rebuild or not truth_path.exists():
        truth_path.unlink(missing_ok=True)
        if root.exists():
            shutil.rmtree(root)
        missing = render.missing_fonts(split)
        if missing:
            print(
                f"warning: {split}: no {', '.join(missing)} in {render.FONT_DIRS[0].parent}; "
                "its pages are drawn with Pillow's built-in font and its figures are not "
                "comparable (install fonts-dejavu-core and fonts-liberation)",
                file=sys.stderr,
            )
        items = corpus.build(split, SOURCES_DIR, root)
        drawn_with = {"pillow": PIL.__version__, "missing_fonts": missing}
        meta = {"split": split, "sources": sources.SPLIT_SOURCES[split], "drawn_with": drawn_with}
        corpus.write_truth(items, truth_path, meta)
    return corpus.read_truth(truth_path), time.perf_counter() - started


def _export(revision: str, folder: Path) -> Path:
    """The hygiene package of `revision`, written under `folder` by git archive (read-only git)."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", revision, "hygiene"],
        cwd=REPO,
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return folder


def _scan(
    split: str, code: Path | None, workers: int | None, config: Path | None = None
) -> tuple[Path, float]:
    run_dir = OUT / f"heldout-run-{split}"
    command = [
        sys.executable,
        "-m",
        "hygiene",
        "scan",
        str(WORK / f"corpus-{split}"),
        "--out",
        str(run_dir),
        "--catalog",
        str(CATALOG),
        "--no-clip",
        "--quiet",
    ]
    if workers:
        command += ["--workers", str(workers)]
    if config is not None:
        command += ["--config", str(config.resolve())]
    with tempfile.TemporaryDirectory(prefix="heldout-xdg-") as xdg:
        env = {k: v for k, v in os.environ.items() if k not in ("HYGIENE_CONFIG", "PYTHONPATH")}
        env.update(XDG_CONFIG_HOME=f"{xdg}/config", XDG_CACHE_HOME=f"{xdg}/cache")
        if code is not None:  # the exported package shadows the editable install
            env["PYTHONPATH"] = str(code)
        started = time.perf_counter()
        subprocess.run(command, check=True, env=env, cwd=code or REPO)
        return run_dir, time.perf_counter() - started


def _corpus_counts(truth: list[score.Truth]) -> dict[str, int]:
    counts = collections.Counter(f"{t['class']} ({t['origin']}): {t['transform']}" for t in truth)
    return dict(sorted(counts.items()))


def _git(*arguments: str) -> str:
    done = subprocess.run(["git", *arguments], cwd=REPO, capture_output=True, text=True)
    return done.stdout.strip()


def _meta(
    revision: str | None, versions: dict[str, str], timings: dict[str, Any]
) -> dict[str, Any]:
    if revision:
        commit = _git("rev-parse", "--short", revision)
    else:
        commit = _git("rev-parse", "--short", "HEAD")
        if _git("status", "--porcelain", "--", "hygiene"):
            commit += " + uncommitted changes in hygiene/"
    return {
        "commit": commit,
        "config": "default config",
        "split_sources": sources.SPLIT_SOURCES,
        "source_versions": versions,
        "max_side_px": sources.MAX_SIDE_PX,
        "timings_s": timings,
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
    }


if __name__ == "__main__":
    main()
