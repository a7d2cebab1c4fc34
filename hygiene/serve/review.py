"""Review with consequences in the app: an edited plan from the report's views is checked as
untrusted input, saved beside the run's plan.json under a name of its own content, shown as a
dry run, carried out only after a typed confirmation, and undone from its journal. The same code
as `hygiene apply` and `hygiene undo` does the work, with the same checks; the app only ever
moves removed files to the quarantine folder (reversible), never to the trash or for good.
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any

from hygiene.config import Config
from hygiene.plan import (
    JournalError,
    PlanError,
    apply_plan,
    check_plan_for_root,
    journal_path_for,
    parse_plan,
    plan_sha256,
)
from hygiene.plan.fileops import Outcome
from hygiene.plan.undo import undo
from hygiene.protect import protected_prefixes

CONFIRMATION = "apply"
MAX_PLAN_BYTES = 64 * 1024 * 1024
_PLAN_NAME = re.compile(r"plan-app-[0-9a-f]{16}\.json")


class ReviewError(ValueError):
    """A review step refused; str() is one line saying why."""


class Review:
    def __init__(self, run_dir: Path, root: Path, config: Config) -> None:
        self.run_dir, self.root, self.config = run_dir, root.resolve(), config
        self._lock = threading.Lock()  # one change to the archive at a time

    def dry_run(self, document: Any) -> dict[str, Any]:
        """Check an edited plan and save it; what applying it would do."""
        text = json.dumps(document, ensure_ascii=False, indent=1) + "\n"
        data = text.encode("utf-8")
        if len(data) > MAX_PLAN_BYTES:
            raise ReviewError("the plan is too large")
        try:
            plan = parse_plan(text)
            check_plan_for_root(plan, self.root)
        except PlanError as exc:
            raise ReviewError(f"the edited plan is refused: {exc}") from None
        plan_hash = plan_sha256(data)
        plan_file = self.run_dir / f"plan-app-{plan_hash[:16]}.json"
        if not plan_file.is_file():
            partial = plan_file.with_name(plan_file.name + ".partial")
            partial.write_bytes(data)
            partial.replace(plan_file)
        outcome = self._apply(plan_file, execute=False)
        return {"plan": plan_file.name, "actions": len(plan.actions), **_rows(outcome)}

    def apply(self, plan_name: str, confirmation: str) -> dict[str, Any]:
        if confirmation.strip().casefold() != CONFIRMATION:
            raise ReviewError(f'type "{CONFIRMATION}" to confirm')
        outcome = self._apply(self._plan_file(plan_name), execute=True)
        return {"plan": plan_name, **_rows(outcome)}

    def undo(self, plan_name: str) -> dict[str, Any]:
        plan_file = self._plan_file(plan_name)
        journal = journal_path_for(plan_file, plan_sha256(plan_file.read_bytes()))
        if not journal.is_file():
            raise ReviewError("nothing was applied from this plan")
        with self._lock:
            outcome = undo(journal, self.root, execute=True)
        return {"plan": plan_name, **_rows(outcome)}

    def _plan_file(self, plan_name: str) -> Path:
        """A plan this app saved (by its name only: never a path from the request)."""
        if not _PLAN_NAME.fullmatch(plan_name) or not (self.run_dir / plan_name).is_file():
            raise ReviewError("no such plan: run the dry run first")
        return self.run_dir / plan_name

    def _apply(self, plan_file: Path, *, execute: bool) -> Outcome:
        data = plan_file.read_bytes()
        try:
            plan = parse_plan(data.decode("utf-8"))
            check_plan_for_root(plan, self.root)
        except (PlanError, UnicodeDecodeError) as exc:
            raise ReviewError(f"{plan_file.name}: {exc}") from None
        with self._lock:
            try:
                return apply_plan(
                    plan,
                    plan_sha256(data),
                    journal_path_for(plan_file, plan_sha256(data)),
                    mode="quarantine",
                    execute=execute,
                    protected_roots=protected_prefixes(
                        self.root, self.config.duplicates.protected_roots
                    ),
                    max_pixels=self.config.scan.max_pixels,
                )
            except JournalError as exc:
                raise ReviewError(str(exc)) from None


def _rows(outcome: Outcome) -> dict[str, list[dict[str, str]]]:
    return {
        name: [{"path": path, "what": what} for path, what in getattr(outcome, name)]
        for name in ("done", "skipped", "failed")
    }
