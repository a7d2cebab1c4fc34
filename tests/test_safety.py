"""Every way the first release could lose or hide a photo, each tried as a user would (issue 10).

Each test here failed on hygiene 0.1.0: it names the item of the issue it covers.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import replace
from pathlib import Path

import pytest

from hygiene.demo.samples import build_sample_archive, jpeg_bytes, photo
from hygiene.plan.apply import apply_plan, plan_sha256
from hygiene.plan.decisions import parse_plan, plan_json
from hygiene.plan.journal import Faults, journal_path_for
from hygiene.plan.undo import undo
from tests.conftest import run_hygiene
from tests.test_apply import clean_copies, contents, tree

EXACT_COPY = "WhatsApp/IMG-20190701-WA0000.jpg"


class Killed(BaseException):
    """Stands for kill -9 in-process: nothing after the kill point runs."""


def _raise() -> None:
    raise Killed


def small_archive(root: Path, count: int = 3) -> None:
    root.mkdir(parents=True)
    for i in range(count):
        (root / f"IMG_{i}.jpg").write_bytes(jpeg_bytes(photo(900 + i, 160, 120)))


def edit_plan(run: Path, change) -> dict:
    plan = json.loads((run / "plan.json").read_text(encoding="utf-8"))
    change(plan)
    (run / "plan.json").write_text(json.dumps(plan), encoding="utf-8")
    return plan


def removal(plan: dict, source: str) -> dict:
    return next(a for a in plan["actions"] if a["source"] == source)


# ---------------------------------------------------------------- 1. run folders


def test_out_that_contains_the_archive_is_refused_and_nothing_is_deleted(tmp_path):
    pictures = tmp_path / "Pictures"
    small_archive(pictures / "data")
    (pictures / "thumbs").mkdir()
    (pictures / "thumbs" / "holiday.jpg").write_bytes(b"mine")
    before = tree(pictures)
    result = run_hygiene(
        "scan", pictures / "data", "--out", pictures, "--catalog", tmp_path / "c.sqlite", "--quiet"
    )
    assert result.returncode == 2 and "contains the archive" in result.stderr
    assert "Traceback" not in result.stderr
    assert tree(pictures) == before


def test_out_folder_holding_user_files_is_refused(tmp_path):
    small_archive(tmp_path / "archive")
    out = tmp_path / "Documents"
    (out / "data").mkdir(parents=True)
    (out / "data" / "taxes.csv").write_text("2019")
    (out / "index.html").write_text("my homepage")
    before = tree(out)
    result = run_hygiene(
        "scan", tmp_path / "archive", "--out", out, "--catalog", tmp_path / "c.sqlite", "--quiet"
    )
    assert result.returncode == 2 and "did not write" in result.stderr
    assert tree(out) == before


def test_catalog_inside_the_archive_is_refused(tmp_path):
    root = tmp_path / "archive"
    small_archive(root)
    result = run_hygiene(
        "scan", root, "--out", tmp_path / "run", "--catalog", root / "cache.sqlite", "--quiet"
    )
    assert result.returncode == 2 and "catalog" in result.stderr and "inside" in result.stderr
    assert not (root / "cache.sqlite").exists()


def test_a_run_folder_hygiene_made_can_be_reused_and_is_marked(tmp_path, scan):
    root = tmp_path / "archive"
    small_archive(root)
    out = tmp_path / "run"
    for _ in range(2):
        result = run_hygiene(
            "scan", root, "--out", out, "--catalog", tmp_path / "c.sqlite", "--quiet", "--no-clip"
        )
        assert result.returncode == 0, result.stderr
    assert (out / ".hygiene-run").is_file() and (out / "index.html").is_file()


# ---------------------------------------------------------------- 2. keepers are verified


def _self_keeper(plan, root):
    action = removal(plan, EXACT_COPY)
    action.update(keeper=action["source"], keeper_fingerprint=action["fingerprint"])


def _unrelated_keeper(kind):
    """Another photo of the archive, present and unchanged (its fingerprint is valid)."""

    def change(plan, root):
        action = removal(plan, EXACT_COPY)
        other = "Camera/IMG_0001.jpg"
        action.update(keeper=other, keeper_fingerprint=_fingerprint(root / other), dup_kind=kind)

    return change


def _mutual_keepers(plan, root):
    action = removal(plan, EXACT_COPY)
    keeper = action["keeper"]
    plan["actions"].append(
        {
            **action,
            "id": 9999,
            "source": keeper,
            "destination": f".hygiene-quarantine/{keeper}",
            "fingerprint": action["keeper_fingerprint"],
            "keeper": action["source"],
            "keeper_fingerprint": action["fingerprint"],
        }
    )


@pytest.mark.parametrize(
    "change,message",
    [
        (_self_keeper, "names the file itself as its keeper"),
        (_unrelated_keeper("exact"), "not an exact copy"),
        (_unrelated_keeper("pixel"), "not a pixel-identical copy"),
        (_unrelated_keeper("near"), "never deleted permanently"),
        (_mutual_keepers, "keeper is itself planned for removal"),
    ],
)
def test_a_removal_needs_a_keeper_that_really_is_another_copy(scanned, change, message):
    root, run = scanned
    original = contents(root)
    edit_plan(run, lambda plan: change(plan, root))
    result = run_hygiene("apply", run, "--execute", "--permanently")
    assert result.returncode == 0, result.stderr
    assert message in result.stdout
    assert (root / EXACT_COPY).exists()
    assert set(original) <= set(contents(root))  # every photo's content is still here


# ---------------------------------------------------------------- 3. quarantine only moves


def test_permanently_never_unlinks_corrupt_files_it_only_quarantines_them(scanned):
    root, run = scanned
    plan = json.loads((run / "plan.json").read_text())
    corrupt = [a["source"] for a in plan["actions"] if a["kind"] == "quarantine"]
    assert corrupt
    result = run_hygiene("apply", run, "--execute", "--permanently")
    assert result.returncode == 0, result.stderr
    for source in corrupt:
        assert (root / ".hygiene-quarantine" / source).exists(), source


# ---------------------------------------------------------------- 4. undo and resume never unlink


def test_undo_onto_an_occupied_path_restores_under_a_new_name(scanned):
    root, run = scanned
    original = (root / EXACT_COPY).read_bytes()
    assert run_hygiene("apply", run, "--execute").returncode == 0
    resynced = jpeg_bytes(photo(4242, 200, 150))
    (root / EXACT_COPY).write_bytes(resynced)  # the phone re-syncs a new IMG with the same name
    result = run_hygiene("undo", run, "--execute")
    assert result.returncode == 0, result.stderr
    assert "another file now has its name" in result.stdout
    assert (root / EXACT_COPY).read_bytes() == resynced
    restored = root / "WhatsApp/IMG-20190701-WA0000 (restored).jpg"
    assert restored.read_bytes() == original


def test_resume_after_a_kill_leaves_a_new_file_at_the_old_path_alone(scanned):
    root, run = scanned
    full = parse_plan((run / "plan.json").read_text(encoding="utf-8"))
    plan = replace(full, actions=tuple(a for a in full.actions if a.source == EXACT_COPY))
    digest = plan_sha256(plan_json(plan).encode())
    journal = journal_path_for(run / "plan.json", digest)
    # steps: journal header (2), "begin" (2), the move (1); the 6th is the "done" line
    with pytest.raises(Killed):
        apply_plan(plan, digest, journal, faults=Faults(6, _raise))
    assert not (root / EXACT_COPY).exists()
    newcomer = jpeg_bytes(photo(31337, 200, 150))
    (root / EXACT_COPY).write_bytes(newcomer)  # a re-sync puts a new file at the old path
    outcome = apply_plan(plan, digest, journal)
    assert (root / EXACT_COPY).read_bytes() == newcomer
    assert [message for _, message in outcome.done] == [
        "finished; a new file now at its old path was left alone"
    ]
    undone = undo(journal, root, execute=True)
    assert (root / EXACT_COPY).read_bytes() == newcomer
    assert (root / "WhatsApp/IMG-20190701-WA0000 (restored).jpg").is_file()
    assert not undone.failed


# ---------------------------------------------------------------- 5. journals and their plans


def test_apply_undo_apply_undo_restores_everything_both_times(scanned):
    root, run = scanned
    before = tree(root)
    for _ in range(2):
        assert run_hygiene("apply", run, "--execute").returncode == 0
        assert EXACT_COPY not in tree(root)
        result = run_hygiene("undo", run, "--execute")
        assert result.returncode == 0, result.stderr
        assert tree(root) == before


def test_an_edited_plan_never_inherits_the_states_of_another(scanned):
    root, run = scanned
    before = tree(root)
    assert run_hygiene("apply", run, "--execute").returncode == 0
    first_journals = set(run.glob("journal-*.jsonl"))
    edit_plan(run, lambda plan: plan["actions"].reverse())  # same actions, another plan file
    again = run_hygiene("apply", run, "--execute")
    assert again.returncode == 0
    assert "already done" not in again.stdout and "source is gone" in again.stdout
    undo_edited = run_hygiene("undo", run, "--execute")
    assert undo_edited.returncode == 0  # its own journal: it did nothing, so nothing to undo
    assert EXACT_COPY not in tree(root)
    (old,) = first_journals
    result = run_hygiene("undo", old, "--execute")
    assert result.returncode == 0, result.stderr
    assert tree(root) == before


def test_undo_of_an_edited_plan_without_its_journal_names_the_journals_there(scanned):
    _, run = scanned
    assert run_hygiene("apply", run, "--execute").returncode == 0
    edit_plan(run, lambda plan: plan["actions"].pop())
    result = run_hygiene("undo", run, "--execute")
    assert result.returncode == 2 and "journal-" in result.stderr and "edited" in result.stderr


# ---------------------------------------------------------------- 6. protected roots


@pytest.mark.parametrize("style", ["relative", "absolute", "home"])
def test_protected_roots_in_any_form_are_enforced_at_apply_time(scanned, tmp_path, style):
    root, run = scanned
    spelled = {
        "relative": "WhatsApp",
        "absolute": str(root / "WhatsApp"),
        "home": "~/" + str((root / "WhatsApp").relative_to(tmp_path)),
    }[style]
    config = tmp_path / "protect.toml"
    config.write_text(f"[duplicates]\nprotected_roots = [{json.dumps(spelled)}]\n")
    result = run_hygiene(
        "apply", run, "--execute", "--config", config, env_extra={"HOME": str(tmp_path)}
    )
    assert result.returncode == 0, result.stderr
    assert "under a protected folder" in result.stdout
    assert (root / EXACT_COPY).exists()


def test_the_plan_records_protected_roots_and_apply_honours_them_without_config(tmp_path, scan):
    root = tmp_path / "archive"
    build_sample_archive(root, seed=4, photos=4, scale=0.4)
    config = tmp_path / "protect.toml"
    config.write_text(f'[duplicates]\nprotected_roots = ["{root}/WhatsApp"]\n')
    run = scan(root, "--config", config)
    plan = json.loads((run.out / "plan.json").read_text())
    assert plan["header"]["protected_roots"] == ["WhatsApp"]
    assert not any(a["source"].startswith("WhatsApp/") for a in plan["actions"])
    keeper = next(a for a in plan["actions"] if a["kind"] == "delete")
    plan["actions"].append(
        {
            **keeper,
            "id": 9999,
            "source": EXACT_COPY,
            "destination": f".q/{EXACT_COPY}",
            "fingerprint": _fingerprint(root / EXACT_COPY),
        }
    )
    (run.out / "plan.json").write_text(json.dumps(plan))
    result = run_hygiene("apply", run.out, "--execute")
    assert "under a protected folder" in result.stdout and (root / EXACT_COPY).exists()


def _fingerprint(path: Path) -> dict:
    info = path.stat()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return {"size_bytes": info.st_size, "mtime_ns": info.st_mtime_ns, "sha256": digest}


def test_moving_a_keeper_never_blocks_the_removals_of_its_group(scanned):
    """Removals run before moves: a plan that sorts a keeper away still removes its copies
    (the first release checked the keeper after it had moved, and the copy stayed)."""
    root, run = scanned
    original = contents(root)

    def sort_keeper_first(plan):
        keeper = removal(plan, EXACT_COPY)["keeper"]
        move = {
            "id": 9999,
            "kind": "move",
            "source": keeper,
            "destination": f"Sorted/{keeper}",
            "reason": "sorted",
            "fingerprint": _fingerprint(root / keeper),
        }
        plan["actions"].insert(0, move)

    edit_plan(run, sort_keeper_first)
    repaired = clean_copies(root, run / "plan.json")
    result = run_hygiene("apply", run, "--execute")
    assert result.returncode == 0, result.stderr
    assert not (root / EXACT_COPY).exists()
    assert (root / "Sorted/Camera/IMG_0000.jpg").exists()
    assert contents(root, repaired) == original


def test_a_journal_of_hygiene_0_1_is_still_undone(scanned):
    """0.1 wrote journal.jsonl without a header or fingerprints; its moves can still be undone."""
    root, run = scanned
    original = (root / EXACT_COPY).read_bytes()
    quarantined = root / ".hygiene-quarantine" / EXACT_COPY
    quarantined.parent.mkdir(parents=True)
    os.rename(root / EXACT_COPY, quarantined)
    sha = hashlib.sha256(original).hexdigest()
    lines = [
        {
            "id": 1,
            "state": "begin",
            "op": "move",
            "src": EXACT_COPY,
            "dst": f".hygiene-quarantine/{EXACT_COPY}",
            "sha256": sha,
        },
        {"id": 1, "state": "done"},
    ]
    (run / "journal.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    result = run_hygiene("undo", run, "--execute")
    assert result.returncode == 0, result.stderr
    assert (root / EXACT_COPY).read_bytes() == original and not quarantined.exists()
