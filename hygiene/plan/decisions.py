"""The plan: what hygiene proposes to do with each file, and why. Pure decisions plus plan.json.

A plan is built from a run's results and a policy; it touches nothing. Every action carries the
fingerprint (size, mtime_ns, sha256) its source had at plan time, so `hygiene apply` can refuse
anything that changed since. Paths are POSIX and relative to the plan's root.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import PurePosixPath
from typing import Any, Literal

from hygiene import __version__
from hygiene.paths import from_text, to_text
from hygiene.protect import is_protected

ActionKind = Literal["delete", "quarantine", "review", "move", "copy", "repair"]
PLAN_FORMAT = 1
_KINDS = ("delete", "quarantine", "review", "move", "copy", "repair")
DUP_KINDS = ("exact", "pixel", "near")
_PATH_FIELDS = ("source", "destination", "keeper")


class PlanError(ValueError):
    """A plan file that cannot be used; str() names the first bad entry."""


@dataclass(frozen=True, slots=True)
class Fingerprint:
    size_bytes: int
    mtime_ns: int
    sha256: str


@dataclass(frozen=True, slots=True)
class Action:
    id: int
    kind: ActionKind
    source: str
    destination: str | None  # None for review
    reason: str
    fingerprint: Fingerprint
    dup_kind: str | None = None  # for delete: exact | pixel | near
    keeper: str | None = None  # for delete: the copy that must still exist
    keeper_fingerprint: Fingerprint | None = None


@dataclass(frozen=True, slots=True)
class Policy:
    remove_duplicates: bool = True
    quarantine_corrupt: bool = True
    # damaged but complete files get a clean copy in place; the original goes to quarantine
    repair_damaged: bool = True
    review_flagged: bool = True  # dark/bright/blurry and _Review are listed for review
    sort_into: str = ""  # folder inside the root; empty: no sorting
    sort_mode: Literal["move", "copy"] = "move"
    flatten: bool = False
    quarantine_dir: str = ".hygiene-quarantine"


@dataclass(frozen=True, slots=True)
class PlanHeader:
    tool: str
    version: str
    format: int
    root: str
    created_at: str
    policy: dict[str, object]
    settings_hash: str
    # protected folders as prefixes relative to root; apply refuses every action under them
    protected_roots: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plan:
    header: PlanHeader
    actions: tuple[Action, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class PlanInput:
    """One file of the run, as the plan sees it."""

    rel_path: str
    status: str
    fingerprint: Fingerprint | None
    flags: tuple[str, ...] = ()  # raised quality flags
    category: str | None = None
    dup_kind: str | None = None
    keeper: bool | None = None  # None: not in a duplicate group
    keeper_path: str | None = None
    keeper_fingerprint: Fingerprint | None = None


def build_plan(
    files: list[PlanInput],
    policy: Policy,
    *,
    root: str,
    created_at: str,
    settings_hash: str,
    protected_roots: tuple[str, ...] = (),
) -> Plan:
    """`protected_roots` are prefixes from protect.protected_prefixes: nothing under them gets
    an action other than review."""
    actions: list[Action] = []
    taken: set[str] = set()
    for item in files:
        action = _decide(item, policy, taken)
        if action is None:
            continue
        if action.kind != "review" and is_protected(item.rel_path, protected_roots):
            continue
        actions.append(_with_id(action, len(actions) + 1))
    header = PlanHeader(
        "hygiene",
        __version__,
        PLAN_FORMAT,
        root,
        created_at,
        asdict(policy),
        settings_hash,
        protected_roots,
    )
    return Plan(header, tuple(actions))


def action_label(kind: ActionKind | None) -> str:
    """The `action` column of images.csv: keep | delete | move | review | repair."""
    labels = {"delete": "delete", "quarantine": "delete", "move": "move", "review": "review"}
    labels["repair"] = "repair"
    return labels.get(kind or "", "keep")


def _decide(item: PlanInput, policy: Policy, taken: set[str]) -> Action | None:
    if item.fingerprint is None:
        return None
    quarantined = f"{policy.quarantine_dir}/{item.rel_path}"
    if item.status == "corrupt" and policy.quarantine_corrupt:
        return Action(0, "quarantine", item.rel_path, quarantined, "corrupt", item.fingerprint)
    if item.status == "damaged":  # never removed, whatever its group says: repaired at most
        if not policy.repair_damaged:
            return None
        reason = "damaged but complete: a clean copy replaces it, the original goes to quarantine"
        return Action(0, "repair", item.rel_path, quarantined, reason, item.fingerprint)
    if item.status != "ok":
        return None
    if item.keeper is False and policy.remove_duplicates and item.keeper_path:
        return Action(
            0,
            "delete",
            item.rel_path,
            quarantined,
            f"{item.dup_kind} duplicate of {item.keeper_path}",
            item.fingerprint,
            item.dup_kind,
            item.keeper_path,
            item.keeper_fingerprint,
        )
    concerns = [*item.flags, *(["_Review"] if item.category == "_Review" else [])]
    if concerns and policy.review_flagged:
        return Action(0, "review", item.rel_path, None, ", ".join(concerns), item.fingerprint)
    if policy.sort_into and item.category:
        destination = _sorted_path(item, policy, taken)
        return Action(
            0,
            policy.sort_mode,
            item.rel_path,
            destination,
            f"sorted into {item.category}",
            item.fingerprint,
        )
    return None


def _sorted_path(item: PlanInput, policy: Policy, taken: set[str]) -> str:
    folder = PurePosixPath(policy.sort_into) / _safe_name(item.category or "Other")
    if not policy.flatten:
        return str(folder / item.rel_path)
    name = PurePosixPath(item.rel_path)
    candidate, counter = folder / name.name, 2
    while str(candidate) in taken:  # collision-safe names when flattening
        candidate = folder / f"{name.stem} ({counter}){name.suffix}"
        counter += 1
    taken.add(str(candidate))
    return str(candidate)


def _safe_name(category: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in " -_." else "_" for c in category).strip(" .")
    return cleaned or "Other"


def _with_id(action: Action, action_id: int) -> Action:
    values = {name: getattr(action, name) for name in Action.__slots__}
    values["id"] = action_id
    return Action(**values)


# ---------------------------------------------------------------- plan.json


def settings_hash(policy: Policy, config_text: str) -> str:
    return hashlib.sha256(f"{asdict(policy)!r}|{config_text}".encode()).hexdigest()[:16]


def plan_json(plan: Plan) -> str:
    """plan.json text; paths in their text form (paths.to_text), so any file name survives."""
    return json.dumps(plan_document(plan), indent=1, ensure_ascii=False)


def plan_document(plan: Plan) -> dict[str, Any]:
    """What plan.json holds, as JSON-ready values."""
    header = asdict(plan.header)
    header["protected_roots"] = [to_text(p) for p in plan.header.protected_roots]
    actions = []
    for action in plan.actions:
        entry = asdict(action)
        for name in _PATH_FIELDS:
            if entry[name] is not None:
                entry[name] = to_text(entry[name])
        actions.append(entry)
    return {"header": header, "actions": actions}


def parse_plan(text: str) -> Plan:
    """Read and validate plan.json; PlanError names the first problem."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PlanError(f"plan is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("actions"), list):
        raise PlanError("plan has no header or no list of actions")
    header = _header(data.get("header"))
    actions = tuple(_action(entry, position) for position, entry in enumerate(data["actions"], 1))
    ids = [a.id for a in actions]
    if len(set(ids)) != len(ids):
        raise PlanError("plan has two actions with the same id")
    return Plan(header, actions)


