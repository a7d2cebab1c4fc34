"""The only module that changes user files: carry out a plan behind checks, and undo it.

A plan is untrusted input (people edit it, the report exports it), so nothing it says is taken on
faith: every action is re-checked against the disk, a removal needs a keeper that is another file,
present, unchanged and, for its claimed kind, really a copy (identical bytes for `exact`, identical
decoded pixels for `pixel`). Only verified exact and pixel copies can be deleted for good; near
copies and quarantined files are only ever moved. Every step is journaled (see journal.py) before
and after it happens. Nothing is ever overwritten: moves link the file under its new name (which
fails if the name is taken) before the old name goes, and undo or resume never removes a file
they did not put there; an occupied original path gets the file back under a new name.
"""

from __future__ import annotations

import ctypes
import errno
import filecmp
import hashlib
import os
import shutil
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from hygiene import __version__
from hygiene.formats import SNIFF_BYTES, repaired_container, sniff_image_format
from hygiene.hashing import pixel_sha256_hex
from hygiene.imageio import DecodeError, decode
from hygiene.journal import Faults, Journal, Track, replay
from hygiene.paths import to_text
from hygiene.plan import Action, Fingerprint, Plan, PlanError
from hygiene.protect import is_protected

RemovalMode = Literal["quarantine", "trash", "permanent"]
REMOVALS = ("delete", "quarantine")


@dataclass
class Outcome:
    """(relative path, message) per action, by what became of it."""

    done: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)


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
        if not _inside(root, source) or (
            action.destination is not None and not _inside(root, root / action.destination)
        ):
            return "path escapes the archive root"
        if not _matches_stat(source, action.fingerprint):
            return (
                "source is gone"
                if not _is_plain_file(source)
                else ("source changed since the plan was made")
            )
        uses_destination = operation(action, mode) in ("move", "copy", "repair")
        if uses_destination and _exists(root / (action.destination or "")):
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
        if not _inside(self.root, keeper) or not _matches_stat(keeper, expected):
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
            self._sha_cache[key] = _sha256(path)
        return self._sha_cache[key]

    def _pixel_hash(self, path: Path) -> str | None:
        data = path.read_bytes()
        image_format = sniff_image_format(data[:SNIFF_BYTES])
        if image_format is None:
            return None
        try:
            decoded = decode(data, image_format, max_pixels=self.max_pixels, min_side_px=1 << 30)
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
        _repair(action, track, root, journal, max_pixels)
        return
    journal.begin(track)
    faults = journal.faults
    if op == "move":
        _move(src, root / (action.destination or ""), fingerprint.sha256, faults)
    elif op == "copy":
        _copy_verified(src, root / (action.destination or ""), fingerprint.sha256, faults)
    elif op == "trash":
        from send2trash import send2trash

        faults.step()
        send2trash(str(src))
    else:
        faults.step()
        src.unlink()
        _fsync_dir(src.parent)
    journal.write(id=action.id, state="done")


def _resume(track: Track, root: Path, journal: Journal) -> tuple[bool, str] | None:
    """An action begun but never finished: settle it from the disk. Returns (finished, message),
    or None when nothing happened yet and the action should be checked and run afresh."""
    src = root / track.source
    dst = root / track.destination if track.destination is not None else None
    if track.op == "repair" and dst is not None:
        return _resume_repair(track, src, dst, journal)
    if dst is not None:
        _remove_partial(dst)
    source_is_original = _same_as_planned(src, track)
    if track.op in ("trash", "unlink"):
        if not _exists(src):
            return _settle(journal, track, "done", "finished (it was removed before the stop)")
        if source_is_original:
            return None
        return _settle(journal, track, "abandoned", "left alone: another file now has its name")
    assert dst is not None
    dst_is_ours = _exists(dst) and _sha256(dst) == track.sha256
    if track.op == "copy":
        if dst_is_ours:
            return _settle(journal, track, "done", "finished (the copy was complete)")
        if _exists(dst):
            return _settle(journal, track, "abandoned", "destination already exists")
        return None
    if _exists(dst):
        if not _exists(src):
            return _settle(journal, track, "done", "finished (it was moved before the stop)")
        if dst_is_ours and source_is_original:
            journal.faults.step()
            src.unlink()  # the verified copy at dst is the file now; finish the move
            _fsync_dir(src.parent)
            return _settle(journal, track, "done", "finished (the copy was complete)")
        if dst_is_ours:
            return _settle(
                journal, track, "done", "finished; a new file now at its old path was left alone"
            )
        return _settle(journal, track, "abandoned", "left alone: destination holds another file")
    if source_is_original:
        return None
    return _settle(journal, track, "abandoned", "left alone: the file changed or is gone")


