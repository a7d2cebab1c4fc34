"""Walk an archive root and list its files in a deterministic order. Reads metadata only."""

from __future__ import annotations

import fnmatch
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from hygiene.records import FileEntry


def iter_files(root: Path, *, exclude: tuple[str, ...], quarantine_dir: str) -> Iterator[FileEntry]:
    """Every file under `root`, depth first, entries sorted by name.

    Hidden directories and the quarantine folder are not entered. Symbolic links are never
    followed (so loops cannot trap the walk and nothing outside `root` is read); they are
    reported as skipped, as are unreadable directories and special files.
    """
    for rel_path, entry, error in _listing(root, exclude, quarantine_dir):
        if entry is None:
            yield FileEntry(rel_path=rel_path, size_bytes=0, mtime_ns=0, skip_reason=error)
        else:
            yield _file_entry(entry, rel_path)


def count_files(root: Path, *, exclude: tuple[str, ...], quarantine_dir: str) -> int:
    """How many entries iter_files will yield, without a stat call for each (for progress)."""
    return sum(1 for _ in _listing(root, exclude, quarantine_dir))


def _listing(
    root: Path, exclude: tuple[str, ...], quarantine_dir: str
) -> Iterator[tuple[str, os.DirEntry[str] | None, str | None]]:
    """(rel_path, entry, None) for each file, (rel_dir + "/", None, why) for an unreadable
    directory."""
    stack: list[str] = [""]
    while stack:
        rel_dir = stack.pop()
        entries, error = _list_directory(root, rel_dir)
        if error is not None:
            yield rel_dir + "/", None, error
            continue
        subdirs: list[str] = []
        for entry in entries:
            rel_path = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            if _excluded(rel_path, exclude):
                continue
            if entry.is_dir(follow_symlinks=False):
                if not entry.name.startswith(".") and entry.name != quarantine_dir:
                    subdirs.append(rel_path)
                continue
            yield rel_path, entry, None
        stack.extend(reversed(subdirs))


def _list_directory(root: Path, rel_dir: str) -> tuple[list[os.DirEntry[str]], str | None]:
    try:
        with os.scandir(root / rel_dir if rel_dir else root) as iterator:
            return sorted(iterator, key=lambda entry: entry.name), None
    except PermissionError:
        return [], "permission denied: cannot list this directory"
    except OSError as exc:
        return [], f"cannot list this directory: {exc.strerror or exc}"


def _file_entry(entry: os.DirEntry[str], rel_path: str) -> FileEntry:
    try:
        info = entry.stat(follow_symlinks=False)
    except OSError as exc:
        return FileEntry(rel_path, 0, 0, f"cannot stat: {exc.strerror or exc}")
    reason = None
    if stat.S_ISLNK(info.st_mode):
        reason = "symbolic link (not followed)"
    elif not stat.S_ISREG(info.st_mode):
        reason = "not a regular file"
    elif entry.name.startswith("."):
        reason = "hidden file"
    return FileEntry(rel_path, info.st_size, info.st_mtime_ns, reason)


def _excluded(rel_path: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(rel_path, pattern) for pattern in patterns)
