"""The only module that changes user files: apply a plan behind checks, journal it, undo it.

Every step is written to a JSONL journal next to the plan, and fsync'd, *before* the file system
changes ("begin") and after ("done"). A run killed at any point is finished by running apply
again, or reversed by undo: both look at the journal and at the disk to see where each action
stopped. Nothing is ever overwritten, and a file is only removed from its place once a verified
copy exists elsewhere (or, for the permanent mode the user asked for, once its keeper is checked).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from hygiene import __version__
from hygiene.plan import Action, Fingerprint, Plan, PlanError, is_safe_relative

RemovalMode = Literal["quarantine", "trash", "permanent"]
JOURNAL_NAME = "journal.jsonl"


@dataclass
class Outcome:
    done: list[tuple[Action, str]] = field(default_factory=list)
    skipped: list[tuple[Action, str]] = field(default_factory=list)
    failed: list[tuple[Action, str]] = field(default_factory=list)


class _Faults:
    """Test hook: HYGIENE_FAULT_AT=N kills this process at its Nth journal or file step."""

    def __init__(self) -> None:
        self.remaining = int(os.environ.get("HYGIENE_FAULT_AT", "0") or 0)

    def step(self) -> None:
        if self.remaining:
            self.remaining -= 1
            if self.remaining == 0:
                os.kill(os.getpid(), signal.SIGKILL)


class Journal:
    def __init__(self, path: Path, faults: _Faults) -> None:
        self.path, self._faults = path, faults

    def entries(self) -> list[dict[str, object]]:
        if not self.path.is_file():
            return []
        entries = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line cut short by a crash: its step is judged from the disk
        return entries

    def write(self, **entry: object) -> None:
        self._faults.step()
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry, ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        self._faults.step()


def check_plan_for_root(plan: Plan, root: Path) -> None:
    if Path(plan.header.root) != root:
        raise PlanError(f"the plan is for {plan.header.root}, not {root}")
    if _version(plan.header.version) > _version(__version__):
        raise PlanError(f"the plan was made by hygiene {plan.header.version}, newer than this one")
    if not root.is_dir():
        raise PlanError(f"the plan's root {root} does not exist")


def apply_plan(
    plan: Plan,
    journal_path: Path,
    *,
    mode: RemovalMode = "quarantine",
    permanent_near: bool = False,
    protected_roots: tuple[str, ...] = (),
) -> Outcome:
    """Carry out the plan (callers show a dry run with `describe` instead of calling this)."""
    root = Path(plan.header.root)
    faults = _Faults()
    journal = Journal(journal_path, faults)
    state = _journal_state(journal.entries())
    outcome = Outcome()
    for action in plan.actions:
        if action.kind == "review":
            continue
        if state.get(action.id) == "done":
            outcome.skipped.append((action, "already done"))
            continue
        try:
            reason = _refusal(action, root, protected_roots, mode, permanent_near, state)
            if reason:
                outcome.skipped.append((action, reason))
                continue
            _carry_out(action, root, mode, journal, faults, state.get(action.id) == "begin")
            outcome.done.append(
                (action, mode if action.kind in ("delete", "quarantine") else action.kind)
            )
        except OSError as exc:
            outcome.failed.append((action, exc.strerror or str(exc)))
    return outcome


def undo(journal_path: Path, root: Path, *, execute: bool) -> Outcome:
    """Put back everything the journal says was moved or copied (newest first)."""
    faults = _Faults()
    journal = Journal(journal_path, faults)
    entries = journal.entries()
    undone = {e["id"] for e in entries if e.get("state") == "undone"}
    begun = {e["id"]: e for e in entries if e.get("state") == "begin"}
    outcome = Outcome()
    for action_id, entry in reversed(list(begun.items())):
        if action_id in undone:
            continue
        op, src, dst = entry["op"], root / str(entry["src"]), root / str(entry.get("dst") or "")
        placeholder = _placeholder(entry)
        if op in ("trash", "unlink"):
            where = "the OS trash" if op == "trash" else "nowhere (deleted permanently)"
            if not src.exists():
                outcome.failed.append((placeholder, f"cannot restore: it is in {where}"))
            continue
        try:
            message = _undo_one(op, src, dst, str(entry.get("sha256")), execute, journal, action_id)
            outcome.done.append((placeholder, message))
        except OSError as exc:
            outcome.failed.append((placeholder, exc.strerror or str(exc)))
    return outcome


# ---------------------------------------------------------------- apply internals


def _refusal(
    action: Action,
    root: Path,
    protected_roots: tuple[str, ...],
    mode: RemovalMode,
    permanent_near: bool,
    state: dict[int, str],
) -> str:
    source = root / action.source
    if any(_under(action.source, p) for p in protected_roots):
        return "under a protected root"
    if state.get(action.id) == "begin":
        return ""  # interrupted mid-way: the disk, not the fingerprint, says what is left
    if not _inside(root, source) or (
        action.destination and not _inside(root, root / action.destination)
    ):
        return "path escapes the archive root"
    if not source.is_file() or source.is_symlink():
        return "source is gone"
    stat = source.stat()
    if (stat.st_size, stat.st_mtime_ns) != (
        action.fingerprint.size_bytes,
        action.fingerprint.mtime_ns,
    ):
        return "source changed since the plan was made"
    if action.destination and (root / action.destination).exists():
        return "destination already exists"
    if action.kind == "delete":
        if mode == "permanent" and action.dup_kind not in ("exact", "pixel") and not permanent_near:
            return "permanent deletion is limited to exact and pixel duplicates"
        keeper = root / (action.keeper or "")
        if not _matches(keeper, action.keeper_fingerprint):
            return "the group's keeper is missing or changed: nothing removed"
    if _sha256(source) != action.fingerprint.sha256:
        return "source content changed since the plan was made"
    return ""


def _carry_out(
    action: Action, root: Path, mode: RemovalMode, journal: Journal, faults: _Faults, resumed: bool
) -> None:
    src, dst = root / action.source, root / (action.destination or "")
    removal = action.kind in ("delete", "quarantine")
    op = (
        {"quarantine": "move", "trash": "trash", "permanent": "unlink"}[mode]
        if removal
        else action.kind
    )
    if resumed and _finished_on_disk(op, src, dst, action.fingerprint.sha256):
        journal.write(id=action.id, state="done")
        return
    if not resumed:
        journal.write(
            id=action.id,
            state="begin",
            op=op,
            src=action.source,
            dst=action.destination if op in ("move", "copy") else None,
            sha256=action.fingerprint.sha256,
        )
    if op == "move":
        _move(src, dst, action.fingerprint.sha256, faults)
    elif op == "copy":
        _copy_verified(src, dst, action.fingerprint.sha256, faults)
    elif op == "trash":
        from send2trash import send2trash

        faults.step()
        send2trash(str(src))
    else:
        faults.step()
        src.unlink()
    journal.write(id=action.id, state="done")


def _finished_on_disk(op: str, src: Path, dst: Path, sha256: str) -> bool:
    """After a crash between "begin" and "done": did the step complete, or finish it now?"""
    if op in ("trash", "unlink"):
        return not src.exists()
    partial = _partial(dst)
    if partial.exists():
        partial.unlink()  # a copy that never finished; the source is intact
    if op == "copy":
        return dst.exists() and _sha256(dst) == sha256
    if dst.exists() and not src.exists():
        return True
    if dst.exists() and src.exists():  # copied across devices, source not yet removed
        if _sha256(dst) == sha256:
            src.unlink()
            return True
        dst.unlink()
    return False


def _move(src: Path, dst: Path, sha256: str, faults: _Faults) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    faults.step()
    try:
        if dst.exists():
            raise FileExistsError(errno.EEXIST, "destination already exists")
        os.rename(src, dst)  # same file system: atomic, keeps mtime and metadata
        _fsync_dir(dst.parent)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        _copy_verified(src, dst, sha256, faults)
        faults.step()
        src.unlink()
    _fsync_dir(src.parent)


def _copy_verified(src: Path, dst: Path, sha256: str, faults: _Faults) -> None:
    """Copy with metadata to a temporary name, fsync, verify the hash, then give it its name."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.exists():
        raise FileExistsError(errno.EEXIST, "destination already exists")
    partial = _partial(dst)
    shutil.copy2(src, partial)
    with partial.open("rb") as handle:
        os.fsync(handle.fileno())
    faults.step()
    if _sha256(partial) != sha256:
        partial.unlink()
        raise OSError(errno.EIO, "copy does not match the source")
    os.rename(partial, dst)
    _fsync_dir(dst.parent)


