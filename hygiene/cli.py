"""Commands only: parse arguments, call the pipeline, render. Errors become one line, no
traceback. The commands that change files live in cli_files.py; what is shown in console.py."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from hygiene import __version__
from hygiene.catalog import CATALOG_HELP, CatalogError, location, open_catalog
from hygiene.cli_files import apply_command, repair_command, undo_command
from hygiene.cli_models import models_group
from hygiene.cli_search import search_command, store_group
from hygiene.cli_serve import serve_command
from hygiene.cluster import ClusterError
from hygiene.config import Config, ConfigError, check_config, to_toml, user_config_path
from hygiene.console import (
    RichProgress,
    err_console,
    fail,
    load_config_file,
    out_console,
    print_summary,
    scan_progress,
)
from hygiene.duplicates import FastdupUnavailable
from hygiene.heap import keep_freed_memory
from hygiene.outputs import RunFolderError, check_run_folder, read_report_data, write_report
from hygiene.paths import is_directory
from hygiene.pipeline import run


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hygiene")
def cli() -> None:
    """Clean a photo archive: corrupt files, duplicates, dark/bright/blurry shots, categories."""


@cli.command()
@click.argument("root", type=click.Path(path_type=Path))
@click.option(
    "--out", type=click.Path(path_type=Path), help="Run folder (default reports/<run-id>)."
)
@click.option(
    "--workers", type=click.IntRange(1, 256), help="Worker processes, 1-256 (default: all cores)."
)
@click.option("--config", "config_file", type=click.Path(path_type=Path), help="TOML config file.")
@click.option("--catalog", help=CATALOG_HELP)
@click.option(
    "--engine",
    type=click.Choice(["local", "ray"]),
    help="Decode and embed on this machine (local) or on a Ray cluster (ray).",
)
@click.option(
    "--address",
    help="Ray cluster for --engine ray: auto or ray://HOST:PORT (default: a local instance).",
)
@click.option("--no-clip", is_flag=True, help="Skip CLIP categorization.")
@click.option("--model", help="CLIP model as ARCH:PRETRAINED (open_clip names).")
@click.option("--model-path", type=click.Path(path_type=Path), help="Local CLIP folder or file.")
@click.option(
    "--device", type=click.Choice(["auto", "cpu", "cuda", "mps"]), help="Where CLIP runs."
)
@click.option("--batch-size", type=click.IntRange(1, 4096), help="Images per CLIP forward pass.")
@click.option("--allow-download", is_flag=True, help="Let CLIP weights be downloaded if missing.")
@click.option(
    "--dup-engine",
    type=click.Choice(["hygiene", "fastdup"]),
    help="Near-duplicate candidates (default from config: hygiene).",
)
@click.option("--sort-into", help="Plan: sort keepers into this folder (inside ROOT)/<Category>/.")
@click.option("--sort-copy", is_flag=True, help="Plan: sort by copying instead of moving.")
@click.option("--flatten", is_flag=True, help="Plan: sort by file name, not by sub-path.")
@click.option("--rescan", is_flag=True, help="Decode every file again, ignoring cached results.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar or summary table.")
def scan(root: Path, config_file: Path | None, quiet: bool, **options: Any) -> None:
    """Scan ROOT and write images.csv, images.parquet, plan.json and run.json to a run folder."""
    config = _with_overrides(load_config_file(config_file), options)
    try:
        check_config(config, "command line")
    except ConfigError as exc:
        fail(str(exc))
    if not is_directory(root):
        fail(f"archive root not found or not a directory: {root}")
    try:
        with scan_progress(quiet) as progress:
            result = run(
                root,
                config,
                out=options["out"],
                catalog_path=location(options["catalog"]) if options["catalog"] else None,
                workers=options["workers"],
                rescan=options["rescan"],
                categorize=not options["no_clip"],
                allow_download=options["allow_download"],
                progress=RichProgress(progress),
            )
    except (RunFolderError, CatalogError, ClusterError, FastdupUnavailable) as exc:
        fail(str(exc))
        return
    except KeyboardInterrupt:
        err_console.print(
            "[yellow]interrupted:[/] finished files are saved in the catalog; "
            "run the same command again to resume."
        )
        sys.exit(130)
    if not quiet:
        print_summary(result)


def _with_overrides(config: Config, options: dict[str, Any]) -> Config:
    """The config with what the command line set on top."""
    if options["dup_engine"]:
        engine = options["dup_engine"]
        config = replace(config, duplicates=replace(config.duplicates, engine=engine))
    clip = {
        "model": options["model"],
        "model_path": str(options["model_path"]) if options["model_path"] else None,
        "device": options["device"],
        "batch_size": options["batch_size"],
    }
    clip = {key: value for key, value in clip.items() if value is not None}
    config = replace(config, classify=replace(config.classify, **clip))
    if options["engine"] or options["address"]:
        scan = replace(
            config.scan,
            engine=options["engine"] or ("ray" if options["address"] else config.scan.engine),
            ray_address=options["address"] or config.scan.ray_address,
        )
        config = replace(config, scan=scan)
    if options["sort_into"] or options["sort_copy"] or options["flatten"]:
        plan = replace(
            config.plan,
            sort_into=options["sort_into"] or config.plan.sort_into,
            sort_mode="copy" if options["sort_copy"] else config.plan.sort_mode,
            flatten=options["flatten"] or config.plan.flatten,
        )
        config = replace(config, plan=plan)
    return config


@cli.command("report")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--catalog", help=CATALOG_HELP)
@click.option("--config", "config_file", type=click.Path(path_type=Path), help="TOML config file.")
def report_command(run_dir: Path, catalog: str | None, config_file: Path | None) -> None:
    """(Re)write RUN_DIR/index.html from the run's outputs."""
    config = load_config_file(config_file)
    if not is_directory(run_dir) or not all(
        (run_dir / name).is_file() for name in ("images.csv", "run.json")
    ):
        fail(f"{run_dir} is not a hygiene run folder (no images.csv or run.json)")
    try:
        check_run_folder(run_dir)
    except RunFolderError as exc:
        fail(str(exc))
    record = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    where = catalog or record.get("catalog") or config.scan.catalog_location()
    try:
        conn = open_catalog(location(where))
    except CatalogError as exc:
        fail(str(exc))
        return
    written = write_report(run_dir, conn, read_report_data(run_dir, conn))
    out_console.print(f"report: {written}", highlight=False)


