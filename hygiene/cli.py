"""Commands only: parse arguments, call the stages, render. Errors become one line, no traceback."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from hygiene import __version__
from hygiene.apply import Outcome, apply_plan, check_plan_for_root, plan_sha256, undo
from hygiene.catalog import CatalogError, open_catalog
from hygiene.config import (
    Config,
    ConfigError,
    check_config,
    load_config,
    to_toml,
    user_config_path,
)
from hygiene.export import STATUSES
from hygiene.fastdup_engine import FastdupUnavailable
from hygiene.journal import (
    LEGACY_JOURNAL_NAME,
    Journal,
    JournalError,
    journal_path_for,
)
from hygiene.paths import to_text
from hygiene.pipeline import RunResult, run
from hygiene.plan import Plan, PlanError, parse_plan
from hygiene.protect import protected_prefixes
from hygiene.report import write_report
from hygiene.runs import (
    RunFolderError,
    check_run_folder,
)

err_console = Console(stderr=True)
out_console = Console()


class _FilesPerSecond(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        unit = task.fields.get("unit", "files")
        return Text(f"{speed:,.0f} {unit}/s" if speed else f"– {unit}/s", style="cyan")


class _RichProgress:
    """Progress bars for pipeline.run: the scan's files, then the images CLIP embeds."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._task = progress.add_task("discovering", total=None)
        self._clip_task: TaskID | None = None

    def start(self, total_files: int) -> None:
        self._progress.update(self._task, description="scanning", total=total_files)

    def advance(self, files: int = 1) -> None:
        self._progress.advance(self._task, files)

    def categorizing(self) -> Callable[[int], None]:
        task = self._progress.add_task("categorizing", total=None, unit="images")
        self._clip_task = task
        return lambda images: self._progress.advance(task, images)

    def categorized(self, images: int | None) -> None:
        if self._clip_task is None:
            return
        if images is None:
            self._progress.update(self._clip_task, visible=False)
        else:
            self._progress.update(self._clip_task, total=images, completed=images)


def _fail(message: str, code: int = 2) -> None:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    sys.exit(code)


def _load_config(config_file: Path | None) -> Config:
    try:
        return load_config(config_file)
    except ConfigError as exc:
        _fail(str(exc))
        raise AssertionError from exc  # unreachable: _fail exits


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
@click.option("--catalog", type=click.Path(path_type=Path), help="SQLite cache of scan results.")
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
def scan(
    root: Path,
    out: Path | None,
    workers: int | None,
    config_file: Path | None,
    catalog: Path | None,
    no_clip: bool,
    model: str | None,
    model_path: Path | None,
    device: str | None,
    batch_size: int | None,
    allow_download: bool,
    dup_engine: str | None,
    sort_into: str | None,
    sort_copy: bool,
    flatten: bool,
    rescan: bool,
    quiet: bool,
) -> None:
    """Scan ROOT and write images.csv, images.parquet, plan.json and run.json to a run folder."""
    config = _load_config(config_file)
    if dup_engine:
        config = replace(config, duplicates=replace(config.duplicates, engine=dup_engine))
    clip_overrides = {
        "model": model,
        "model_path": str(model_path) if model_path else None,
        "device": device,
        "batch_size": batch_size,
    }
    clip_overrides = {key: value for key, value in clip_overrides.items() if value is not None}
    config = replace(config, classify=replace(config.classify, **clip_overrides))
    if sort_into or sort_copy or flatten:
        plan_settings = replace(
            config.plan,
            sort_into=sort_into or config.plan.sort_into,
            sort_mode="copy" if sort_copy else config.plan.sort_mode,
            flatten=flatten or config.plan.flatten,
        )
        config = replace(config, plan=plan_settings)
    try:
        check_config(config, "command line")
    except ConfigError as exc:
        _fail(str(exc))
    if not root.is_dir():
        _fail(f"archive root not found or not a directory: {root}")
    try:
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            _FilesPerSecond(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=err_console,
            disable=quiet,
            transient=False,
        ) as progress:
            result = run(
                root,
                config,
                out=out,
                catalog_path=catalog,
                workers=workers,
                rescan=rescan,
                categorize=not no_clip,
                allow_download=allow_download,
                progress=_RichProgress(progress),
            )
    except (RunFolderError, CatalogError, FastdupUnavailable) as exc:
        _fail(str(exc))
        return
    except KeyboardInterrupt:
        err_console.print(
            "[yellow]interrupted:[/] finished files are saved in the catalog; "
            "run the same command again to resume."
        )
        sys.exit(130)
    if not quiet:
        _print_summary(result)


