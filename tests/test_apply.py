"""The plan, its dry-run gate, apply and undo: no photo is ever lost."""

from __future__ import annotations

import collections
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hygiene.plan.apply import repaired_bytes
from tests.conftest import run_hygiene

REPO = Path(__file__).resolve().parents[1]
FAULT_HOOK = (sys.executable, "-m", "tests.fault_hook")  # kills apply at a given step


def tree(root: Path) -> dict[str, tuple[str, int]]:
    return {
        str(p.relative_to(root)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def contents(root: Path, ignore: frozenset[str] = frozenset()) -> collections.Counter[str]:
    return collections.Counter(sha for sha, _ in tree(root).values() if sha not in ignore)


def clean_copies(root: Path, plan_file: Path) -> frozenset[str]:
    """sha256 of the clean copies the plan's repairs write: new content, by design."""
    plan = json.loads(plan_file.read_text(encoding="utf-8"))
    fixed = [
        repaired_bytes((root / action["source"]).read_bytes(), 10**9)
        for action in plan["actions"]
        if action["kind"] == "repair"
    ]
    assert fixed and all(isinstance(data, bytes) for data in fixed)
    return frozenset(hashlib.sha256(data).hexdigest() for data in fixed)


def apply(*args, env=None, **kwargs):
    return run_hygiene("apply", *args, env_extra=env, **kwargs)


def test_plan_lists_actions_and_images_csv_says_them(scanned):
    root, run = scanned
    plan = json.loads((run / "plan.json").read_text())
    assert plan["header"]["root"] == str(root) and plan["header"]["tool"] == "hygiene"
    kinds = collections.Counter(a["kind"] for a in plan["actions"])
    assert kinds["delete"] >= 3 and kinds["quarantine"] >= 8 and kinds["review"] >= 3
    for action in plan["actions"]:
        assert len(action["fingerprint"]["sha256"]) == 64
        if action["kind"] == "delete":
            assert action["keeper"] and action["keeper_fingerprint"]
    rows = {r.split(",")[0] for r in (run / "images.csv").read_text().splitlines()}
    assert "Broken/zero_byte.jpg" in rows
    import pandas as pd

    images = pd.read_csv(run / "images.csv", keep_default_na=False).set_index("path")
    assert images.loc["WhatsApp/IMG-20190701-WA0000.jpg", "action"] == "delete"
    assert images.loc["Camera/IMG_0000.jpg", "action"] == "keep"
    assert images.loc["Broken/truncated_half.jpg", "action"] == "delete"
    assert set(images["action"]) <= {"keep", "delete", "move", "review", "repair"}
    assert images.loc["Damaged/no_end_marker.jpg", "action"] == "repair"


def test_dry_run_changes_nothing_at_all(scanned):
    root, run = scanned
    before = tree(root)
    result = apply(run / "plan.json")
    assert result.returncode == 0, result.stderr
    assert "dry run" in result.stdout
    assert tree(root) == before and not (run / "journal.jsonl").exists()
    undo = run_hygiene("undo", run / "plan.json")
    assert undo.returncode == 2 and "no journal" in undo.stderr


def test_apply_then_undo_restores_every_byte_path_and_mtime(scanned):
    root, run = scanned
    before = tree(root)
    repaired = clean_copies(root, run / "plan.json")
    result = apply(run / "plan.json", "--execute")
    assert result.returncode == 0, result.stderr
    after = tree(root)
    assert contents(root, repaired) == collections.Counter(sha for sha, _ in before.values())
    assert "WhatsApp/IMG-20190701-WA0000.jpg" not in after
    assert ".hygiene-quarantine/WhatsApp/IMG-20190701-WA0000.jpg" in after
    assert "Ümlaut Ordner/Strand  mit Leerzeichen.jpg" not in after  # a near copy: quarantined
    undo = run_hygiene("undo", run, "--execute")
    assert undo.returncode == 0, undo.stderr
    assert tree(root) == before


def test_changed_file_is_skipped_and_the_rest_applied(scanned):
    root, run = scanned
    changed = root / "WhatsApp/IMG-20190701-WA0001.jpg"
    changed.write_bytes(changed.read_bytes() + b"edited")
    result = apply(run / "plan.json", "--execute")
    assert result.returncode == 0, result.stderr
    assert "WhatsApp/IMG-20190701-WA0001.jpg: source changed" in result.stdout
    assert changed.exists() and not (root / "WhatsApp/IMG-20190701-WA0000.jpg").exists()


def test_missing_keeper_means_the_group_is_not_touched(scanned):
    root, run = scanned
    plan = json.loads((run / "plan.json").read_text())
    keeper = next(a["keeper"] for a in plan["actions"] if a["source"].startswith("WhatsApp/"))
    (root / keeper).rename(root / "moved away.jpg")
    result = apply(run / "plan.json", "--execute")
    assert "keeper is missing" in result.stdout
    for name in ("IMG-20190701-WA0000.jpg", "IMG-20190701-WA0001.jpg"):
        assert (root / "WhatsApp" / name).exists()


def test_protected_roots_and_existing_destinations_are_never_touched(scanned, tmp_path):
    root, run = scanned
    config = tmp_path / "protect.toml"
    config.write_text('[duplicates]\nprotected_roots = ["WhatsApp"]\n')
    occupied = root / ".hygiene-quarantine/Broken/truncated_half.jpg"
    occupied.parent.mkdir(parents=True, exist_ok=True)
    occupied.write_bytes(b"someone else's file")
    result = apply(run / "plan.json", "--execute", "--config", config)
    assert result.returncode == 0, result.stderr
    assert all((root / "WhatsApp" / n).exists() for n in os.listdir(root / "WhatsApp"))
    assert "protected" in result.stdout and "destination already exists" in result.stdout
    assert occupied.read_bytes() == b"someone else's file"
    assert (root / "Broken/truncated_half.jpg").exists()


@pytest.mark.parametrize(
    "edit,message",
    [
        (lambda p: p["actions"][0].update(source="../outside.jpg"), "escapes the archive root"),
        (lambda p: p["actions"][1].update(destination="/etc/passwd"), "escapes the archive root"),
        (lambda p: p["actions"][0].update(kind="shred"), "unknown kind"),
        (lambda p: p["actions"][2].pop("fingerprint"), "action #3 is malformed"),
        (lambda p: p["header"].update(root="/tmp/no-such-archive"), "does not exist"),
        (lambda p: p["header"].update(version="99.0.0"), "newer than this one"),
    ],
)
def test_tampered_plan_is_refused_with_nothing_done(scanned, edit, message):
    root, run = scanned
    plan = json.loads((run / "plan.json").read_text())
    edit(plan)
    (run / "plan.json").write_text(json.dumps(plan))
    before = tree(root)
    result = apply(run / "plan.json", "--execute")
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
    assert tree(root) == before


def test_plan_for_another_root_is_refused(scanned, tmp_path):
    _, run = scanned
    result = apply(run / "plan.json", "--execute", "--root", tmp_path)
    assert result.returncode == 2 and "the plan is for" in result.stderr


def test_killed_at_any_point_reapply_or_undo_loses_nothing(scanned, tmp_path):
    """Kill apply at 50+ points; then finish it or undo it; every photo is there exactly once."""
    root, run = scanned
    pristine = tmp_path / "pristine"
    shutil.copytree(root, pristine)
    original = contents(pristine)
    repaired = clean_copies(pristine, run / "plan.json")
    original_tree = tree(pristine)
    plan_text = (run / "plan.json").read_text()
    moves = sum(1 for a in json.loads(plan_text)["actions"] if a["kind"] != "review")
    points = sorted(random.Random(5).sample(range(1, 5 * moves + 1), 52))
    for attempt, point in enumerate(points):
        shutil.rmtree(root)
        shutil.copytree(pristine, root)
        attempt_dir = tmp_path / f"attempt{attempt}"
        attempt_dir.mkdir()
        (attempt_dir / "plan.json").write_text(plan_text)
        killed = subprocess.run(
            [*FAULT_HOOK, str(point), "apply", attempt_dir / "plan.json", "--execute"],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=REPO,
        )
        assert killed.returncode == -9, f"fault point {point} was never reached"
        assert contents(root, repaired) == original, f"lost or doubled a file at fault {point}"
        if attempt % 2:
            recovered = run_hygiene("undo", attempt_dir, "--execute")
            assert recovered.returncode == 0, recovered.stderr
            assert tree(root) == original_tree, f"undo after fault point {point}"
        else:
            recovered = apply(attempt_dir / "plan.json", "--execute")
            assert recovered.returncode == 0, recovered.stderr
            assert contents(root, repaired) == original, f"re-apply after fault point {point}"
            assert not (root / "WhatsApp/IMG-20190701-WA0000.jpg").exists()


def test_trash_mode_sends_files_to_the_os_trash_and_undo_says_so(scanned, tmp_path):
    root, run = scanned
    trash_home = tmp_path / "data"
    env = {"XDG_DATA_HOME": str(trash_home)}
    result = apply(run / "plan.json", "--execute", "--trash", env=env)
    assert result.returncode == 0, result.stderr
    assert not (root / "WhatsApp/IMG-20190701-WA0000.jpg").exists()
    trashed = {p.name for p in (trash_home / "Trash" / "files").iterdir()}
    assert "IMG-20190701-WA0000.jpg" in trashed
    undo = run_hygiene("undo", run, "--execute", env_extra=env)
    assert undo.returncode == 1 and "OS trash" in undo.stdout


def test_permanent_deletion_is_limited_to_exact_and_pixel_copies(scanned):
    root, run = scanned
    result = apply(run / "plan.json", "--execute", "--permanently")
    assert result.returncode == 0, result.stderr
    assert not (root / "WhatsApp/IMG-20190701-WA0000.jpg").exists()  # exact copy: deleted
    assert not (root / ".hygiene-quarantine/WhatsApp/IMG-20190701-WA0000.jpg").exists()
    assert (root / "Downloads/IMG_0001_small.jpg").exists()  # near copy: kept
    assert "near duplicates are never deleted permanently" in result.stdout