def repaired_bytes(data: bytes, max_pixels: int) -> bytes | str:
    """The clean copy of a damaged-but-complete file (its bytes with a sound container end), or
    why there is none. The copy must itself decode completely and pass every container check."""
    image_format = sniff_image_format(data[:SNIFF_BYTES])
    if image_format is None:
        return "cannot be repaired: not an image any more"
    try:
        damaged = decode(data, image_format, max_pixels=max_pixels, min_side_px=64)
    except DecodeError as exc:
        return f"cannot be repaired: {exc}"
    repair = repaired_container(image_format, data)
    if damaged.damage is None or repair is None:
        return "nothing to repair: it decodes cleanly"
    try:
        clean = decode(repair.fixed, image_format, max_pixels=max_pixels, min_side_px=64)
    except DecodeError as exc:
        return f"cannot be repaired: the clean copy does not decode ({exc})"
    if clean.damage is not None or clean.rgb.size != damaged.rgb.size:
        return "cannot be repaired: the clean copy is not sound"
    return repair.fixed


def _repair(action: Action, track: Track, root: Path, journal: Journal, max_pixels: int) -> None:
    """Write the clean copy beside the file, move the original into quarantine (never replacing
    anything), then give the clean copy the original's name, mode and mtime."""
    src, dst = root / action.source, root / (action.destination or "")
    data = src.read_bytes()
    if hashlib.sha256(data).hexdigest() != action.fingerprint.sha256:
        raise OSError(errno.EIO, "source content changed since the plan was made")
    fixed = repaired_bytes(data, max_pixels)
    if isinstance(fixed, str):
        raise OSError(errno.EIO, fixed)
    track.result_sha256 = hashlib.sha256(fixed).hexdigest()
    journal.begin(track)
    _write_clean_copy(_partial(src), fixed, src)
    _move(src, dst, track.sha256, journal.faults)
    journal.faults.step()
    rename_no_replace(_partial(src), src)
    _fsync_dir(src.parent)
    journal.write(id=action.id, state="done")


