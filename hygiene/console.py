"""What the commands show: consoles, progress bars, tables and one-line errors."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

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

from hygiene.config import Config, ConfigError, load_config
from hygiene.outputs import STATUSES
from hygiene.paths import to_text
from hygiene.pipeline import RunResult
from hygiene.plan import Outcome, Plan

err_console = Console(stderr=True)
out_console = Console()


class FilesPerSecond(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        unit = task.fields.get("unit", "files")
        return Text(f"{speed:,.0f} {unit}/s" if speed else f"– {unit}/s", style="cyan")


def scan_progress(quiet: bool) -> Progress:
    """The progress display of a scan, on stderr (off with --quiet)."""
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        FilesPerSecond(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=err_console,
        disable=quiet,
        transient=False,
    )


class RichProgress:
    """Progress bars for pipeline.run, one per stage with its own rate: the scan's files, the
    candidate pairs the duplicate stage compares, then the images CLIP embeds."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._task = progress.add_task("discovering", total=None)
        self._pairs_task: TaskID | None = None
        self._clip_task: TaskID | None = None

    def start(self, total_files: int) -> None:
        self._progress.update(self._task, description="scanning", total=total_files)

    def advance(self, files: int = 1) -> None:
        self._progress.advance(self._task, files)

    def comparing(self, done: int, total: int) -> None:
        if self._pairs_task is None:
            self._pairs_task = self._progress.add_task("comparing", total=total, unit="pairs")
        self._progress.update(self._pairs_task, total=total, completed=done)

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


def fail(message: str, code: int = 2) -> None:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    sys.exit(code)


def load_config_file(config_file: Path | None) -> Config:
    try:
        return load_config(config_file)
    except ConfigError as exc:
        fail(str(exc))
        raise AssertionError from exc  # unreachable: fail exits


def print_summary(result: RunResult) -> None:
    summary, stats, folder = result.summary, result.stats, result.folder
    categories, clip_status = result.category_report, result.clip_status
    table = Table(title="hygiene scan", show_header=True, header_style="bold")
    table.add_column("")
    table.add_column("files", justify="right")
    table.add_column("size", justify="right")
    for status in STATUSES:
        table.add_row(
            status, f"{summary.by_status[status]:,}", human_bytes(summary.bytes_by_status[status])
        )
    table.add_row("[bold]total", f"[bold]{summary.files:,}", human_bytes(summary.bytes_total))
    for flag in ("dark", "bright", "blurry"):
        table.add_row(f"flag: {flag}", f"{summary.flags[flag]:,}", "")
    table.add_row(
        f"duplicates ({summary.duplicate_groups:,} groups)",
        f"{summary.duplicate_files:,}",
        human_bytes(summary.reclaimable_bytes),
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
    if result.search_status:
        out_console.print(f"search index: {result.search_status}", highlight=False)
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


def human_bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    return f"{size} B"


def shown(path: str) -> str:
    """A path for the terminal: its text form, with control characters (a newline in a file
    name) escaped so every entry stays on one line."""
    return "".join(f"\\x{ord(c):02x}" if ord(c) < 32 or ord(c) == 127 else c for c in to_text(path))


def print_plan(plan: Plan, mode: str) -> None:
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
        table.add_row(label, f"{files:,}", human_bytes(size))
    out_console.print(table)


def print_outcome(outcome: Outcome, verb: str) -> None:
    counts = (len(outcome.done), len(outcome.skipped), len(outcome.failed))
    out_console.print(f"{verb}: {counts[0]:,}; skipped: {counts[1]:,}; failed: {counts[2]:,}")
    noteworthy = [
        *((path, message) for path, message in outcome.done if "another file" in message),
        *outcome.skipped,
        *outcome.failed,
    ]
    for path, message in noteworthy[:50]:
        out_console.print(Text(f"  {shown(path)}: {message}"), highlight=False, soft_wrap=True)
    if len(noteworthy) > 50:
        out_console.print(f"  ... and {len(noteworthy) - 50:,} more", highlight=False)