@cli.group("config")
def config_group() -> None:
    """Inspect configuration."""


@config_group.command("show")
@click.option("--config", "config_file", type=click.Path(path_type=Path), help="TOML config file.")
def config_show(config_file: Path | None) -> None:
    """Print the settings in force, as TOML."""
    config = load_config_file(config_file)
    sources = ", ".join(config.sources) or f"defaults (no {user_config_path()})"
    click.echo(f"# settings from: {sources}")
    click.echo(to_toml(config))


@cli.command()
@click.argument("folder", type=click.Path(path_type=Path), default=Path("hygiene-demo"))
@click.option("--seed", default=7, show_default=True, help="Seed for the generated archive.")
@click.option(
    "--workers", type=click.IntRange(1, 256), help="Worker processes, 1-256 (default: all cores)."
)
@click.option("--offline", is_flag=True, help="Never download the CLIP model for the demo.")
@click.pass_context
def demo(ctx: click.Context, folder: Path, seed: int, workers: int | None, offline: bool) -> None:
    """Generate a sample archive in FOLDER and scan it, every stage included: the default CLIP
    model is downloaded first when it is not cached (unless --offline)."""
    from hygiene.demo import build_sample_archive

    if folder.exists() and any(folder.iterdir()):
        fail(f"{folder} exists and is not empty; pass an empty or new folder")
    files = build_sample_archive(folder, seed=seed)
    err_console.print(f"generated {len(files)} sample files in {folder}")
    if not offline:
        _fetch_demo_model(load_config_file(None))
    ctx.invoke(scan, root=folder, workers=workers)


def _fetch_demo_model(config: Config) -> None:
    """The model the scan will use, downloaded once if missing; no network: one line, and the
    scan runs every other stage."""
    from hygiene.categorize.embed import CPU_MODEL, GPU_MODEL, pick_device
    from hygiene.categorize.models import (
        PullError,
        cached_weights,
        check_reachable,
        human_size,
        known,
        pull,
    )

    if config.classify.model_path:
        return  # local weights: nothing to fetch
    spec = config.classify.model
    if not spec:
        spec = GPU_MODEL if pick_device(config.classify.device) == "cuda" else CPU_MODEL
    entry = known(spec)
    if entry is None or cached_weights(entry) is not None:
        return
    try:
        from huggingface_hub import constants

        check_reachable(constants.ENDPOINT)
        err_console.print(
            f"downloading the CLIP model {spec} (about {human_size(entry.download_bytes)}) "
            "once, for the categories (--offline skips it)",
            highlight=False,
        )
        pull(spec)
    except PullError as exc:
        err_console.print(
            f"no model: {exc}; the demo runs every other stage",
            highlight=False,
            markup=False,
        )


for command in (
    apply_command,
    repair_command,
    undo_command,
    search_command,
    store_group,
    serve_command,
    models_group,
):
    cli.add_command(command)


def main() -> None:
    keep_freed_memory()
    cli(prog_name="hygiene")
