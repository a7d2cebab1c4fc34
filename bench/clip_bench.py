"""CLIP categorization throughput against the pure forward pass and a naive loop (by hand).

Uses a scan benchmark corpus of 12-megapixel files (bench/out/corpus-*), or with `--files N` a
corpus of N generated phone-sized JPEGs (what a GPU needs thousands of), scans it into a fresh
catalog, then, with the same model (random weights: speed does not depend on them):

1. pure forward: the model on ready tensors, batch after batch;
2. hygiene: `hygiene.categorize.stage.categorize` end to end (thumbnails from the catalog
   prepared by threads while the model runs, embeddings written to the catalog);
3. naive: for each batch, open every file with Pillow at full resolution, preprocess, then embed,
   with no overlap.

    .venv/bin/python bench/clip_bench.py [--corpus DIR | --files N] [--model ViT-B-32]
        [--batch-size 32] [--device cpu|cuda] [--no-naive] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hygiene import catalog
from hygiene.categorize.classify import Category, CategorySet
from hygiene.categorize.embed import ClipModel, input_side_px
from hygiene.categorize.stage import categorize
from hygiene.duplicates.stage import DuplicateReport
from hygiene.pipeline import image_rows


def random_model(arch: str, device: str) -> ClipModel:
    import open_clip
    import torch

    torch.manual_seed(0)
    model, _, preprocess = open_clip.create_model_and_transforms(
        arch, pretrained=None, device=device
    )
    model.eval()
    return ClipModel(
        model,
        preprocess,
        open_clip.get_tokenizer(arch),
        device,
        f"{arch}:random",
        float(model.logit_scale.detach().exp()),
        input_side_px(model),
    )


def scan(corpus: Path, catalog_path: Path, out: Path) -> str:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "hygiene",
            "scan",
            str(corpus),
            "--out",
            str(out),
            "--catalog",
            str(catalog_path),
            "--quiet",
            "--no-clip",
        ],
        check=True,
    )
    conn = catalog.open_catalog(catalog_path)
    rows = conn.execute("SELECT rel_path FROM files").fetchall()
    return f"{len(rows)} files"


def pure_forward(model: ClipModel, count: int, batch_size: int) -> float:
    """Images/s of the model alone, on tensors already on its device (what the GPU can do)."""
    import torch

    side = model.input_px
    batch = torch.randn(min(batch_size, count), 3, side, side, device=model.device)
    for _ in range(3):
        model.encode_images(batch)  # warm-up (and, on a GPU, kernel selection)
    started = time.perf_counter()
    done = 0
    while done < count:
        model.encode_images(batch[: min(batch_size, count - done)])  # returns on the host
        done += batch_size
    return count / (time.perf_counter() - started)


def generated_corpus(count: int) -> Path:
    """`count` phone-sized JPEGs (random blocks, every file different), made once."""
    import numpy as np
    from PIL import Image

    folder = Path("bench/out") / f"clip-corpus-{count}"
    if folder.is_dir() and sum(1 for _ in folder.iterdir()) == count:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for index in range(count):
        blocks = rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)
        image = Image.fromarray(blocks).resize((1024, 768), Image.Resampling.BILINEAR)
        image.save(folder / f"img_{index:06d}.jpg", quality=85)
    return folder


def naive(model: ClipModel, files: list[Path], batch_size: int) -> float:
    import pillow_heif
    import torch
    from PIL import Image

    pillow_heif.register_heif_opener()
    started = time.perf_counter()
    for start in range(0, len(files), batch_size):
        tensors = [
            model.preprocess(Image.open(f).convert("RGB"))
            for f in files[start : start + batch_size]
        ]
        model.encode_images(torch.stack(tensors))
    return len(files) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=None)
    parser.add_argument("--files", type=int, default=0, help="generate N phone-sized JPEGs")
    parser.add_argument("--model", default="ViT-B-32")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--device", default="cpu", help="cpu, cuda or mps")
    parser.add_argument("--no-naive", action="store_true", help="skip the naive loop")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    if args.files:
        corpus = generated_corpus(args.files)
    else:
        found = Path("bench/out").glob("corpus-*x3000/images")
        corpus = args.corpus or max(found, key=lambda folder: sum(1 for _ in folder.iterdir()))
    files = sorted(p for p in corpus.iterdir() if p.suffix.lower() in (".jpg", ".png", ".heic"))
    model = random_model(args.model, args.device)
    with tempfile.TemporaryDirectory() as scratch:
        catalog_path = Path(scratch) / "catalog.sqlite"
        scan(corpus, catalog_path, Path(scratch) / "run")
        conn = catalog.open_catalog(catalog_path)
        run_id = "bench"
        catalog.record_run_files(
            conn, run_id, 1, [(i, p.name) for i, p in enumerate(sorted(corpus.iterdir()))]
        )
        rows = image_rows(conn, run_id)
        categories = CategorySet((Category("a", ("a photo",)), Category("b", ("a document",))))
        forward = pure_forward(model, len(rows), args.batch_size)
        started = time.perf_counter()
        report = categorize(
            conn,
            rows,
            DuplicateReport([], []),
            model,
            categories,
            batch_size=args.batch_size,
            workers=os.cpu_count() or 1,
            thumbnail_px=256,
        )
        ours = report.embedded / (time.perf_counter() - started)
    slow = None if args.no_naive else naive(model, files, args.batch_size)
    print(
        f"corpus: {corpus} ({len(files)} files), model {args.model} (random weights, "
        f"{model.input_px} px), batch {args.batch_size}, device {args.device}, "
        f"{os.cpu_count()} cores, torch threads default"
    )
    print("| run | images/s |\n|---|--:|")
    print(f"| pure forward on tensors already on the device | {forward:.1f} |")
    print(f"| hygiene categorize, end to end | {ours:.1f} |")
    if slow is not None:
        print(f"| naive loop (full decode, no overlap) | {slow:.1f} |")
    print(f"\nhygiene / pure forward: {ours / forward:.0%} (goal >= 90%)")
    if slow is not None:
        print(f"hygiene / naive: {ours / slow:.1f}x (goal >= 3x)")
    if args.json is not None:
        figures = {
            "model": args.model,
            "device": args.device,
            "files": len(files),
            "batch_size": args.batch_size,
            "forward_images_per_s": forward,
            "end_to_end_images_per_s": ours,
            "naive_images_per_s": slow,
        }
        args.json.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
