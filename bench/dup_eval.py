"""Duplicate accuracy on a corpus of real and generated photos with every transform (by hand).

    .venv/bin/python bench/dup_eval.py [CORPUS_DIR] [--generated 8] [--engine fastdup]

Builds (once) 12 real photos from the scikit-image / scikit-learn wheels plus generated scenes,
each with every duplicate transform of `hygiene.demo.samples.build_duplicate_corpus` and a burst
frame, scans it with `hygiene scan`, and prints pairwise precision/recall overall and per
transform, merged groups, burst pairs called duplicates, unacceptable keepers and bursts found as
similar.
"""

from __future__ import annotations

import argparse
import collections
import csv
import itertools
import json
import subprocess
import sys
from pathlib import Path

from hygiene.demo import samples

KEEPABLE = {None, "exact_copy", "metadata_stripped", "lossless_png", "lossless_bmp"}


def build(root: Path, generated: int) -> list[dict]:
    manifest = root.parent / f"{root.name}.json"
    if not manifest.exists():
        from hygiene.demo.samples import real_photos

        originals = dict(real_photos())
        originals.update({f"gen{i}": samples.photo(300 + i, 1024, 768) for i in range(generated)})
        samples.write_manifest(samples.build_duplicate_corpus(root, originals), manifest)
    return json.loads(manifest.read_text())


def pairs(groups: dict[str, list[str]]) -> set[tuple[str, str]]:
    return {p for members in groups.values() for p in itertools.combinations(sorted(members), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", nargs="?", type=Path, default=Path("bench/out/dup-corpus"))
    parser.add_argument("--generated", type=int, default=8)
    parser.add_argument("--engine", choices=["hygiene", "fastdup"], default="hygiene")
    args = parser.parse_args()
    truth = build(args.corpus.resolve(), args.generated)
    out = args.corpus.parent / f"{args.corpus.name}-run-{args.engine}"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "hygiene",
            "scan",
            str(args.corpus),
            "--out",
            str(out),
            "--quiet",
            "--catalog",
            str(args.corpus.parent / f"{args.corpus.name}.sqlite"),
            "--dup-engine",
            args.engine,
        ],
        check=True,
    )
    with (out / "images.csv").open(newline="", encoding="utf-8") as handle:
        rows = {row["path"]: row for row in csv.DictReader(handle)}
    group_of = {t["rel_path"]: t["extra"]["group"] for t in truth}
    transform_of = {t["rel_path"]: t["transform"] for t in truth}
    truth_groups, predicted_groups = collections.defaultdict(list), collections.defaultdict(list)
    for path, group in group_of.items():
        truth_groups[group].append(path)
        if rows[path]["dup_group"]:
            predicted_groups[rows[path]["dup_group"]].append(path)
    true_pairs, found = pairs(truth_groups), pairs(predicted_groups)
    hits = len(true_pairs & found)
    print(
        f"files {len(truth)}  pairs: precision {hits / max(1, len(found)):.4f} "
        f"recall {hits / len(true_pairs):.4f} ({len(found)} predicted, {len(true_pairs)} true)"
    )
    per = collections.defaultdict(lambda: [0, 0])
    for t in truth:
        if t["transform"]:
            per[t["transform"]][1] += 1
            per[t["transform"]][0] += tuple(sorted((t["rel_path"], t["source"]))) in found
    print("per transform:", ", ".join(f"{k} {a}/{b}" for k, (a, b) in sorted(per.items())))
    merged = [m for m in predicted_groups.values() if len({group_of[p] for p in m}) > 1]
    bursts = [p for p in found if any(group_of[x].endswith("#burst") for x in p)]
    bad = [
        p
        for p, row in rows.items()
        if row["keeper"] == "true"
        and transform_of.get(p) not in KEEPABLE
        and any(
            transform_of.get(q) is None and not group_of[q].endswith("#burst")
            for q in predicted_groups[row["dup_group"]]
        )
    ]
    with (out / "similar.csv").open(newline="", encoding="utf-8") as handle:
        similar = {row["path"] for row in csv.DictReader(handle)}
    burst_files = [p for p, g in group_of.items() if g.endswith("#burst")]
    print(
        f"merged groups {len(merged)}, burst pairs called duplicates {len(bursts)}, "
        f"unacceptable keepers {len(bad)}, bursts in similar.csv "
        f"{sum(p in similar for p in burst_files)}/{len(burst_files)}"
    )


if __name__ == "__main__":
    main()
