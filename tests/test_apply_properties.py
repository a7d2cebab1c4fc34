"""Property: whatever happens (apply, undo, re-apply, kill -9 at any step, files edited or
replaced behind hygiene's back, keepers moved away, the plan hand-edited), no photo is lost, and
a final undo brings every untouched file back byte for byte with its mtime.

Runs in-process: a kill is an exception raised at a fault point, so no code after it runs (the
journal's fsync'd lines and the disk are all a later run sees, as after a real kill -9). The CLI
kill test with SIGKILL is in test_apply.py.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from hygiene.demo.samples import jpeg_bytes, photo
from hygiene.plan.apply import apply_plan, plan_sha256
from hygiene.plan.decisions import Fingerprint, Plan, PlanInput, Policy, build_plan, plan_json
from hygiene.plan.journal import Faults, Journal, journal_path_for, replay
from hygiene.plan.undo import undo

EXAMPLES = int(os.environ.get("HYGIENE_PROPERTY_EXAMPLES", "300"))
KEEPERS = ("a.jpg", "b.png", "c.jpg")
SOURCES = (
    "copies/a.jpg",
    "copies/b.bmp",
    "copies/c_small.jpg",
    "broken.jpg",
    "d.jpg",
    "e.jpg",
    "damaged.jpg",
)


class Killed(BaseException):
    pass


def _kill() -> None:
    raise Killed


def _image_bytes(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _fingerprint(path: Path) -> Fingerprint:
    info = path.stat()
    return Fingerprint(info.st_size, info.st_mtime_ns, _sha(path.read_bytes()))


@dataclass
class World:
    """An archive, its run folder, and what the test knows must survive."""

    base: Path
    root: Path
    run: Path
    elsewhere: Path  # where the "user" moves files out of the archive
    plan: Plan
    plan_bytes: bytes = b""
    journals: list[Path] = field(default_factory=list)
    # each content belongs to a picture; a picture must keep at least one content somewhere
    picture_of: dict[str, str] = field(default_factory=dict)
    originals: dict[str, tuple[str, int]] = field(default_factory=dict)  # path -> sha, mtime
    touched: set[str] = field(default_factory=set)  # paths the outside world changed
    fresh: int = 0

    def save_plan(self, plan: Plan) -> None:
        self.plan = plan
        self.plan_bytes = plan_json(plan).encode()
        (self.run / "plan.json").write_bytes(self.plan_bytes)
        journal = journal_path_for(self.run / "plan.json", plan_sha256(self.plan_bytes))
        if journal not in self.journals:
            self.journals.append(journal)

    @property
    def journal(self) -> Path:
        return journal_path_for(self.run / "plan.json", plan_sha256(self.plan_bytes))

    def new_content(self, label: str) -> bytes:
        self.fresh += 1
        data = f"{label} #{self.fresh}".encode() * 50
        self.picture_of[_sha(data)] = _sha(data)
        return data


def make_world(base: Path) -> World:
    root, run, elsewhere = base / "archive", base / "run", base / "elsewhere"
    for folder in (root / "copies", run, elsewhere):
        folder.mkdir(parents=True)
    a, b, c = (photo(seed, 96, 72) for seed in (1, 2, 3))
    files = {
        "a.jpg": jpeg_bytes(a),
        "copies/a.jpg": jpeg_bytes(a),
        "b.png": _image_bytes(b, "PNG"),
        "copies/b.bmp": _image_bytes(b, "BMP"),
        "c.jpg": jpeg_bytes(c),
        "copies/c_small.jpg": jpeg_bytes(c.resize((48, 36))),
        "broken.jpg": jpeg_bytes(photo(4, 96, 72))[:300],
        "d.jpg": jpeg_bytes(photo(5, 96, 72)),
        "e.jpg": jpeg_bytes(photo(6, 96, 72)),
        "damaged.jpg": jpeg_bytes(photo(7, 96, 72))[:-2],  # whole pixels, no end marker
    }
    for rel, data in files.items():
        (root / rel).write_bytes(data)
    prints = {rel: _fingerprint(root / rel) for rel in files}

    def duplicate(rel: str, kind: str, keeper: str) -> PlanInput:
        return PlanInput(rel, "ok", prints[rel], (), None, kind, False, keeper, prints[keeper])

    inputs = [
        PlanInput("a.jpg", "ok", prints["a.jpg"], keeper=True, dup_kind="exact"),
        duplicate("copies/a.jpg", "exact", "a.jpg"),
        PlanInput("b.png", "ok", prints["b.png"], keeper=True, dup_kind="pixel"),
        duplicate("copies/b.bmp", "pixel", "b.png"),
        PlanInput("c.jpg", "ok", prints["c.jpg"], keeper=True, dup_kind="near"),
        duplicate("copies/c_small.jpg", "near", "c.jpg"),
        PlanInput("broken.jpg", "corrupt", prints["broken.jpg"]),
        PlanInput("d.jpg", "ok", prints["d.jpg"], category="Food"),
        PlanInput("damaged.jpg", "damaged", prints["damaged.jpg"]),
    ]
    plan = build_plan(
        inputs, Policy(sort_into="Sorted"), root=str(root), created_at="t", settings_hash="x"
    )
    copy_e = replace(plan.actions[-1], id=100, source="e.jpg", destination="Sorted/e.jpg")
    copy_e = replace(copy_e, kind="copy", fingerprint=prints["e.jpg"])
    world = World(base, root, run, elsewhere, replace(plan, actions=(*plan.actions, copy_e)))
    world.save_plan(world.plan)
    for rel, fingerprint in prints.items():
        world.originals[rel] = (fingerprint.sha256, fingerprint.mtime_ns)
        world.picture_of[fingerprint.sha256] = fingerprint.sha256
    # a pixel copy and an exact copy are the same picture as their keeper
    world.picture_of[prints["copies/b.bmp"].sha256] = prints["b.png"].sha256
    return world


# ---------------------------------------------------------------- steps


def step_apply(world: World, mode: str, kill_at: int) -> None:
    faults = Faults(kill_at, _kill) if kill_at else None
    with contextlib.suppress(Killed):
        apply_plan(
            world.plan, plan_sha256(world.plan_bytes), world.journal, mode=mode, faults=faults
        )


def step_undo(world: World, kill_at: int) -> None:
    if not world.journal.is_file():
        return
    faults = Faults(kill_at, _kill) if kill_at else None
    with contextlib.suppress(Killed):
        undo(world.journal, world.root, execute=True, faults=faults)


def step_edit_file(world: World, index: int) -> None:
    """The user edits a photo: the old version is kept elsewhere, a new one takes the path."""
    rel = (*KEEPERS, *SOURCES)[index % (len(KEEPERS) + len(SOURCES))]
    path = world.root / rel
    if not path.is_file():
        return
    shutil.move(path, world.elsewhere / f"{world.fresh}-{path.name}")
    path.write_bytes(world.new_content(f"edited {rel}"))
    world.touched.add(rel)


def step_new_file_at_source(world: World, index: int) -> None:
    """A phone re-sync puts a new file at a path hygiene moved away."""
    rel = SOURCES[index % len(SOURCES)]
    path = world.root / rel
    if path.exists():
        return
    path.write_bytes(world.new_content(f"resynced {rel}"))
    world.touched.add(rel)


def step_move_keeper_away(world: World, index: int) -> None:
    rel = KEEPERS[index % len(KEEPERS)]
    path = world.root / rel
    if path.is_file():
        shutil.move(path, world.elsewhere / f"{world.fresh}-{path.name}")
        world.fresh += 1
        world.touched.add(rel)


def step_edit_plan(world: World, how: str) -> None:
    actions = list(world.plan.actions)
    by_source = {a.source: i for i, a in enumerate(actions)}
    exact = by_source["copies/a.jpg"]
    if how == "self_keeper":
        action = actions[exact]
        actions[exact] = replace(
            action, keeper=action.source, keeper_fingerprint=action.fingerprint
        )
    elif how in ("unrelated_exact", "unrelated_pixel"):
        d = world.root / "d.jpg"
        if not d.is_file():
            return
        kind = how.removeprefix("unrelated_")
        actions[exact] = replace(
            actions[exact], keeper="d.jpg", keeper_fingerprint=_fingerprint(d), dup_kind=kind
        )
    elif how == "near_as_exact":
        near = by_source["copies/c_small.jpg"]
        actions[near] = replace(actions[near], dup_kind="exact")
    elif how == "mutual":
        action = actions[by_source["copies/b.bmp"]]
        reverse = replace(
            action,
            id=500,
            source="b.png",
            destination=".hygiene-quarantine/b.png",
            fingerprint=action.keeper_fingerprint,
            keeper=action.source,
            keeper_fingerprint=action.fingerprint,
        )
        actions.append(reverse)
    else:  # reorder: the same actions in another plan file
        actions.reverse()
    world.save_plan(replace(world.plan, actions=tuple(actions)))


STEPS = st.one_of(
    st.tuples(st.just("apply"), st.sampled_from(["quarantine", "permanent"]), st.integers(0, 40)),
    st.tuples(st.just("undo"), st.integers(0, 30)),
    st.tuples(st.just("edit_file"), st.integers(0, 9)),
    st.tuples(st.just("new_file_at_source"), st.integers(0, 6)),
    st.tuples(st.just("move_keeper_away"), st.integers(0, 2)),
    st.tuples(
        st.just("edit_plan"),
        st.sampled_from(
            [
                "self_keeper",
                "unrelated_exact",
                "unrelated_pixel",
                "near_as_exact",
                "mutual",
                "reorder",
            ]
        ),
    ),
)


def run_step(world: World, step: tuple) -> None:
    name, *args = step
    {
        "apply": step_apply,
        "undo": step_undo,
        "edit_file": step_edit_file,
        "new_file_at_source": step_new_file_at_source,
        "move_keeper_away": step_move_keeper_away,
        "edit_plan": step_edit_plan,
    }[name](world, *args)


# ---------------------------------------------------------------- invariants


def present_contents(world: World) -> dict[str, list[Path]]:
    found: dict[str, list[Path]] = defaultdict(list)
    for folder in (world.root, world.elsewhere):
        for path in folder.rglob("*"):
            if path.is_file() and not path.is_symlink():
                found[_sha(path.read_bytes())].append(path)
    return found


def assert_no_picture_lost(world: World, history: list[tuple]) -> None:
    found = present_contents(world)
    alive = {world.picture_of.get(sha, sha) for sha in found}
    missing = set(world.picture_of.values()) - alive
    assert not missing, f"lost {len(missing)} picture(s) after {history}"


def permanently_deleted(world: World) -> set[str]:
    gone = set()
    for journal in world.journals:
        if journal.is_file():
            tracks, _ = replay(Journal(journal).read()[1])
            # a kill between the unlink and its "done" line leaves the step "begun"
            gone |= {t.source for t in tracks.values() if t.op == "unlink" and t.state != "undone"}
    return gone


def assert_final_undo_restores(world: World, history: list[tuple]) -> None:
    for journal in reversed(world.journals):
        if journal.is_file():
            undo(journal, world.root, execute=True)
    gone = permanently_deleted(world)
    for rel, (sha, mtime) in world.originals.items():
        if rel in world.touched or rel in gone:
            continue
        path = world.root / rel
        candidates = [path, *path.parent.glob(f"{path.stem} (restored*){path.suffix}")]
        assert any(
            c.is_file() and _sha(c.read_bytes()) == sha and c.stat().st_mtime_ns == mtime
            for c in candidates
        ), f"{rel} is not back byte for byte with its mtime after {history}"
    leftovers = [
        p
        for folder in ("Sorted", ".hygiene-quarantine")
        for p in (world.root / folder).rglob("*")
        if p.is_file()
    ]
    assert not leftovers, f"left behind {leftovers} after {history}"


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.lists(STEPS, min_size=1, max_size=8))
def test_no_sequence_of_events_loses_a_photo(steps):
    with tempfile.TemporaryDirectory() as base:
        world = make_world(Path(base))
        history: list[tuple] = []
        for step in steps:
            history.append(step)
            run_step(world, step)
            assert_no_picture_lost(world, history)
        assert_final_undo_restores(world, history)
        assert_no_picture_lost(world, history)


def test_the_world_is_what_the_property_assumes(tmp_path):
    """The plan really holds every kind of action, and an uninterrupted apply does them all."""
    world = make_world(tmp_path)
    kinds = sorted({(a.kind, a.dup_kind) for a in world.plan.actions}, key=str)
    assert ("delete", "exact") in kinds and ("delete", "pixel") in kinds
    assert ("delete", "near") in kinds and ("quarantine", None) in kinds
    assert ("move", None) in kinds and ("copy", None) in kinds and ("repair", None) in kinds
    outcome = apply_plan(world.plan, plan_sha256(world.plan_bytes), world.journal, mode="permanent")
    assert not outcome.failed
    assert {path for path, _ in outcome.skipped} == {"copies/c_small.jpg"}  # near: not permanent
    assert not (world.root / "copies/a.jpg").exists() and not (world.root / "copies/b.bmp").exists()
    assert (world.root / ".hygiene-quarantine/broken.jpg").is_file()
    assert (world.root / "Sorted/Food/d.jpg").is_file() and (world.root / "Sorted/e.jpg").is_file()
    assert (world.root / ".hygiene-quarantine/damaged.jpg").is_file()
    assert (world.root / "damaged.jpg").read_bytes().endswith(b"\xff\xd9")
