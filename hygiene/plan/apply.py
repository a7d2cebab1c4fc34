"""Carry out a plan behind checks (apply.py), put it back (undo.py); every file step goes through
fileops.py. These three are the only modules that change the user's files.

A plan is untrusted input (people edit it, the report exports it): every action is re-checked
against the disk, and a removal needs a keeper that is another file, present, unchanged and, for
its claimed kind, really a copy (identical bytes for `exact`, identical decoded pixels for
`pixel`). Only verified exact and pixel copies can be deleted for good; near copies and
quarantined files are only ever moved. Every step is journaled (journal.py) before and after.
"""

from __future__ import annotations

import filecmp
import hashlib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from hygiene import __version__
from hygiene.plan.decisions import Action, Plan, PlanError
from hygiene.plan.fileops import (
    Outcome,
    copy_verified,
    exists,
    fsync_dir,
    inside,
    is_plain_file,
    matches_stat,
    move_file,
    remove_partial,
    same_as_planned,
    sha256_of,
)
from hygiene.plan.journal import Faults, Journal, Track, replay
from hygiene.plan.repair import repair, repaired_bytes, resume_repair
from hygiene.protect import is_protected
from hygiene.scan import SNIFF_BYTES, DecodeError, decode, pixel_sha256_hex, sniff_image_format

RemovalMode = Literal["quarantine", "trash", "permanent"]
REMOVALS = ("delete", "quarantine")


def plan_sha256(plan_bytes: bytes) -> str:
    return hashlib.sha256(plan_bytes).hexdigest()


def check_plan_for_root(plan: Plan, root: Path) -> None:
    if Path(plan.header.root) != root:
        raise PlanError(f"the plan is for {plan.header.root}, not {root}")
    if _version(plan.header.version) > _version(__version__):
        raise PlanError(f"the plan was made by hygiene {plan.header.version}, newer than this one")
    if not root.is_dir():
        raise PlanError(f"the plan's root {root} does not exist")


def operation(action: Action, mode: RemovalMode) -> str:
    """What happens to the file: move | copy | trash | unlink. Quarantine actions only move."""
    if action.kind == "delete":
        return {"quarantine": "move", "trash": "trash", "permanent": "unlink"}[mode]
    if action.kind in ("copy", "repair"):
        return action.kind
    return "move"


def apply_plan(
    plan: Plan,
    plan_hash: str,
    journal_path: Path,
    *,
    mode: RemovalMode = "quarantine",
    execute: bool = True,
    protected_roots: Iterable[str] = (),
    max_pixels: int = 200_000_000,
    faults: Faults | None = None,
    only_kinds: tuple[str, ...] | None = None,
) -> Outcome:
    """Carry out the plan, or with execute=False check every action and change nothing.
    `only_kinds` limits it to some kinds of action (`hygiene repair` runs the repairs alone).

    `protected_roots` (prefixes, see protect.py) add to those the plan records. Removals run
    before moves and copies, so sorting a keeper never hides it from its group's removals.
    """
    root = Path(plan.header.root)
    journal = Journal(journal_path, faults)
    if execute:
        tracks, _ = replay(journal.open_for(plan_hash, root, mode))
    else:
        tracks, _ = replay(journal.read()[1]) if journal.path.is_file() else ({}, [])
    checks = _Checks(
        root,
        (*plan.header.protected_roots, *protected_roots),
        {a.source for a in plan.actions if a.kind in REMOVALS},
        max_pixels,
    )
    outcome = Outcome()
    wanted = [
        a
        for a in plan.actions
        if a.kind != "review" and (only_kinds is None or a.kind in only_kinds)
    ]
    ordered = sorted(wanted, key=lambda a: a.kind not in REMOVALS)
    for action in ordered:
        track = tracks.get(action.id)
        try:
            if track is not None and track.state == "done":
                outcome.skipped.append((action.source, "already done"))
                continue
            if track is not None and track.state == "undoing":
                outcome.skipped.append(
                    (action.source, "its undo was interrupted: run hygiene undo first")
                )
                continue
            if track is not None and track.state == "begun" and not execute:
                outcome.done.append((action.source, "interrupted earlier: would be finished"))
                continue
            if track is not None and track.state == "begun":
                resumed = _resume(track, root, journal)
                if resumed is not None:
                    (outcome.done if resumed[0] else outcome.skipped).append(
                        (action.source, resumed[1])
                    )
                    continue
            reason = checks.refusal(action, mode)
            if reason:
                outcome.skipped.append((action.source, reason))
                continue
            op = operation(action, mode)
            if execute:
                _carry_out(action, op, root, journal, checks.max_pixels)
            outcome.done.append((action.source, _describe(action, op)))
        except OSError as exc:
            outcome.failed.append((action.source, exc.strerror or str(exc)))
    return outcome


# ---------------------------------------------------------------- checks