def _write_clean_copy(target: Path, data: bytes, like: Path) -> None:
    with target.open("xb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    shutil.copystat(like, target)  # mode, atime and mtime of the original


def _resume_repair(track: Track, src: Path, dst: Path, journal: Journal) -> tuple[bool, str] | None:
    partial = _partial(src)
    clean = track.result_sha256
    if _same_as_planned(src, track) and not _exists(dst):
        _remove_partial(src)
        return None
    if _exists(src) and _exists(dst):
        _remove_partial(src)
        if clean is not None and _same_sha(src, clean):
            return _settle(journal, track, "done", "finished (the clean copy was in place)")
        return _settle(
            journal, track, "done", "finished; a new file now at its path was left alone"
        )
    if not _exists(src) and _exists(dst):
        if not (partial.is_file() and clean is not None and _same_sha(partial, clean)):
            _remove_partial(src)
            fixed = repaired_bytes(dst.read_bytes(), 1 << 40)
            if isinstance(fixed, str) or hashlib.sha256(fixed).hexdigest() != clean:
                return _settle(journal, track, "done", "the original is in quarantine; no copy")
            _write_clean_copy(partial, fixed, dst)
        journal.faults.step()
        rename_no_replace(partial, src)
        _fsync_dir(src.parent)
        return _settle(journal, track, "done", "finished (the clean copy was put in place)")
    _remove_partial(src)
    return _settle(journal, track, "abandoned", "left alone: the file changed or is gone")


def _settle(journal: Journal, track: Track, state: str, message: str) -> tuple[bool, str]:
    journal.write(id=track.id, state=state)
    return state == "done", message


def _describe(action: Action, op: str) -> str:
    return {
        "move": "quarantined" if action.kind in REMOVALS else "moved",
        "copy": "copied",
        "repair": "repaired (the original is in quarantine)",
        "trash": "sent to the OS trash",
        "unlink": f"deleted permanently (verified {action.dup_kind} copy of its keeper)",
    }[op]


# ---------------------------------------------------------------- undo


def _undo_one(track: Track, root: Path, journal: Journal, execute: bool, outcome: Outcome) -> None:
    src = root / track.source
    if track.op in ("trash", "unlink"):
        if track.state == "begun" and _exists(src):
            _finish_undo(journal, track, execute)  # the removal never happened
            return
        why = "it is in the OS trash" if track.op == "trash" else "it was deleted permanently"
        outcome.failed.append((track.source, f"cannot restore: {why}"))
        return
    assert track.destination is not None
    dst = root / track.destination
    if execute:
        _remove_partial(dst)
        if track.restore_to is not None:
            _remove_partial(root / track.restore_to)
    if track.op == "repair":
        if execute:
            _remove_partial(src)
        clean = track.result_sha256
        if clean is not None and _exists(dst) and _exists(src) and _same_sha(src, clean):
            if not execute:
                outcome.done.append((track.source, "restored (the clean copy is removed)"))
                return
            journal.write(id=track.id, state="undo-begin", restore_to=to_text(track.source))
            journal.faults.step()
            src.unlink()  # the clean copy apply wrote; the original comes back below
            _fsync_dir(src.parent)
    if track.op == "copy" and _exists(src) and _same_content(src, track):
        if _exists(dst) and _sha256(dst) != track.sha256:
            _finish_undo(journal, track, execute)
            outcome.skipped.append((track.source, "copy left in place: it was changed since"))
            return
        if _exists(dst):
            _drop_our_copy(dst, track, journal, execute)  # the original is still in place
        _finish_undo(journal, track, execute)
        outcome.done.append((track.source, f"removed the copy {to_text(track.destination)}"))
        return
    if track.restore_to is not None and _exists(restored := root / track.restore_to):
        # an interrupted undo: its new name exists; if the old one does too, that is our copy
        if _exists(dst) and _sha256(dst) == track.sha256 and _same_content(restored, track):
            _drop_our_copy(dst, track, journal, execute)
        if not _exists(dst):
            _finish_undo(journal, track, execute)
            outcome.done.append((track.source, f"restored as {to_text(track.restore_to)}"))
            return
    if not _exists(dst):
        if _same_as_planned(src, track):
            _finish_undo(journal, track, execute)
            outcome.done.append((track.source, "already in place"))
        else:
            outcome.failed.append(
                (track.source, f"cannot restore: nothing at {track.destination} any more")
            )
        return
    if track.op == "move" and _same_as_planned(src, track) and _sha256(dst) == track.sha256:
        # a move cut short after the copy was made: the original never left; drop our copy
        _drop_our_copy(dst, track, journal, execute)
        _finish_undo(journal, track, execute)
        outcome.done.append((track.source, "already in place"))
        return
    target = _restore_target(root, track)
    if execute:
        journal.write(id=track.id, state="undo-begin", restore_to=to_text(_rel(root, target)))
        _move(dst, target, track.sha256, journal.faults)
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
        if not _exists(earlier):
            return earlier
    src = root / track.source
    if not _exists(src):
        return src
    for counter in range(1, 10_000):
        label = "restored" if counter == 1 else f"restored {counter}"
        candidate = src.with_name(f"{src.stem} ({label}){src.suffix}")
        if not _exists(candidate) and not _exists(_partial(candidate)):
            return candidate
    raise OSError(errno.EEXIST, "no free name to restore to")


def _drop_our_copy(dst: Path, track: Track, journal: Journal, execute: bool) -> None:
    """Remove a copy apply made whose content is also at its original place."""
    if execute:
        journal.write(id=track.id, state="undo-begin", restore_to=None)
        journal.faults.step()
        dst.unlink()
        _fsync_dir(dst.parent)


def _finish_undo(journal: Journal, track: Track, execute: bool) -> None:
    if execute:
        journal.write(id=track.id, state="undone")


# ---------------------------------------------------------------- file steps


def _move(src: Path, dst: Path, sha256: str, faults: Faults) -> None:
    """Give `src` the name `dst` without ever replacing an existing file. On one file system
    this is an atomic rename that fails if the name is taken (keeping mtime and metadata);
    across devices a verified copy is made first and the source removed after."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    faults.step()
    try:
        rename_no_replace(src, dst)
        _fsync_dir(dst.parent)
        _fsync_dir(src.parent)
        return
    except OSError as exc:
        if exc.errno == errno.EEXIST:
            raise FileExistsError(errno.EEXIST, "destination already exists") from None
        if exc.errno != errno.EXDEV:
            raise
    _copy_verified(src, dst, sha256, faults)
    faults.step()
    src.unlink()
    _fsync_dir(src.parent)


def rename_no_replace(src: Path, dst: Path) -> None:
    """rename(2) that raises FileExistsError instead of replacing `dst`: renameat2 with
    RENAME_NOREPLACE on Linux; elsewhere (or where the file system lacks it) a hard link,
    which also fails on an existing name, then the old name is removed."""
    if _renameat2 is not None:
        result = _renameat2(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), 1)
        if result == 0:
            return
        code = ctypes.get_errno()
        if code not in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
            raise OSError(code, os.strerror(code), str(dst))
    os.link(src, dst, follow_symlinks=False)
    src.unlink()


def _load_renameat2() -> Callable[..., int] | None:
    if sys.platform != "linux":
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        function = libc.renameat2
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p]
    function.argtypes += [ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


_AT_FDCWD = -100
_renameat2 = _load_renameat2()


def _copy_verified(src: Path, dst: Path, sha256: str, faults: Faults) -> None:
    """Copy with metadata to a temporary name, fsync, verify the hash, then give it its name."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    if _exists(dst):
        raise FileExistsError(errno.EEXIST, "destination already exists")
    partial = _partial(dst)
    shutil.copy2(src, partial)
    with partial.open("rb") as handle:
        os.fsync(handle.fileno())
    faults.step()
    if _sha256(partial) != sha256:
        partial.unlink()
        raise OSError(errno.EIO, "copy does not match the source")
    try:
        rename_no_replace(partial, dst)  # fails rather than replace a file that appeared
    except FileExistsError:
        partial.unlink()
        raise
    _fsync_dir(dst.parent)


# ---------------------------------------------------------------- helpers


def _same_as_planned(path: Path, track: Track) -> bool:
    """The file at `path` is the one the step was about: same size and mtime (when known, for
    journals of hygiene 0.1 they are not) and same bytes."""
    if not _is_plain_file(path):
        return False
    info = path.stat()
    if track.size_bytes >= 0 and info.st_size != track.size_bytes:
        return False
    if track.mtime_ns >= 0 and info.st_mtime_ns != track.mtime_ns:
        return False
    return _sha256(path) == track.sha256


def _same_content(path: Path, track: Track) -> bool:
    return _same_sha(path, track.sha256)


def _same_sha(path: Path, sha256: str) -> bool:
    return _is_plain_file(path) and _sha256(path) == sha256


def _matches_stat(path: Path, fingerprint: Fingerprint) -> bool:
    if not _is_plain_file(path):
        return False
    info = path.stat()
    return (info.st_size, info.st_mtime_ns) == (fingerprint.size_bytes, fingerprint.mtime_ns)


def _is_plain_file(path: Path) -> bool:
    return path.is_file() and not path.is_symlink()


def _exists(path: Path) -> bool:
    return path.exists() or path.is_symlink()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _partial(dst: Path) -> Path:
    return dst.with_name(f".{dst.name}.hygiene-partial")


def _remove_partial(dst: Path) -> None:
    """A temporary copy this tool started and never finished (the name is its own)."""
    partial = _partial(dst)
    if partial.is_file() and not partial.is_symlink():
        partial.unlink()


def _rel(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def _inside(root: Path, path: Path) -> bool:
    """True when `path`'s folder, following any symlinked folder, stays inside `root`."""
    probe = path.parent
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        probe.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def _fsync_dir(folder: Path) -> None:
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _version(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split("."))
    except ValueError:
        return (1 << 30,)