# ---------------------------------------------------------------- undo internals


def _undo_one(
    op: str, src: Path, dst: Path, sha256: str, execute: bool, journal: Journal, action_id: object
) -> str:
    if op == "copy":
        if not dst.exists():
            message = "copy not present"
        elif _sha256(dst) != sha256:
            return "left in place: the copy was changed"
        else:
            message = f"remove copy {dst.name}"
            if execute:
                dst.unlink()
    elif src.exists():
        partial = _partial(dst)
        if execute and partial.exists():
            partial.unlink()
        if dst.exists() and _sha256(dst) == sha256 and execute:
            dst.unlink()  # a finished cross-device copy whose source was never removed
        message = "already in place"
    elif dst.exists():
        message = f"restore {src}"
        if execute:
            src.parent.mkdir(parents=True, exist_ok=True)
            os.rename(dst, src)
    else:
        raise OSError(errno.ENOENT, f"neither {src} nor {dst} exists")
    if execute:
        journal.write(id=action_id, state="undone")
    return message


def _placeholder(entry: dict[str, object]) -> Action:
    zero = Fingerprint(0, 0, str(entry.get("sha256", "")))
    return Action(
        int(entry["id"]), "move", str(entry["src"]), str(entry.get("dst")), str(entry["op"]), zero
    )


# ---------------------------------------------------------------- helpers


def _journal_state(entries: list[dict[str, object]]) -> dict[int, str]:
    state: dict[int, str] = {}
    for entry in entries:
        if entry.get("state") in ("begin", "done"):
            state[int(entry["id"])] = str(entry["state"])
        elif entry.get("state") == "undone":
            state.pop(int(entry["id"]), None)
    return state


def _matches(path: Path, fingerprint: Fingerprint | None) -> bool:
    """The keeper still has its planned size and mtime (it is read, never moved, so no hash)."""
    if fingerprint is None or not path.is_file():
        return False
    stat = path.stat()
    return (stat.st_size, stat.st_mtime_ns) == (fingerprint.size_bytes, fingerprint.mtime_ns)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _partial(dst: Path) -> Path:
    return dst.with_name(f".{dst.name}.hygiene-partial")


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


def _under(rel_path: str, protected: str) -> bool:
    prefix = protected.strip("/") + "/"
    return is_safe_relative(rel_path) and (rel_path + "/").startswith(prefix)


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