def _print_summary(result: RunResult) -> None:
    summary, stats, folder = result.summary, result.stats, result.folder
    categories, clip_status = result.category_report, result.clip_status
    table = Table(title="hygiene scan", show_header=True, header_style="bold")
    table.add_column("")
    table.add_column("files", justify="right")
    table.add_column("size", justify="right")
    for status in STATUSES:
        table.add_row(
            status, f"{summary.by_status[status]:,}", _human_bytes(summary.bytes_by_status[status])
        )
    table.add_row("[bold]total", f"[bold]{summary.files:,}", _human_bytes(summary.bytes_total))
    for flag in ("dark", "bright", "blurry"):
        table.add_row(f"flag: {flag}", f"{summary.flags[flag]:,}", "")
    table.add_row(
        f"duplicates ({summary.duplicate_groups:,} groups)",
        f"{summary.duplicate_files:,}",
        _human_bytes(summary.reclaimable_bytes),
    )
    table.add_row("similar-shot clusters", f"{summary.similar_clusters:,}", "")
    elapsed = max(stats.elapsed_s, 1e-9)
    out_console.print(table)
    out_console.print(
        f"decoded {stats.decoded:,}, from cache {stats.cached_by_path + stats.cached_by_content:,} "
        f"in {stats.elapsed_s:.1f} s ({stats.files_seen / elapsed:,.0f} files/s)",
        highlight=False,
    )
    if unverified := summary.by_status["unverified"]:
        out_console.print(
            f"unverified: {unverified:,} file{'s' if unverified != 1 else ''} not checked "
            "(over a size or pixel cap, timed out, or crashed the decoder: see the error "
            "column); never removed, and the next run tries again",
            highlight=False,
        )
    out_console.print(f"categorization: {clip_status}", highlight=False)
    if categories is not None and summary.categories:
        distribution = Table(title="categories", show_header=True, header_style="bold")
        distribution.add_column("category")
        distribution.add_column("images", justify="right")
        for name, count in summary.categories.most_common():
            distribution.add_row(name, f"{count:,}")
        out_console.print(distribution)
    extra = "categories.csv, embeddings.parquet, " if categories is not None else ""
    out_console.print(f"report: {folder}/index.html", highlight=False)
    out_console.print(
        f"results: {folder}/images.csv (and images.parquet, duplicates.csv, similar.csv, "
        f"{extra}run.json)",
        highlight=False,
    )


def _human_bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    return f"{size} B"


@cli.command("report")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--catalog", type=click.Path(path_type=Path), help="SQLite cache of scan results.")
@click.option("--config", "config_file", type=click.Path(path_type=Path), help="TOML config file.")
def report_command(run_dir: Path, catalog: Path | None, config_file: Path | None) -> None:
    """(Re)write RUN_DIR/index.html from the run's outputs."""
    config = _load_config(config_file)
    if not (run_dir / "images.csv").is_file() or not (run_dir / "run.json").is_file():
        _fail(f"{run_dir} is not a hygiene run folder (no images.csv or run.json)")
    try:
        check_run_folder(run_dir)
    except RunFolderError as exc:
        _fail(str(exc))
    record = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    catalog_path = catalog or Path(record.get("catalog") or config.scan.catalog_path())
    try:
        conn = open_catalog(catalog_path)
    except CatalogError as exc:
        _fail(str(exc))
        return
    out_console.print(f"report: {write_report(run_dir, conn)}", highlight=False)


_EXPECTED_ROOT = click.option(
    "--root",
    "expected_root",
    type=click.Path(path_type=Path),
    help="Refuse the plan unless it is for this archive.",
)


