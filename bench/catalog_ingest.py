"""How many scanned files per second one PostgreSQL catalog takes in, for docs/scale.md.

Real scan results (files of a corpus scanned in this process with the scan's own per-file
function) are stored again and again under new paths and content hashes, the way a Ray batch
stores them (hygiene.scan.stage.store_result, 64 files per transaction), by W writer processes
at once. This is the catalog's side of the Ray engine: decoding scales with the nodes, these
writes all go to one database.

    .venv/bin/python bench/catalog_ingest.py                       # 1, 2, 4 writers
    .venv/bin/python bench/catalog_ingest.py --writers 2 --files 20000
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import multiprocessing
import secrets
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_CORPUS = HERE / "out" / "corpus-1000j-0p-0h-1000x750"
_BATCH = 64


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--samples", type=int, default=64, help="corpus files scanned")
    parser.add_argument("--files", type=int, default=12_800, help="files stored per run")
    parser.add_argument("--writers", default="1,2,4")
    args = parser.parse_args()
    outcomes = scanned(args.corpus, args.samples)
    import pgserver

    work = Path(tempfile.mkdtemp(prefix="ingest", dir="/tmp"))
    server = pgserver.get_server(work / "pg", cleanup_mode="stop")
    try:
        print("| writers | files | seconds | files/s | MB/s of thumbnails |")
        print("|--:|--:|--:|--:|--:|")
        thumbnail_mb = sum(len(o.facts.thumbnail_webp) for o in outcomes) / len(outcomes) / 1e6
        for writers in map(int, args.writers.split(",")):
            name = f"ingest_{secrets.token_hex(4)}"
            server.psql(f"CREATE DATABASE {name};")
            url = server.get_uri(name)
            from hygiene import catalog

            catalog.open_catalog(url).close()  # migrated once, before the clock starts
            per_writer = args.files // writers
            context = multiprocessing.get_context("spawn")
            started = time.perf_counter()
            processes = [
                context.Process(target=store, args=(url, outcomes, index, per_writer))
                for index in range(writers)
            ]
            for process in processes:
                process.start()
            for process in processes:
                process.join()
            seconds = time.perf_counter() - started
            files = per_writer * writers
            rate = files / seconds
            print(
                f"| {writers} | {files:,} | {seconds:.1f} | {rate:,.0f} | "
                f"{rate * thumbnail_mb:.1f} |",
                flush=True,
            )
    finally:
        server.cleanup()


def scanned(corpus: Path, count: int) -> list:
    from hygiene.records import FileEntry
    from hygiene.scan.measure import WorkerSettings, init_worker, scan_file

    files = sorted(path for path in corpus.rglob("*.jpg"))[:count]
    if not files:
        sys.exit(f"no JPEGs in {corpus}: make the corpus with bench/scan_bench.py first")
    init_worker(WorkerSettings(str(corpus), 200_000_000, 2**30, 256, ""))
    outcomes = []
    for path in files:
        stat = path.stat()
        entry = FileEntry(path.relative_to(corpus).as_posix(), stat.st_size, stat.st_mtime_ns)
        outcomes.append(scan_file(entry))
    return outcomes


def store(url: str, outcomes: list, writer: int, files: int) -> None:
    from hygiene import catalog
    from hygiene.records import FileEntry
    from hygiene.scan.stage import ScanStats, store_result

    conn = catalog.open_catalog(url)
    root = catalog.root_id(conn, Path("/bench"))
    stats = ScanStats()
    scan_key = "bench"
    for start in range(0, files, _BATCH):
        conn.execute("BEGIN IMMEDIATE")
        for number in range(start, min(files, start + _BATCH)):
            outcome = outcomes[number % len(outcomes)]
            sha = hashlib.sha256(f"{writer}:{number}".encode()).hexdigest()
            fresh = dataclasses.replace(outcome, sha256=sha)
            entry = FileEntry(f"w{writer}/IMG_{number:07d}.jpg", 100_000, number)
            store_result(conn, root, entry, scan_key, fresh, stats)
        conn.execute("COMMIT")
    conn.close()


if __name__ == "__main__":
    main()
