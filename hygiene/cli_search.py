"""`hygiene search`: find photos of a run by a phrase, an image file, or another photo. Registered
on the `hygiene` group by cli.py; the searching itself lives in hygiene.search."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable
from pathlib import Path

import click
from rich.table import Table

from hygiene.catalog import CATALOG_HELP
from hygiene.categorize.embed import ModelSource
from hygiene.config import Config
from hygiene.console import fail, load_config_file, out_console
from hygiene.search import (
    Ranking,
    Searchable,
    SearchError,
    image_vector,
    open_library,
    rank,
    text_vector,
)
from hygiene.search.library import read_run
from hygiene.search.pgstore import open_store, push, redacted
from hygiene.search.query import query_model


def model_options(command: Callable) -> Callable:
    """The CLIP options of every command that embeds a query (search, serve)."""
    options = [
        click.option("--model", help="CLIP model as ARCH:PRETRAINED (default: the run's)."),
        click.option(
            "--model-path", type=click.Path(path_type=Path), help="Local CLIP folder or file."
        ),
        click.option(
            "--device", type=click.Choice(["auto", "cpu", "cuda", "mps"]), help="Where CLIP runs."
        ),
        click.option(
            "--allow-download", is_flag=True, help="Let CLIP weights be downloaded if missing."
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def model_for(
    library: Searchable,
    config: Config,
    model: str | None,
    model_path: Path | None,
    device: str | None,
    allow_download: bool,
) -> ModelSource:
    """The library's model as the options and the config name it, loaded on first use."""
    return query_model(
        library,
        spec=model or config.classify.model,
        path=str(model_path) if model_path else config.classify.model_path,
        device=device or config.classify.device,
        allow_download=allow_download,
    )


@click.command("search")
@click.argument("query", required=False)
@click.option("--image", type=click.Path(path_type=Path), help="Find photos like this image file.")
@click.option("--like", help="More like this photo of the run (its path in the archive).")
@click.option("--run", "run_dir", type=click.Path(path_type=Path), help="Run folder to search.")
@click.option(
    "--root", type=click.Path(path_type=Path), help="Search the latest run of this archive."
)
@click.option("--top", type=click.IntRange(1, 10_000), default=12, show_default=True)
@click.option(
    "--threshold",
    type=float,
    help="Cosine similarity a result needs (default: what stands out; 0: the top results).",
)
@click.option("--category", help="Only photos of this category.")
@click.option(
    "--format", "output_format", type=click.Choice(["table", "csv", "json"]), default="table"
)
@model_options
@click.option("--catalog", help=CATALOG_HELP)
@click.option("--store", help="Search a PostgreSQL store (postgresql://...) instead of the run.")
@click.option("--config", "config_file", type=click.Path(path_type=Path), help="TOML config file.")
def search_command(
    query: str | None,
    image: Path | None,
    like: str | None,
    run_dir: Path | None,
    root: Path | None,
    top: int,
    threshold: float | None,
    category: str | None,
    output_format: str,
    model: str | None,
    model_path: Path | None,
    device: str | None,
    allow_download: bool,
    catalog: str | None,
    store: str | None,
    config_file: Path | None,
) -> None:
    """Find photos by a phrase (QUERY), an image file (--image) or a photo of the run (--like)."""
    config = load_config_file(config_file)
    if sum(x is not None for x in (query, image, like)) != 1:
        fail("give exactly one of: a QUERY phrase, --image FILE, --like PHOTO")
    try:
        library = _open(run_dir, root, store, catalog, config)
        exclude = None
        if like is not None:
            exclude = library.find(like)
            if exclude is None:
                raise SearchError(f"{like} is not a searchable photo of {library.run_dir}")
            vector = library.vector(exclude)
        else:
            clip = model_for(library, config, model, model_path, device, allow_download)
            if image is not None:
                vector = image_vector(
                    image,
                    library,
                    clip.get,
                    max_pixels=config.scan.max_pixels,
                    thumbnail_px=config.scan.thumbnail_px,
                )
            else:
                assert query is not None
                vector = text_vector(clip.get(), query)
        ranking = rank(
            library, vector, top=top, threshold=threshold, category=category, exclude=exclude
        )
    except SearchError as exc:
        fail(str(exc))
        return
    _print(ranking, output_format)