@cli.command("apply")
@click.argument("plan_file", type=click.Path(path_type=Path))
@click.option("--execute", is_flag=True, help="Carry the plan out (default: only check it).")
@click.option("--trash", is_flag=True, help="Send removed duplicates to the OS trash.")
@click.option(
    "--permanently", is_flag=True, help="Delete verified exact/pixel duplicates for good."
)
@_EXPECTED_ROOT
@click.option("--config", "config_file", type=click.Path(path_type=Path), help="TOML config file.")
def apply_command(
    plan_file: Path,
    execute: bool,
    trash: bool,
    permanently: bool,
    expected_root: Path | None,
    config_file: Path | None,
) -> None:
    """Check PLAN_FILE (plan.json) as a dry run, or carry it out with --execute."""
    if trash and permanently:
        _fail("--trash and --permanently exclude each other")
    mode = "trash" if trash else "permanent" if permanently else "quarantine"
    _carry_out_plan(plan_file, execute, mode, expected_root, config_file, None)


@cli.command("repair")
@click.argument("plan_file", type=click.Path(path_type=Path))
@click.option("--execute", is_flag=True, help="Write the clean copies (default: only check).")
@_EXPECTED_ROOT
@click.option("--config", "config_file", type=click.Path(path_type=Path), help="TOML config file.")
def repair_command(
    plan_file: Path, execute: bool, expected_root: Path | None, config_file: Path | None
) -> None:
    """Carry out only the plan's repairs: each damaged-but-complete file gets a clean copy in
    its place (same pixels and metadata), the original goes to quarantine. Dry run unless
    --execute; `hygiene undo PLAN` puts the originals back."""
    _carry_out_plan(plan_file, execute, "quarantine", expected_root, config_file, ("repair",))


def _carry_out_plan(
    plan_file: Path,
    execute: bool,
    mode: str,
    expected_root: Path | None,
    config_file: Path | None,
    only_kinds: tuple[str, ...] | None,
) -> None:
    config = _load_config(config_file)
    plan_file = _plan_path(plan_file)
    plan, plan_hash = _read_plan(plan_file)
    root = expected_root.resolve() if expected_root else Path(plan.header.root)
    try:
        check_plan_for_root(plan, root)
    except PlanError as exc:
        _fail(str(exc))
    shown = (
        plan
        if only_kinds is None
        else replace(plan, actions=tuple(a for a in plan.actions if a.kind in only_kinds))
    )
    _print_plan(shown, mode)
    journal = journal_path_for(plan_file, plan_hash)
    try:
        outcome = apply_plan(
            plan,
            plan_hash,
            journal,
            mode=mode,  # type: ignore[arg-type]
            execute=execute,
            protected_roots=protected_prefixes(root, config.duplicates.protected_roots),
            max_pixels=config.scan.max_pixels,
            only_kinds=only_kinds,
        )
    except JournalError as exc:
        _fail(str(exc))
        return
    _print_outcome(outcome, "applied" if execute else "would apply")
    if not execute:
        out_console.print("dry run: nothing was changed. Add --execute to carry it out.")
        return
    out_console.print(
        f"journal: {journal} (hygiene undo {plan_file})", highlight=False, soft_wrap=True
    )
    if outcome.failed:
        sys.exit(1)


@cli.command("undo")
@click.argument("target", type=click.Path(path_type=Path))
@click.option("--execute", is_flag=True, help="Restore the files (default: only show what).")
def undo_command(target: Path, execute: bool) -> None:
    """Put back what `hygiene apply PLAN --execute` moved (dry run unless --execute).

    TARGET is the plan (or its run folder), or one of the journal-*.jsonl files beside it.
    """
    journal, root = _journal_for(target)
    outcome = undo(journal, root, execute=execute)
    _print_outcome(outcome, "restored" if execute else "would restore")
    if not execute:
        out_console.print("dry run: nothing was changed. Add --execute to restore.")
    if outcome.failed:
        sys.exit(1)


def _journal_for(target: Path) -> tuple[Path, Path]:
    """The journal to undo and its archive root."""
    if target.suffix == ".jsonl" and target.is_file():
        header, _ = Journal(target).read()
        if header.root is None:
            _fail(f"{target} is a journal of hygiene 0.1: pass the plan.json beside it")
        return target, Path(header.root or "")
    plan_file = _plan_path(target)
    plan, plan_hash = _read_plan(plan_file)
    journal = journal_path_for(plan_file, plan_hash)
    if journal.is_file():
        return journal, Path(plan.header.root)
    legacy = plan_file.parent / LEGACY_JOURNAL_NAME
    if legacy.is_file():
        return legacy, Path(plan.header.root)
    others = sorted(plan_file.parent.glob("journal-*.jsonl"))
    if others:
        names = ", ".join(str(p) for p in others)
        _fail(
            f"no journal for this version of {plan_file} (was it edited after it was applied?); "
            f"journals beside it: {names}; undo one with: hygiene undo JOURNAL --execute"
        )
    _fail(f"no journal next to {plan_file}: nothing was applied from this plan")
    raise AssertionError  # unreachable: _fail exits


