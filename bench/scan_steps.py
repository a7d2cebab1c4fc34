"""Where one file's scan time goes: each step of `scan_bytes`, timed on its own, in one process.

Not a test: run it by hand and read the table. It decodes a sample of the images under FOLDER
(as the scan does: at reduced size where the format allows) and times every measurement the
scan takes from the decode, in milliseconds per file.

    .venv/bin/python bench/scan_steps.py FOLDER [--files 200] [--seed 1]
"""

from __future__ import annotations

import argparse
import random
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from hygiene.config import ScanSettings
from hygiene.heap import keep_freed_memory
from hygiene.scan import measure as scan_measure
from hygiene.scan.formats import sniff_image_format
from hygiene.scan.hashing import content_box, near_hashes, sha256_hex
from hygiene.scan.imageio import DecodeError, decode, downscale, encode_webp, reduced
from hygiene.scan.quality import (
    QUALITY_SIDE_MIN_PX,
    QUALITY_SIDE_PX,
    colourfulness,
    grey_thumbnail,
    measure,
)

_THUMBNAIL_PX = ScanSettings().thumbnail_px
_THUMBNAIL_QUALITY = scan_measure._THUMBNAIL_QUALITY


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    keep_freed_memory()  # as every scan worker does
    cv2.setNumThreads(1)
    paths = sorted(p for p in args.folder.rglob("*") if p.is_file())
    random.Random(args.seed).shuffle(paths)
    spent: dict[str, float] = defaultdict(float)

    def timed(step: str, work: Callable[[], object]) -> object:
        started = time.perf_counter()
        result = work()
        spent[step] += time.perf_counter() - started
        return result

    measured = 0
    for path in paths[: args.files]:
        data = path.read_bytes()
        image_format = sniff_image_format(data[:64])
        if image_format is None:
            continue
        try:
            decoded = decode(data, image_format, max_pixels=10**9, reduce_to_px=QUALITY_SIDE_MIN_PX)
        except DecodeError:
            continue
        measured += 1
        timed("sha256", lambda d=data: sha256_hex(d))
        # the decode is timed again here, on its own: the first call also checked the file
        timed(
            "decode",
            lambda d=data, f=image_format: decode(
                d, f, max_pixels=10**9, reduce_to_px=QUALITY_SIDE_MIN_PX
            ),
        )
        small = timed("downscale", lambda r=decoded.rgb: downscale(r, QUALITY_SIDE_PX))
        grey = timed("grey", lambda s=small: grey_thumbnail(s))
        timed("near_hashes", lambda g=grey: near_hashes(g))
        timed("content_box", lambda g=grey: content_box(g))
        thumb = timed("thumbnail", lambda s=small: downscale(s, _THUMBNAIL_PX))
        timed(
            "colour",
            lambda t=thumb: colourfulness(np.asarray(reduced(t, 64), np.float32) / 255.0),
        )
        timed("measure", lambda g=grey: measure(g))
        timed("webp", lambda t=thumb: encode_webp(t, quality=_THUMBNAIL_QUALITY))
    total = sum(spent.values())
    print(f"{measured} files from {args.folder}: {1000 * total / max(1, measured):.1f} ms per file")
    print("| step | ms per file | share |\n|---|--:|--:|")
    for step, seconds in sorted(spent.items(), key=lambda item: -item[1]):
        print(f"| {step} | {1000 * seconds / measured:.2f} | {100 * seconds / total:.0f}% |")


if __name__ == "__main__":
    main()