class _Checks:
    """Everything an action must satisfy at apply time, with keeper verdicts cached per file."""

    def __init__(
        self, root: Path, protected: tuple[str, ...], removal_sources: set[str], max_pixels: int
    ) -> None:
        self.root, self.protected = root, protected
        self.removal_sources, self.max_pixels = removal_sources, max_pixels
        self._sha_cache: dict[tuple[str, int, int], str] = {}

    def refusal(self, action: Action, mode: RemovalMode) -> str:
        """Why the action must not run now, or "" when it may."""
        root, source = self.root, self.root / action.source
        if is_protected(action.source, self.protected):
            return "under a protected folder"
        if not inside(root, source) or (
            action.destination is not None and not inside(root, root / action.destination)
        ):
            return "path escapes the archive root"
        if not matches_stat(source, action.fingerprint):
            return (
                "source is gone"
                if not is_plain_file(source)
                else ("source changed since the plan was made")
            )
        uses_destination = operation(action, mode) in ("move", "copy", "repair")
        if uses_destination and exists(root / (action.destination or "")):
            return "destination already exists"
        if action.kind == "delete":
            if mode == "permanent" and action.dup_kind not in ("exact", "pixel"):
                return (
                    "near duplicates are never deleted permanently "
                    "(apply without --permanently to quarantine them)"
                )
            problem = self._keeper_problem(action)
            if problem:
                return problem + ": nothing removed"
        if self._sha256(source) != action.fingerprint.sha256:
            return "source content changed since the plan was made"
        if action.kind == "repair":
            repaired = repaired_bytes(source.read_bytes(), self.max_pixels)
            if isinstance(repaired, str):
                return repaired
        return ""

    def _keeper_problem(self, action: Action) -> str:
        keeper_rel, expected = action.keeper, action.keeper_fingerprint
        if keeper_rel is None or expected is None:
            return "no keeper named"
        if keeper_rel == action.source:
            return "the plan names the file itself as its keeper"
        if keeper_rel in self.removal_sources:
            return "its keeper is itself planned for removal"
        source, keeper = self.root / action.source, self.root / keeper_rel
        if not inside(self.root, keeper) or not matches_stat(keeper, expected):
            return "the group's keeper is missing or changed"
        if os.path.samefile(source, keeper):
            return "the keeper is the same file as the source"
        if self._sha256(keeper) != expected.sha256:
            return "the group's keeper is missing or changed"
        if action.dup_kind == "exact" and not (
            expected.sha256 == action.fingerprint.sha256 and filecmp.cmp(source, keeper, False)
        ):
            return "not an exact copy of its keeper"
        if action.dup_kind == "pixel":
            pixels = (self._pixel_hash(source), self._pixel_hash(keeper))
            if None in pixels:
                return "cannot verify it is a pixel copy of its keeper"
            if pixels[0] != pixels[1]:
                return "not a pixel-identical copy of its keeper"
        return ""

    def _sha256(self, path: Path) -> str:
        info = path.stat()
        key = (str(path), info.st_size, info.st_mtime_ns)
        if key not in self._sha_cache:
            self._sha_cache[key] = sha256_of(path)
        return self._sha_cache[key]

    def _pixel_hash(self, path: Path) -> str | None:
        data = path.read_bytes()
        image_format = sniff_image_format(data[:SNIFF_BYTES])
        if image_format is None:
            return None
        try:
            decoded = decode(data, image_format, max_pixels=self.max_pixels, reduce_to_px=1 << 30)
        except DecodeError:
            return None
        return pixel_sha256_hex(decoded.rgb)


# ---------------------------------------------------------------- carrying out, resuming


def _carry_out(action: Action, op: str, root: Path, journal: Journal, max_pixels: int) -> None:
    fingerprint = action.fingerprint
    track = Track(
        action.id,
        "begun",
        op,
        action.source,
        action.destination if op in ("move", "copy", "repair") else None,
        fingerprint.sha256,
        fingerprint.size_bytes,
        fingerprint.mtime_ns,
    )
    src = root / action.source
    if op == "repair":
        repair(action, track, root, journal, max_pixels)
        return
    journal.begin(track)
    faults = journal.faults
    if op == "move":
        move_file(src, root / (action.destination or ""), fingerprint.sha256, faults)
    elif op == "copy":
        copy_verified(src, root / (action.destination or ""), fingerprint.sha256, faults)
    elif op == "trash":
        from send2trash import send2trash

        faults.step()
        send2trash(str(src))
    else:
        faults.step()
        src.unlink()
        fsync_dir(src.parent)
    journal.write(id=action.id, state="done")


def _resume(track: Track, root: Path, journal: Journal) -> tuple[bool, str] | None:
    """An action begun but never finished: settle it from the disk. Returns (finished, message),
    or None when nothing happened yet and the action should be checked and run afresh."""
    src = root / track.source
    dst = root / track.destination if track.destination is not None else None
    if track.op == "repair" and dst is not None:
        return resume_repair(track, src, dst, journal)
    if dst is not None:
        remove_partial(dst)
    source_is_original = same_as_planned(src, track)
    if track.op in ("trash", "unlink"):
        if not exists(src):
            return journal.settle(track, "done", "finished (it was removed before the stop)")
        if source_is_original:
            return None
        return journal.settle(track, "abandoned", "left alone: another file now has its name")
    assert dst is not None
    dst_is_ours = exists(dst) and sha256_of(dst) == track.sha256
    if track.op == "copy":
        if dst_is_ours:
            return journal.settle(track, "done", "finished (the copy was complete)")
        if exists(dst):
            return journal.settle(track, "abandoned", "destination already exists")
        return None
    if exists(dst):
        if not exists(src):
            return journal.settle(track, "done", "finished (it was moved before the stop)")
        if dst_is_ours and source_is_original:
            journal.faults.step()
            src.unlink()  # the verified copy at dst is the file now; finish the move
            fsync_dir(src.parent)
            return journal.settle(track, "done", "finished (the copy was complete)")
        if dst_is_ours:
            return journal.settle(
                track, "done", "finished; a new file now at its old path was left alone"
            )
        return journal.settle(track, "abandoned", "left alone: destination holds another file")
    if source_is_original:
        return None
    return journal.settle(track, "abandoned", "left alone: the file changed or is gone")


def _describe(action: Action, op: str) -> str:
    return {
        "move": "quarantined" if action.kind in REMOVALS else "moved",
        "copy": "copied",
        "repair": "repaired (the original is in quarantine)",
        "trash": "sent to the OS trash",
        "unlink": f"deleted permanently (verified {action.dup_kind} copy of its keeper)",
    }[op]


def _version(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split("."))
    except ValueError:
        return (1 << 30,)