def _plan_path(plan_file: Path) -> Path:
    """A run folder stands for the plan.json inside it."""
    return plan_file / "plan.json" if plan_file.is_dir() else plan_file


def _read_plan(plan_file: Path) -> tuple[Plan, str]:
    """The parsed plan and the sha256 of its bytes (which ties a journal to it)."""
    try:
        data = plan_file.read_bytes()
        return parse_plan(data.decode("utf-8")), plan_sha256(data)
    except OSError as exc:
        _fail(f"cannot read plan {plan_file}: {exc.strerror}")
    except UnicodeDecodeError:
        _fail(f"{plan_file}: not a UTF-8 text file")
    except PlanError as exc:
        _fail(f"{plan_file}: {exc}")
    raise AssertionError  # unreachable: _fail exits


def _shown(path: str) -> str:
    """A path for the terminal: its text form, with control characters (a newline in a file
    name) escaped so every entry stays on one line."""
    return "".join(f"\\x{ord(c):02x}" if ord(c) < 32 or ord(c) == 127 else c for c in to_text(path))


def _print_plan(plan: Plan, mode: str) -> None:
    table = Table(title=f"plan for {plan.header.root}", header_style="bold")
    for column in ("action", "files", "size"):
        table.add_column(column, justify="left" if column == "action" else "right")
    counts: dict[str, list[int]] = {}
    for action in plan.actions:
        label = (
            action.kind
            if action.kind not in ("delete", "quarantine")
            else f"{action.kind} ({mode})"
        )
        entry = counts.setdefault(label, [0, 0])
        entry[0] += 1
        entry[1] += action.fingerprint.size_bytes
    for label, (files, size) in sorted(counts.items()):
        table.add_row(label, f"{files:,}", _human_bytes(size))
    out_console.print(table)


def _print_outcome(outcome: Outcome, verb: str) -> None:
    counts = (len(outcome.done), len(outcome.skipped), len(outcome.failed))
    out_console.print(f"{verb}: {counts[0]:,}; skipped: {counts[1]:,}; failed: {counts[2]:,}")
    noteworthy = [
        *((path, message) for path, message in outcome.done if "another file" in message),
        *outcome.skipped,
        *outcome.failed,
    ]
    for path, message in noteworthy[:50]:
        out_console.print(Text(f"  {_shown(path)}: {message}"), highlight=False, soft_wrap=True)
    if len(noteworthy) > 50:
        out_console.print(f"  ... and {len(noteworthy) - 50:,} more", highlight=False)


@cli.group("config")
def config_group() -> None:
    """Inspect configuration."""


@config_group.command("show")
@click.option("--config", "config_file", type=click.Path(path_type=Path), help="TOML config file.")
def config_show(config_file: Path | None) -> None:
    """Print the settings in force, as TOML."""
    config = _load_config(config_file)
    sources = ", ".join(config.sources) or f"defaults (no {user_config_path()})"
    click.echo(f"# settings from: {sources}")
    click.echo(to_toml(config))


@cli.command()
@click.argument("folder", type=click.Path(path_type=Path), default=Path("hygiene-demo"))
@click.option("--seed", default=7, show_default=True, help="Seed for the generated archive.")
@click.option(
    "--workers", type=click.IntRange(1, 256), help="Worker processes, 1-256 (default: all cores)."
)
@click.pass_context
def demo(ctx: click.Context, folder: Path, seed: int, workers: int | None) -> None:
    """Generate a sample archive in FOLDER and scan it."""
    from hygiene.samples import build_sample_archive

    if folder.exists() and any(folder.iterdir()):
        _fail(f"{folder} exists and is not empty; pass an empty or new folder")
    files = build_sample_archive(folder, seed=seed)
    err_console.print(f"generated {len(files)} sample files in {folder}")
    ctx.invoke(scan, root=folder, workers=workers)


def main() -> None:
    cli(prog_name="hygiene")
