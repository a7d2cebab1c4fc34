"""C libraries' messages on file descriptor 2: decoders (libtiff above all) print complaints
straight to fd 2, which would garble the terminal; a decode runs with fd 2 sent to a scratch
file, and what was said can be added to a one-line error.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterator

_capture_lock = threading.Lock()
_capture_depth = 0
_capture_saved_fd = -1
_scratch_fd = -1
_scratch_pid = -1
_CAPTURE_LIMIT = 64 * 1024
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_FAKE_FILE_NAME = re.compile(r"^[\w.-]+\.(tif|tiff|png|jpe?g): ", re.IGNORECASE)


@contextlib.contextmanager
def native_stderr_captured() -> Iterator[list[str]]:
    """Send file descriptor 2 to a scratch file while the block runs; the yielded list receives
    what was written there (after the block). Never fails a decode: without a usable fd 2, the
    block runs uncaptured.

    In a multi-threaded process every thread's writes to stderr in that window are captured
    too (and dropped), so keep the window short. Nested and concurrent windows share one
    redirection, restored when the last one closes.
    """
    said: list[str] = []
    start = _capture_begin()
    try:
        yield said
    finally:
        if start is not None:
            said.append(_capture_end(start))


def library_note(text: str) -> str | None:
    """The first meaningful line a C library wrote, cleaned for a one-line error (or None)."""
    for raw in text.split("\n"):
        raw = raw.removesuffix("\r")
        line = " ".join(raw.split())
        if not line or _CONTROL.search(raw):
            continue  # blank, or drawn with terminal controls (a progress bar): not a decoder
        line = _FAKE_FILE_NAME.sub("", line).rstrip(".")
        return line[:200] or None
    return None


def with_library_note(error: str, captured: str) -> str:
    """`error`, plus what the C decoder said when that adds something."""
    note = library_note(captured)
    if note is None or note.lower() in error.lower():
        return error
    return f"{error} (decoder said: {note})"


def _capture_begin() -> int | None:
    global _capture_depth, _capture_saved_fd
    with _capture_lock:
        try:
            scratch = _scratch()
            if _capture_depth == 0:
                with contextlib.suppress(Exception):
                    sys.stderr.flush()  # what Python already wrote belongs on the real stderr
                _capture_saved_fd = os.dup(2)
                os.dup2(scratch, 2)
            _capture_depth += 1
            return os.fstat(scratch).st_size
        except OSError:
            return None


def _capture_end(start: int) -> str:
    global _capture_depth, _capture_saved_fd
    with _capture_lock:
        try:
            end = os.fstat(_scratch_fd).st_size
            data = os.pread(_scratch_fd, min(end - start, _CAPTURE_LIMIT), start)
        except OSError:
            data = b""
        _capture_depth -= 1
        if _capture_depth == 0:
            with contextlib.suppress(Exception):
                sys.stderr.flush()  # Python's writes inside the window stay in the scratch file
            with contextlib.suppress(OSError):
                os.dup2(_capture_saved_fd, 2)
                os.close(_capture_saved_fd)
                os.ftruncate(_scratch_fd, 0)
            _capture_saved_fd = -1
    return data.decode("utf-8", "replace")


def _scratch() -> int:
    """This process's scratch file (opened for appending, already unlinked)."""
    global _scratch_fd, _scratch_pid
    if _scratch_pid != os.getpid():  # a forked child must not share its parent's file
        fd, path = tempfile.mkstemp(prefix="hygiene-stderr-")
        try:
            _scratch_fd = os.open(path, os.O_RDWR | os.O_APPEND)
        finally:
            os.close(fd)
            os.unlink(path)
        _scratch_pid = os.getpid()
    return _scratch_fd
