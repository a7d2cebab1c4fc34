"""The commands that change the user's files: apply, repair and undo (each a dry run unless
--execute). Registered on the `hygiene` group by cli.py."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import click

from hygiene.console import (
    fail,
    load_config_file,
    out_console,
    print_outcome,
    print_plan,
)
from hygiene.paths import is_directory
from hygiene.plan import (
    LEGACY_JOURNAL_NAME,
    Journal,
    JournalError,
    Plan,
    PlanError,
    apply_plan,
    check_plan_for_root,
    journal_path_for,
    parse_plan,
    plan_sha256,
)
from hygiene.plan.undo import undo
from hygiene.protect import protected_prefixes

_EXPECTED_ROOT = click.option(
    "--root",
    "expected_root",
    type=click.Path(path_type=Path),
    help="Refuse the plan unless it is for this archive.",
)


@click.command("apply")
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
        fail("--trash and --permanently exclude each other")
    mode = "trash" if trash else "permanent" if permanently else "quarantine"
    _carry_out_plan(plan_file, execute, mode, expected_root, config_file, None)


@click.command("repair")
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
    config = load_config_file(config_file)
    plan_file = _plan_path(plan_file)
    plan, plan_hash = _read_plan(plan_file)
    root = expected_root.resolve() if expected_root else Path(plan.header.root)
    try:
        check_plan_for_root(plan, root)
    except PlanError as exc:
        fail(str(exc))
    shown = (
        plan
        if only_kinds is None
        else replace(plan, actions=tuple(a for a in plan.actions if a.kind in only_kinds))
    )
    print_plan(shown, mode)
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
        fail(str(exc))
        return
    print_outcome(outcome, "applied" if execute else "would apply")
    if not execute:
        out_console.print("dry run: nothing was changed. Add --execute to carry it out.")
        return
    out_console.print(
        f"journal: {journal} (hygiene undo {plan_file})", highlight=False, soft_wrap=True
    )
    if outcome.failed:
        sys.exit(1)


@click.command("undo")
@click.argument("target", type=click.Path(path_type=Path))
@click.option("--execute", is_flag=True, help="Restore the files (default: only show what).")
def undo_command(target: Path, execute: bool) -> None:
    """Put back what `hygiene apply PLAN --execute` moved (dry run unless --execute).

    TARGET is the plan (or its run folder), or one of the journal-*.jsonl files beside it.
    """
    journal, root = _journal_for(target)
    outcome = undo(journal, root, execute=execute)
    print_outcome(outcome, "restored" if execute else "would restore")
    if not execute:
        out_console.print("dry run: nothing was changed. Add --execute to restore.")
    if outcome.failed:
        sys.exit(1)


def _journal_for(target: Path) -> tuple[Path, Path]:
    """The journal to undo and its archive root."""
    if target.suffix == ".jsonl" and target.is_file():
        header, _ = Journal(target).read()
        if header.root is None:
            fail(f"{target} is a journal of hygiene 0.1: pass the plan.json beside it")
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
        fail(
            f"no journal for this version of {plan_file} (was it edited after it was applied?); "
            f"journals beside it: {names}; undo one with: hygiene undo JOURNAL --execute"
        )
    fail(f"no journal next to {plan_file}: nothing was applied from this plan")
    raise AssertionError  # unreachable: fail exits


def _plan_path(plan_file: Path) -> Path:
    """A run folder stands for the plan.json inside it."""
    return plan_file / "plan.json" if is_directory(plan_file) else plan_file


def _read_plan(plan_file: Path) -> tuple[Plan, str]:
    """The parsed plan and the sha256 of its bytes (which ties a journal to it)."""
    try:
        data = plan_file.read_bytes()
        return parse_plan(data.decode("utf-8")), plan_sha256(data)
    except OSError as exc:
        fail(f"cannot read plan {plan_file}: {exc.strerror}")
    except UnicodeDecodeError:
        fail(f"{plan_file}: not a UTF-8 text file")
    except PlanError as exc:
        fail(f"{plan_file}: {exc}")
    raise AssertionError  # unreachable: fail exits
