"""The Ray engine's single-node overhead and the scan's per-core rates, for docs/scale.md.

Cold `hygiene scan --no-clip` runs (or with CLIP, `--clip`) of one corpus, taken in turn,
each into a new catalog:

- local engine, SQLite catalog (the default);
- local engine, PostgreSQL catalog (pgserver, on this machine);
- Ray engine, PostgreSQL catalog, on a Ray cluster started once on 127.0.0.1 (`--address`);
- Ray engine, PostgreSQL catalog, no address: the run starts its own Ray instance (its start
  counted);
- local engine with one worker: the per-core rate.

The overhead of the Ray engine is read against the local engine on the same PostgreSQL
catalog, so that the catalog's own cost is not counted twice.

    .venv/bin/python bench/ray_bench.py                      # the 1,000 phone-sized JPEGs
    .venv/bin/python bench/ray_bench.py --corpus bench/out/subset-10000 --repeat 1
    .venv/bin/python bench/ray_bench.py --clip ViT-B-32 --limit 300   # with CLIP (random
                                                                      # weights, CPU actors)
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_CORPUS = HERE / "out" / "corpus-1000j-0p-0h-1000x750"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--json", type=Path, default=HERE / "out" / "ray_bench.json")
    parser.add_argument(
        "--clip", metavar="ARCH", help="categorize too, with this open_clip model's random weights"
    )
    parser.add_argument("--limit", type=int, help="only the first N files (hard links)")
    parser.add_argument(
        "--overhead-only",
        action="store_true",
        help="only the local and Ray engines on PostgreSQL (no SQLite, own-instance, 1-worker)",
    )
    args = parser.parse_args()
    if not args.corpus.is_dir():
        sys.exit(f"no corpus at {args.corpus}: make one with bench/scan_bench.py first")
    work = Path(tempfile.mkdtemp(prefix="raybench", dir="/tmp"))
    corpus = args.corpus if args.limit is None else linked_subset(args.corpus, args.limit, work)
    files = sum(1 for path in corpus.rglob("*") if path.is_file())
    clip = ("--no-clip",) if args.clip is None else random_weights(args.clip, work)
    import pgserver

    server = pgserver.get_server(work / "pg", cleanup_mode="stop")
    address, cluster_env = start_ray(work, args.workers)
    os.environ.update(cluster_env)
    kinds = {
        "local, SQLite": lambda out: ("--catalog", out.parent / f"{out.name}.sqlite"),
        "local, PostgreSQL": lambda out: ("--catalog", new_database(server)),
        "ray, PostgreSQL, running cluster": lambda out: (
            "--catalog", new_database(server), "--engine", "ray", "--address", address,
        ),
    }  # fmt: skip
    if args.overhead_only:
        del kinds["local, SQLite"]
    walls: dict[str, list[float]] = {kind: [] for kind in kinds}
    stages: dict[str, list[float]] = {kind: [] for kind in kinds}
    try:
        for round_ in range(args.repeat):
            for kind, catalog_args in kinds.items():
                out = work / f"{round_}-{kind.split(',')[0]}-{secrets.token_hex(2)}"
                wall, record = scan(corpus, out, args.workers, *clip, *catalog_args(out))
                walls[kind].append(wall)
                stages[kind].append(record["scan"]["elapsed_s"])
                print(f"round {round_ + 1} {kind}: {wall:.2f} s", flush=True)
        own = one = one_stage = None
        if not args.overhead_only:
            subprocess.run([ray_cli(), "stop", "--force"], capture_output=True, timeout=120)
            own, _ = scan(
                corpus, work / "own-instance", args.workers, *clip,
                "--catalog", new_database(server), "--engine", "ray",
            )  # fmt: skip
            one, one_record = scan(
                corpus, work / "one-core", 1, *clip, "--catalog", work / "one.sqlite"
            )
            one_stage = one_record["scan"]["elapsed_s"]
    finally:
        subprocess.run([ray_cli(), "stop", "--force"], capture_output=True, timeout=120)
        server.cleanup()
    results = {
        "corpus": str(args.corpus),
        "files": files,
        "clip": args.clip,
        "workers": args.workers,
        "walls_s": walls,
        "scan_stage_s": stages,
        "ray_own_instance_s": own,
        "one_worker_s": one,
        "one_worker_scan_stage_s": one_stage,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2))
    print()
    what = f"CLIP {args.clip} (random weights)" if args.clip else "--no-clip"
    print(f"{files:,} files, {what}, {args.workers} workers, medians of {args.repeat} cold runs:")
    print("| engine, catalog | wall | files/s | scan stage |")
    print("|---|--:|--:|--:|")
    for kind in kinds:
        wall, stage = statistics.median(walls[kind]), statistics.median(stages[kind])
        print(f"| {kind} | {wall:.2f} s | {files / wall:.0f} | {stage:.2f} s |")
    if own is not None and one is not None:
        print(f"| ray, PostgreSQL, own instance (one run) | {own:.2f} s | {files / own:.0f} | |")
        print(f"| local, SQLite, 1 worker (one run) | {one:.2f} s | {files / one:.0f} | |")
    local = statistics.median(walls["local, PostgreSQL"])
    ray = statistics.median(walls["ray, PostgreSQL, running cluster"])
    print(f"Ray engine overhead against the local engine on PostgreSQL: {ray / local - 1:+.1%}")
    shutil.rmtree(work, ignore_errors=True)


def linked_subset(corpus: Path, limit: int, work: Path) -> Path:
    subset = work / "subset"
    for path in sorted(p for p in corpus.rglob("*") if p.is_file())[:limit]:
        target = subset / path.relative_to(corpus)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(path, target)
    return subset


def random_weights(arch: str, work: Path) -> tuple[str, ...]:
    """Scan options that categorize with `arch` at random weights (the cost does not depend
    on them), saved as a checkpoint file as a user's own weights would be."""
    import open_clip
    import torch

    model = open_clip.create_model(arch, pretrained=None)
    path = work / f"{arch}-random.pt"
    torch.save(model.state_dict(), path)
    return ("--model", arch, "--model-path", str(path), "--device", "cpu")


def ray_cli() -> str:
    return str(Path(sys.executable).with_name("ray"))


def start_ray(work: Path, workers: int) -> tuple[str, dict[str, str]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    token = work / "auth_token"
    token.write_text(secrets.token_hex(32))
    env = {
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN_PATH": str(token),
    }
    subprocess.run(
        [
            ray_cli(), "start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(port),
            "--num-cpus", str(workers), "--include-dashboard", "false",
            "--disable-usage-stats", "--temp-dir", str(work / "ray"),
        ],
        check=True, capture_output=True, env={**os.environ, **env}, timeout=180,
    )  # fmt: skip
    return f"127.0.0.1:{port}", env


def new_database(server) -> str:
    name = f"bench_{secrets.token_hex(4)}"
    server.psql(f"CREATE DATABASE {name};")
    return server.get_uri(name)


def scan(corpus: Path, out: Path, workers: int, *extra: object) -> tuple[float, dict]:
    command = [
        sys.executable, "-m", "hygiene", "scan", str(corpus), "--out", str(out), "--quiet",
        "--workers", str(workers), *map(str, extra),
    ]  # fmt: skip
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, timeout=3600)
    wall = time.perf_counter() - started
    return wall, json.loads((out / "run.json").read_text())


if __name__ == "__main__":
    main()
