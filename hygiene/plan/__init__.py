"""The plan and what acts on it: pure decisions -> plan.json; apply, repair and undo (the only code
that changes user files, every file step through fileops), journaled.

`undo` is imported from hygiene.plan.undo itself: a function of that name here would hide the
module.
"""

from hygiene.plan.apply import apply_plan, check_plan_for_root, plan_sha256
from hygiene.plan.decisions import (
    Fingerprint,
    Plan,
    PlanError,
    PlanInput,
    Policy,
    action_label,
    build_plan,
    parse_plan,
    plan_document,
    plan_json,
    settings_hash,
)
from hygiene.plan.fileops import Outcome
from hygiene.plan.journal import LEGACY_JOURNAL_NAME, Journal, JournalError, journal_path_for

__all__ = [
    "LEGACY_JOURNAL_NAME",
    "Fingerprint",
    "Journal",
    "JournalError",
    "Outcome",
    "Plan",
    "PlanError",
    "PlanInput",
    "Policy",
    "action_label",
    "apply_plan",
    "build_plan",
    "check_plan_for_root",
    "journal_path_for",
    "parse_plan",
    "plan_document",
    "plan_json",
    "plan_sha256",
    "settings_hash",
]
