"""The one text form of a file name, for every output (catalog, CSV, Parquet, report, plan).

On Linux a file name is any bytes but NUL; Python hands the ones that are not UTF-8 over as str
with lone surrogates (surrogateescape), which SQLite, UTF-8 files, pyarrow and json refuse.
Internally a path stays that str, so it opens the right file; at each output it becomes its text
form: plain UTF-8 names without a backslash are themselves, otherwise every backslash is doubled
and every byte that is not UTF-8 is written `\\xNN`. `from_text` is the exact inverse.

`is_directory` and `is_regular_file` check a path a user typed without raising on one the
system cannot even look up (a name over 255 bytes), so the caller gives its one-line error.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

_SURROGATES = re.compile("[\ud800-\udfff]")
_ESCAPE = re.compile(rb"\\(\\|x[0-9a-fA-F]{2}|)")


def to_text(rel_path: str) -> str:
    """The text form of a path as os.scandir/os.fsdecode give it; always valid UTF-8."""
    if "\\" not in rel_path and not _SURROGATES.search(rel_path):
        return rel_path
    raw = os.fsencode(rel_path).replace(b"\\", b"\\\\")
    return raw.decode("utf-8", errors="backslashreplace")


def from_text(text: str) -> str:
    """The path (surrogateescape str) whose text form is `text`; ValueError if it is none."""
    if "\\" not in text:
        return text
    raw = text.encode("utf-8")

    def unescape(match: re.Match[bytes]) -> bytes:
        body = match.group(1)
        if body == b"\\":
            return b"\\"
        if body.startswith(b"x"):
            return bytes([int(body[1:], 16)])
        raise ValueError(f"bad escape in path text {text!r}: a backslash must be \\\\ or \\xNN")

    return os.fsdecode(_ESCAPE.sub(unescape, raw))


def is_directory(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:
        return False


def is_regular_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:
        return False
