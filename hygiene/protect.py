"""Protected folders: the one resolver every stage uses (duplicates, plan, report, apply).

A protected root may be written relative to the archive root, absolute, or with `~`. Each one
becomes a POSIX prefix relative to the archive root; "" means the whole archive. An absolute
folder outside the archive protects nothing in it; a folder that contains the archive protects
all of it.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path, PurePosixPath


def protected_prefixes(root: Path, entries: Iterable[str]) -> tuple[str, ...]:
    """The configured protected roots as relative POSIX prefixes of `root`, deduplicated."""
    resolved_root = root.resolve()
    prefixes: list[str] = []
    for entry in entries:
        prefix = _prefix(resolved_root, entry)
        if prefix is not None and prefix not in prefixes:
            prefixes.append(prefix)
    return tuple(prefixes)


def is_protected(rel_path: str, prefixes: Iterable[str]) -> bool:
    """Whether the relative path lies in (or is) one of the protected prefixes."""
    return any(
        prefix == "" or rel_path == prefix or rel_path.startswith(prefix + "/")
        for prefix in prefixes
    )


def _prefix(root: Path, entry: str) -> str | None:
    text = entry.strip()
    if not text:
        return None
    path = Path(text).expanduser()
    if path.is_absolute():
        absolute = path.resolve()
        if absolute == root or absolute in root.parents:
            return ""
        try:
            return absolute.relative_to(root).as_posix()
        except ValueError:
            return None  # outside this archive: nothing in it is protected by this entry
    parts = [p for p in PurePosixPath(text).parts if p not in (".", "")]
    if ".." in parts:
        # "../x" could still land inside the root once resolved; resolve it like an absolute one
        return _prefix(root, str(root / text))
    return "/".join(parts)
