"""Clustering cost growth: candidate search over 10k, 100k and 1M perceptual-hash sets.

Each "photo" gets the same hash layout the scan stores (8 rotation/mirror pHashes, 23 crop
windows, 1 centre band: `NEAR_HASH_COUNT`), drawn at random, and no colour layout (so the colour
gate on crop candidates does not apply), and one photo in five gets a planted near-duplicate
whose hashes differ in a few bits. The benchmark runs the duplicate stage's candidate search
(`hygiene.duplicates.candidates.candidate_pairs`) in a fresh process per size and reports wall
time, peak RSS and the share of planted pairs proposed. Thumbnail verification is not included:
its cost is proportional to the number of proposals, which is reported.

    .venv/bin/python bench/cluster_bench.py                 # 10k, 100k, 1M
    .venv/bin/python bench/cluster_bench.py --sizes 10000   # one size
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from types import SimpleNamespace

import numpy as np

from hygiene.scan.hashing import NEAR_HASH_COUNT

_SLOTS = NEAR_HASH_COUNT
_PLANTED_SHARE = 0.2


def make_hashes(count: int, seed: int = 0) -> tuple[np.ndarray, int]:
    rng = np.random.default_rng(seed)
    originals = count - int(count * _PLANTED_SHARE)
    hashes = rng.integers(0, 2**63, (count, _SLOTS), dtype=np.int64).astype(np.uint64)
    hashes[:, :] |= rng.integers(0, 2, (count, _SLOTS)).astype(np.uint64) << np.uint64(63)
    copies = count - originals
    source = np.arange(copies)
    flips = rng.integers(0, 5, copies)  # 0-4 differing bits, like a resize or re-encode
    planted = hashes[source].copy()
    for row, bits in enumerate(flips):
        for bit in rng.choice(64, bits, replace=False):
            planted[row] ^= np.uint64(1) << np.uint64(int(bit))
    hashes[originals:] = planted
    return hashes, originals


def measure(count: int) -> dict[str, float]:
    from hygiene.config import DuplicateSettings
    from hygiene.duplicates.candidates import candidate_pairs
    from hygiene.duplicates.grouping import Node

    hashes, originals = make_hashes(count)
    # untimed and without colours: the hash search alone
    undated = SimpleNamespace(facts=SimpleNamespace(taken_at=None, colourfulness=0.0))
    nodes = [Node([undated], hashes[i], None) for i in range(count)]  # type: ignore[arg-type]
    started = time.perf_counter()
    proposals = candidate_pairs(nodes, DuplicateSettings(), lambda wanted: [b""] * len(wanted))
    elapsed = time.perf_counter() - started
    found = {(min(a, b), max(a, b)) for a, b, *_ in proposals}
    planted = [(i - originals, i) for i in range(originals, count)]
    recall = sum(pair in found for pair in planted) / len(planted)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "hashes": count,
        "seconds": elapsed,
        "peak_rss_mib": peak_mib,
        "proposals": len(proposals),
        "planted_recall": recall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one)))
        return
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        output = subprocess.run(
            [sys.executable, __file__, "--one", str(size)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        rows.append(json.loads(output.strip().splitlines()[-1]))
    print("| hashes | search time (s) | peak RSS (MiB) | proposals | planted pairs proposed |")
    print("|--:|--:|--:|--:|--:|")
    for row in rows:
        print(
            f"| {row['hashes']:,} | {row['seconds']:.1f} | {row['peak_rss_mib']:,.0f} | "
            f"{row['proposals']:,} | {row['planted_recall']:.3f} |"
        )


if __name__ == "__main__":
    main()
