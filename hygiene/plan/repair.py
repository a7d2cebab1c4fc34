"""Repair: a damaged-but-complete file gets a clean copy with the same pixels and metadata in its
place, and the original goes to quarantine (a plan action behind the same checks and journal as
every other; see apply.py)."""

from __future__ import annotations

import errno
import hashlib
from pathlib import Path

from hygiene.plan.decisions import Action
from hygiene.plan.fileops import (
    exists,
    fsync_dir,
    move_file,
    partial_name,
    remove_partial,
    rename_no_replace,
    same_as_planned,
    same_sha,
    write_clean_copy,
)
from hygiene.plan.journal import Journal, Track
from hygiene.scan import SNIFF_BYTES, DecodeError, decode, repaired_container, sniff_image_format


def repaired_bytes(data: bytes, max_pixels: int) -> bytes | str:
    """The clean copy of a damaged-but-complete file (its bytes with a sound container end), or
    why there is none. The copy must itself decode completely and pass every container check."""
    image_format = sniff_image_format(data[:SNIFF_BYTES])
    if image_format is None:
        return "cannot be repaired: not an image any more"
    try:
        damaged = decode(data, image_format, max_pixels=max_pixels, reduce_to_px=64)
    except DecodeError as exc:
        return f"cannot be repaired: {exc}"
    repair = repaired_container(image_format, data)
    if damaged.damage is None or repair is None:
        return "nothing to repair: it decodes cleanly"
    try:
        clean = decode(repair.fixed, image_format, max_pixels=max_pixels, reduce_to_px=64)
    except DecodeError as exc:
        return f"cannot be repaired: the clean copy does not decode ({exc})"
    if clean.damage is not None or clean.rgb.size != damaged.rgb.size:
        return "cannot be repaired: the clean copy is not sound"
    return repair.fixed


def repair(action: Action, track: Track, root: Path, journal: Journal, max_pixels: int) -> None:
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
    write_clean_copy(partial_name(src), fixed, src)
    move_file(src, dst, track.sha256, journal.faults)
    journal.faults.step()
    rename_no_replace(partial_name(src), src)
    fsync_dir(src.parent)
    journal.write(id=action.id, state="done")


def resume_repair(track: Track, src: Path, dst: Path, journal: Journal) -> tuple[bool, str] | None:
    partial = partial_name(src)
    clean = track.result_sha256
    if same_as_planned(src, track) and not exists(dst):
        remove_partial(src)
        return None
    if exists(src) and exists(dst):
        remove_partial(src)
        if clean is not None and same_sha(src, clean):
            return journal.settle(track, "done", "finished (the clean copy was in place)")
        return journal.settle(track, "done", "finished; a new file now at its path was left alone")
    if not exists(src) and exists(dst):
        if not (partial.is_file() and clean is not None and same_sha(partial, clean)):
            remove_partial(src)
            fixed = repaired_bytes(dst.read_bytes(), 1 << 40)
            if isinstance(fixed, str) or hashlib.sha256(fixed).hexdigest() != clean:
                return journal.settle(track, "done", "the original is in quarantine; no copy")
            write_clean_copy(partial, fixed, dst)
        journal.faults.step()
        rename_no_replace(partial, src)
        fsync_dir(src.parent)
        return journal.settle(track, "done", "finished (the clean copy was put in place)")
    remove_partial(src)
    return journal.settle(track, "abandoned", "left alone: the file changed or is gone")
