"""Undo: put back what an apply moved or copied, newest first, from its journal. Never removes
or overwrites a file that apply did not put there: an occupied original path gets the file back
under a new name beside it."""

from __future__ import annotations

import errno
from pathlib import Path

from hygiene.paths import to_text
from hygiene.plan.fileops import (
    Outcome,
    exists,
    fsync_dir,
    move_file,
    partial_name,
    relative,
    remove_partial,
    same_as_planned,
    same_content,
    same_sha,
    sha256_of,
)
from hygiene.plan.journal import Faults, Journal, Track, replay


def undo(
    journal_path: Path,
    root: Path,
    *,
    execute: bool,
    faults: Faults | None = None,
) -> Outcome:
    """Put back what the journal says was moved or copied, newest first; dry run unless
    `execute`. Never removes or overwrites a file that apply did not put there."""
    journal = Journal(journal_path, faults)
    _, events = journal.read()
    tracks, order = replay(events)
    outcome = Outcome()
    for action_id in reversed(order):
        track = tracks[action_id]
        if track.state in ("undone", "abandoned"):
            continue
        try:
            _undo_one(track, root, journal, execute, outcome)
        except OSError as exc:
            outcome.failed.append((track.source, exc.strerror or str(exc)))
    return outcome


def _undo_one(track: Track, root: Path, journal: Journal, execute: bool, outcome: Outcome) -> None:
    src = root / track.source
    if track.op in ("trash", "unlink"):
        if track.state == "begun" and exists(src):
            _finish_undo(journal, track, execute)  # the removal never happened
            return
        why = "it is in the OS trash" if track.op == "trash" else "it was deleted permanently"
        outcome.failed.append((track.source, f"cannot restore: {why}"))
        return
    assert track.destination is not None
    dst = root / track.destination
    if execute:
        remove_partial(dst)
        if track.restore_to is not None:
            remove_partial(root / track.restore_to)
    if track.op == "repair":
        if execute:
            remove_partial(src)
        clean = track.result_sha256
        if clean is not None and exists(dst) and exists(src) and same_sha(src, clean):
            if not execute:
                outcome.done.append((track.source, "restored (the clean copy is removed)"))
                return
            journal.write(id=track.id, state="undo-begin", restore_to=to_text(track.source))
            journal.faults.step()
            src.unlink()  # the clean copy apply wrote; the original comes back below
            fsync_dir(src.parent)
    if track.op == "copy" and exists(src) and same_content(src, track):
        if exists(dst) and sha256_of(dst) != track.sha256:
            _finish_undo(journal, track, execute)
            outcome.skipped.append((track.source, "copy left in place: it was changed since"))
            return
        if exists(dst):
            _drop_our_copy(dst, track, journal, execute)  # the original is still in place
        _finish_undo(journal, track, execute)
        outcome.done.append((track.source, f"removed the copy {to_text(track.destination)}"))
        return
    if track.restore_to is not None and exists(restored := root / track.restore_to):
        # an interrupted undo: its new name exists; if the old one does too, that is our copy
        if exists(dst) and sha256_of(dst) == track.sha256 and same_content(restored, track):
            _drop_our_copy(dst, track, journal, execute)
        if not exists(dst):
            _finish_undo(journal, track, execute)
            outcome.done.append((track.source, f"restored as {to_text(track.restore_to)}"))
            return
    if not exists(dst):
        if same_as_planned(src, track):
            _finish_undo(journal, track, execute)
            outcome.done.append((track.source, "already in place"))
        else:
            outcome.failed.append(
                (track.source, f"cannot restore: nothing at {track.destination} any more")
            )
        return
    if track.op == "move" and same_as_planned(src, track) and sha256_of(dst) == track.sha256:
        # a move cut short after the copy was made: the original never left; drop our copy
        _drop_our_copy(dst, track, journal, execute)
        _finish_undo(journal, track, execute)
        outcome.done.append((track.source, "already in place"))
        return
    target = _restore_target(root, track)
    if execute:
        journal.write(id=track.id, state="undo-begin", restore_to=to_text(relative(root, target)))
        move_file(dst, target, track.sha256, journal.faults)
    _finish_undo(journal, track, execute)
    if target == src:
        outcome.done.append((track.source, "restored"))
    else:
        outcome.done.append(
            (track.source, f"restored as {target.name}: another file now has its name")
        )


def _restore_target(root: Path, track: Track) -> Path:
    """The original path, or when another file took it, a new name beside it (never clobbers)."""
    if track.restore_to is not None:
        earlier = root / track.restore_to
        if not exists(earlier):
            return earlier
    src = root / track.source
    if not exists(src):
        return src
    for counter in range(1, 10_000):
        label = "restored" if counter == 1 else f"restored {counter}"
        candidate = src.with_name(f"{src.stem} ({label}){src.suffix}")
        if not exists(candidate) and not exists(partial_name(candidate)):
            return candidate
    raise OSError(errno.EEXIST, "no free name to restore to")


def _drop_our_copy(dst: Path, track: Track, journal: Journal, execute: bool) -> None:
    """Remove a copy apply made whose content is also at its original place."""
    if execute:
        journal.write(id=track.id, state="undo-begin", restore_to=None)
        journal.faults.step()
        dst.unlink()
        fsync_dir(dst.parent)


def _finish_undo(journal: Journal, track: Track, execute: bool) -> None:
    if execute:
        journal.write(id=track.id, state="undone")
