"""The file steps every change to the user's files goes through, and the checks of what is on
disk. Nothing here ever replaces an existing file: moves take a new name only if it is free
(renameat2 RENAME_NOREPLACE, or a hard link), copies are written under a temporary name,
verified, then named; every rename is followed by an fsync of the folder.
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from hygiene.plan.decisions import Fingerprint
from hygiene.plan.journal import Faults, Track


@dataclass
class Outcome:
    """(relative path, message) per action, by what became of it."""

    done: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)


def move_file(src: Path, dst: Path, sha256: str, faults: Faults) -> None:
    """Give `src` the name `dst` without ever replacing an existing file. On one file system
    this is an atomic rename that fails if the name is taken (keeping mtime and metadata);
    across devices a verified copy is made first and the source removed after."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    faults.step()
    try:
        rename_no_replace(src, dst)
        fsync_dir(dst.parent)
        fsync_dir(src.parent)
        return
    except OSError as exc:
        if exc.errno == errno.EEXIST:
            raise FileExistsError(errno.EEXIST, "destination already exists") from None
        if exc.errno != errno.EXDEV:
            raise
    copy_verified(src, dst, sha256, faults)
    faults.step()
    src.unlink()
    fsync_dir(src.parent)


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


def copy_verified(src: Path, dst: Path, sha256: str, faults: Faults) -> None:
    """Copy with metadata to a temporary name, fsync, verify the hash, then give it its name."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    if exists(dst):
        raise FileExistsError(errno.EEXIST, "destination already exists")
    partial = partial_name(dst)
    shutil.copy2(src, partial)
    with partial.open("rb") as handle:
        os.fsync(handle.fileno())
    faults.step()
    if sha256_of(partial) != sha256:
        partial.unlink()
        raise OSError(errno.EIO, "copy does not match the source")
    try:
        rename_no_replace(partial, dst)  # fails rather than replace a file that appeared
    except FileExistsError:
        partial.unlink()
        raise
    fsync_dir(dst.parent)


# ---------------------------------------------------------------- helpers


def same_as_planned(path: Path, track: Track) -> bool:
    """The file at `path` is the one the step was about: same size and mtime (when known, for
    journals of hygiene 0.1 they are not) and same bytes."""
    if not is_plain_file(path):
        return False
    info = path.stat()
    if track.size_bytes >= 0 and info.st_size != track.size_bytes:
        return False
    if track.mtime_ns >= 0 and info.st_mtime_ns != track.mtime_ns:
        return False
    return sha256_of(path) == track.sha256


def same_content(path: Path, track: Track) -> bool:
    return same_sha(path, track.sha256)


def same_sha(path: Path, sha256: str) -> bool:
    return is_plain_file(path) and sha256_of(path) == sha256


def matches_stat(path: Path, fingerprint: Fingerprint) -> bool:
    if not is_plain_file(path):
        return False
    info = path.stat()
    return (info.st_size, info.st_mtime_ns) == (fingerprint.size_bytes, fingerprint.mtime_ns)


def is_plain_file(path: Path) -> bool:
    return path.is_file() and not path.is_symlink()


def exists(path: Path) -> bool:
    return path.exists() or path.is_symlink()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def partial_name(dst: Path) -> Path:
    return dst.with_name(f".{dst.name}.hygiene-partial")


def remove_partial(dst: Path) -> None:
    """A temporary copy this tool started and never finished (the name is its own)."""
    partial = partial_name(dst)
    if partial.is_file() and not partial.is_symlink():
        partial.unlink()


def relative(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def inside(root: Path, path: Path) -> bool:
    """True when `path`'s folder, following any symlinked folder, stays inside `root`."""
    probe = path.parent
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        probe.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def fsync_dir(folder: Path) -> None:
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_clean_copy(target: Path, data: bytes, like: Path) -> None:
    with target.open("xb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    shutil.copystat(like, target)  # mode, atime and mtime of the original
