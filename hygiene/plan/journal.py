"""The write-ahead journal of one plan: what apply and undo did, replayed in order.

A journal belongs to exactly one plan: its file name carries the plan's sha256 and its first line
(the header) records that hash, the archive root and the removal mode. Every later line is an
event about one action, fsync'd before the step it announces ("begin", "undo-begin") and after
it ("done", "undone", "abandoned"). Replaying the events in order gives each action's current
state, so any sequence of apply, undo, re-apply and resume after a kill is read correctly.
Paths are stored in their text form (paths.to_text).
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from hygiene import __version__
from hygiene.paths import from_text, to_text

JOURNAL_FORMAT = 2
LEGACY_JOURNAL_NAME = "journal.jsonl"  # hygiene 0.1: one journal per folder, no header

TrackState = Literal["begun", "done", "undoing", "undone", "abandoned"]


class JournalError(ValueError):
    """A journal that cannot be used with this plan; str() says why."""


def journal_path_for(plan_file: Path, plan_sha256: str) -> Path:
    return plan_file.parent / f"journal-{plan_sha256[:16]}.jsonl"


class Faults:
    """Kill points for tests: `step()` runs before and after every journal write and file step,
    and the `kill_at`-th call runs `kill` (by default SIGKILL of this process)."""

    def __init__(self, kill_at: int = 0, kill: Callable[[], None] | None = None) -> None:
        self.remaining = kill_at
        self._kill = kill or (lambda: os.kill(os.getpid(), signal.SIGKILL))

    def step(self) -> None:
        if self.remaining:
            self.remaining -= 1
            if self.remaining == 0:
                self._kill()


# What a Journal made without explicit faults uses. Production code never changes it; tests that
# kill a CLI process mid-apply install a factory through tests/fault_hook.py.
_faults_factory: Callable[[], Faults] = Faults


def install_faults(factory: Callable[[], Faults]) -> None:
    """Make every Journal created from now on without explicit faults use `factory()`."""
    global _faults_factory
    _faults_factory = factory


@dataclass
class Track:
    """What the journal says about one action, after replaying every event."""

    id: int
    state: TrackState
    op: str  # move | copy | trash | unlink | repair
    source: str  # relative paths (internal form)
    destination: str | None
    sha256: str
    size_bytes: int
    mtime_ns: int
    restore_to: str | None = None  # set while an undo is under way
    result_sha256: str | None = None  # repair: the clean copy written in the source's place


@dataclass(frozen=True)
class JournalHeader:
    plan_sha256: str | None  # None for a hygiene 0.1 journal
    root: str | None
    mode: str | None


class Journal:
    def __init__(self, path: Path, faults: Faults | None = None) -> None:
        self.path = path
        self.faults = faults or _faults_factory()

    def read(self) -> tuple[JournalHeader, list[dict[str, object]]]:
        if not self.path.is_file():
            return JournalHeader(None, None, None), []
        header = JournalHeader(None, None, None)
        events: list[dict[str, object]] = []
        with self.path.open(encoding="utf-8") as handle:
            for line in handle:
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut short by a crash: its step is judged from the disk
                if not isinstance(entry, dict):
                    continue
                if entry.get("journal") == JOURNAL_FORMAT:
                    header = JournalHeader(
                        str(entry.get("plan_sha256")),
                        from_text(str(entry.get("root"))),
                        str(entry.get("mode")),
                    )
                elif "id" in entry:
                    events.append(entry)
        return header, events

    def open_for(self, plan_sha256: str, root: Path, mode: str) -> list[dict[str, object]]:
        """The events so far, after checking the journal belongs to this plan and root; a new
        journal gets its header first."""
        header, events = self.read()
        if header.plan_sha256 is None and events:
            raise JournalError(f"{self.path} has no header: it is not a journal of this plan")
        if header.plan_sha256 is not None:
            if header.plan_sha256 != plan_sha256:
                raise JournalError(f"{self.path} belongs to another plan")
            if header.root != str(root):
                raise JournalError(f"{self.path} is for the archive {header.root}, not {root}")
            return events
        self._append(
            {
                "journal": JOURNAL_FORMAT,
                "tool": "hygiene",
                "version": __version__,
                "plan_sha256": plan_sha256,
                "root": to_text(str(root)),
                "mode": mode,
            }
        )
        return events

    def begin(self, track: Track) -> None:
        self.write(
            id=track.id,
            state="begin",
            op=track.op,
            src=to_text(track.source),
            dst=to_text(track.destination) if track.destination is not None else None,
            sha256=track.sha256,
            size_bytes=track.size_bytes,
            mtime_ns=track.mtime_ns,
            result_sha256=track.result_sha256,
        )

    def write(self, **entry: object) -> None:
        self._append(entry)

    def settle(self, track: Track, state: str, message: str) -> tuple[bool, str]:
        """Record how a resumed action ended: (whether it is done, what to tell the user)."""
        self.write(id=track.id, state=state)
        return state == "done", message

    def _append(self, entry: dict[str, object]) -> None:
        self.faults.step()
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry, ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        self.faults.step()


def replay(events: list[dict[str, object]]) -> tuple[dict[int, Track], list[int]]:
    """Each action's state, and the ids in the order they were last begun (undo goes backwards)."""
    tracks: dict[int, Track] = {}
    order: list[int] = []
    for event in events:
        try:
            action_id = int(event["id"])  # type: ignore[call-overload]
        except (KeyError, TypeError, ValueError):
            continue
        state = event.get("state")
        if state == "begin":
            tracks[action_id] = _track(action_id, event)
            if action_id in order:
                order.remove(action_id)
            order.append(action_id)
            continue
        track = tracks.get(action_id)
        if track is None:
            continue
        if state == "done":
            track.state = "done"
        elif state == "abandoned":
            track.state = "abandoned"
        elif state == "undo-begin":
            track.state = "undoing"
            target = event.get("restore_to")
            track.restore_to = from_text(str(target)) if target is not None else None
        elif state == "undone":
            track.state = "undone"
            track.restore_to = None
    return tracks, order


def _track(action_id: int, event: dict[str, object]) -> Track:
    destination = event.get("dst")
    return Track(
        id=action_id,
        state="begun",
        op=str(event.get("op")),
        source=from_text(str(event.get("src"))),
        destination=from_text(str(destination)) if destination is not None else None,
        sha256=str(event.get("sha256")),
        size_bytes=int(event.get("size_bytes", -1)),  # type: ignore[call-overload]
        mtime_ns=int(event.get("mtime_ns", -1)),  # type: ignore[call-overload]
        result_sha256=str(event["result_sha256"]) if event.get("result_sha256") else None,
    )