def _header(raw: object) -> PlanHeader:
    if not isinstance(raw, dict):
        raise PlanError("plan header is missing")
    try:
        header = PlanHeader(**raw)
        protected = raw.get("protected_roots") or []
        if not isinstance(protected, list) or not all(isinstance(p, str) for p in protected):
            raise TypeError("protected_roots must be a list of folder names")
        header = replace(header, protected_roots=tuple(from_text(p) for p in protected))
    except (TypeError, ValueError) as exc:
        raise PlanError(f"plan header is malformed: {exc}") from None
    if header.tool != "hygiene" or header.format != PLAN_FORMAT:
        raise PlanError(f"not a hygiene plan of format {PLAN_FORMAT}")
    if not isinstance(header.root, str) or not header.root.startswith("/"):
        raise PlanError("plan header root must be an absolute path")
    return header


def _action(raw: object, position: int) -> Action:
    where = f"action #{position}"
    if not isinstance(raw, dict):
        raise PlanError(f"{where} is not an object")
    try:
        fingerprint = _fingerprint(raw.get("fingerprint"))
        keeper_fp = raw.get("keeper_fingerprint")
        action = Action(
            id=int(raw["id"]),
            kind=raw["kind"],
            source=_path(raw["source"]),
            destination=_path(raw.get("destination")),
            reason=str(raw.get("reason", "")),
            fingerprint=fingerprint,
            dup_kind=raw.get("dup_kind"),
            keeper=_path(raw.get("keeper")),
            keeper_fingerprint=_fingerprint(keeper_fp) if keeper_fp is not None else None,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise PlanError(f"{where} is malformed: {exc}") from None
    if action.kind not in _KINDS:
        raise PlanError(f"{where} ({action.source}): unknown kind {action.kind!r}")
    for label, path in (
        ("source", action.source),
        ("destination", action.destination),
        ("keeper", action.keeper),
    ):
        if path is not None and not is_safe_relative(path):
            raise PlanError(f"{where}: {label} {to_text(path)!r} escapes the archive root")
    if action.kind != "review" and action.destination is None:
        raise PlanError(f"{where} ({action.source}): {action.kind} needs a destination")
    if action.kind == "delete":
        if action.keeper is None or action.keeper_fingerprint is None:
            raise PlanError(f"{where} ({to_text(action.source)}): delete without a keeper")
        if action.dup_kind not in DUP_KINDS:
            raise PlanError(
                f"{where} ({to_text(action.source)}): dup_kind must be one of "
                f"{', '.join(DUP_KINDS)}, not {action.dup_kind!r}"
            )
    return action


def _path(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"a path must be a string, not {value!r}")
    return from_text(value)


def _fingerprint(raw: object) -> Fingerprint:
    if not isinstance(raw, dict):
        raise TypeError("fingerprint missing")
    sha = raw["sha256"]
    if not (isinstance(sha, str) and len(sha) == 64):
        raise ValueError("fingerprint sha256 must be 64 hex digits")
    return Fingerprint(int(raw["size_bytes"]), int(raw["mtime_ns"]), sha)


def is_safe_relative(path: str) -> bool:
    """A relative POSIX path that stays below its root (a backslash is an ordinary character)."""
    if not isinstance(path, str) or not path or "\x00" in path:
        return False
    parts = PurePosixPath(path).parts
    return not path.startswith("/") and ".." not in parts and parts not in ((), (".",))