@click.group("store")
def store_group() -> None:
    """Keep runs' embeddings in PostgreSQL + pgvector, for `hygiene search --store`."""


@store_group.command("push")
@click.option("--run", "run_dir", type=click.Path(path_type=Path), help="Run folder to push.")
@click.option(
    "--root", type=click.Path(path_type=Path), help="Push the latest run of this archive."
)
@click.option("--store", help="PostgreSQL URL (default: [store] url of the config).")
@click.option("--catalog", help=CATALOG_HELP)
@click.option("--config", "config_file", type=click.Path(path_type=Path), help="TOML config file.")
def store_push_command(
    run_dir: Path | None,
    root: Path | None,
    store: str | None,
    catalog: str | None,
    config_file: Path | None,
) -> None:
    """Copy a run's searchable photos (vectors and metadata) into the store; a later push of
    the same archive copies only what changed."""
    config = load_config_file(config_file)
    url = store or config.store.url
    if not url:
        fail("no store: pass --store postgresql://... or set [store] url in the config")
    try:
        library = open_library(run_folder(run_dir, root, config), catalog, config.search)
        pushed = push(library, url)
    except SearchError as exc:
        fail(str(exc))
        return
    out_console.print(
        f"pushed {pushed.photos:,} photos of {library.root} ({library.model_id}) to "
        f"{redacted(url)}: {pushed.added:,} added, {pushed.removed:,} removed",
        highlight=False,
    )


def _open(
    run_dir: Path | None, root: Path | None, store: str | None, catalog: str | None, config: Config
) -> Searchable:
    """The run's embedded index, or the store's copy of an archive when a store is named."""
    url = store or config.store.url
    if not url:
        return open_library(run_folder(run_dir, root, config), catalog, config.search)
    if run_dir is not None:  # the run names the archive and the model
        run = read_run(run_dir, catalog)
        return open_store(url, run.root, run.model_id)
    return open_store(url, str(root.resolve()) if root is not None else None, None)


def run_folder(run_dir: Path | None, root: Path | None, config: Config) -> Path:
    """--run, else the latest run (of --root, when given) in the reports folder, preferring
    the runs that have CLIP embeddings to search."""
    if run_dir is not None:
        return run_dir
    reports = Path(config.output.reports_dir)
    wanted = root.resolve() if root is not None else None
    runs: list[tuple[bool, float, Path]] = []
    for record_path in reports.glob("*/run.json") if reports.is_dir() else []:
        try:
            record = json.loads(record_path.read_text(encoding="utf-8"))
            when = record_path.stat().st_mtime
        except (OSError, ValueError):
            continue
        if wanted is not None and Path(str(record.get("root", ""))) != wanted:
            continue
        embedded = bool((record.get("categorization") or {}).get("model"))
        runs.append((embedded, when, record_path.parent))
    if not runs:
        which = f"of {root} " if root is not None else ""
        raise SearchError(f"no run {which}in {reports}/: pass --run RUN_DIR or scan first")
    return max(runs)[2]


_COLUMNS = ("rank", "path", "score", "category", "taken_at", "copies", "thumbnail")


def _print(ranking: Ranking, output_format: str) -> None:
    rows = [
        {
            "rank": hit.rank,
            "path": hit.photo.path,
            "score": round(hit.score, 4),
            "category": hit.photo.category,
            "taken_at": hit.photo.taken_at,
            "copies": hit.photo.copies,
            "thumbnail": hit.photo.thumbnail,
        }
        for hit in ranking.hits
    ]
    if output_format == "json":
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if output_format == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return
    table = Table("#", "score", "path", "category", "taken", "copies")
    for row in rows:
        table.add_row(
            str(row["rank"]),
            f"{row['score']:.3f}",
            str(row["path"]),
            str(row["category"]),
            str(row["taken_at"])[:16],
            str(row["copies"]),
        )
    if rows:
        out_console.print(table)
    floor = "" if ranking.floor is None else f" under the similarity floor {ranking.floor:.3f}"
    found = f"{len(rows)} result{'s' if len(rows) != 1 else ''}"
    hidden = f"; {ranking.under_floor} more{floor} (--threshold 0 shows them)"
    out_console.print(found + (hidden if ranking.under_floor else ""), highlight=False)
