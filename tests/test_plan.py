"""Pure plan decisions and plan.json round trips."""

from __future__ import annotations

import pytest

from hygiene.plan.decisions import (
    Fingerprint,
    PlanError,
    PlanInput,
    Policy,
    action_label,
    build_plan,
    parse_plan,
    plan_json,
)

FP = Fingerprint(10, 20, "a" * 64)


def plan_for(files, **policy):
    return build_plan(files, Policy(**policy), root="/archive", created_at="now", settings_hash="x")


def test_decisions_follow_the_policy():
    files = [
        PlanInput("keep.jpg", "ok", FP, keeper=True, category="Food"),
        PlanInput(
            "copy.jpg",
            "ok",
            FP,
            dup_kind="exact",
            keeper=False,
            keeper_path="keep.jpg",
            keeper_fingerprint=FP,
        ),
        PlanInput("broken.jpg", "corrupt", FP),
        PlanInput("dark.jpg", "ok", FP, flags=("dark",)),
        PlanInput("unsure.jpg", "ok", FP, category="_Review"),
        PlanInput("video.mp4", "skipped", None),
    ]
    actions = {a.source: a for a in plan_for(files).actions}
    assert set(actions) == {"copy.jpg", "broken.jpg", "dark.jpg", "unsure.jpg"}
    assert actions["copy.jpg"].kind == "delete"
    assert actions["copy.jpg"].destination == ".hygiene-quarantine/copy.jpg"
    assert actions["broken.jpg"].kind == "quarantine"
    assert actions["dark.jpg"].kind == "review" and actions["dark.jpg"].destination is None
    assert [action_label(actions[p].kind) for p in ("copy.jpg", "dark.jpg")] == ["delete", "review"]
    quiet = plan_for(files, remove_duplicates=False, quarantine_corrupt=False, review_flagged=False)
    assert not quiet.actions


def test_sorting_keeps_sub_paths_or_flattens_with_collision_safe_names():
    files = [
        PlanInput("2019/a/IMG.jpg", "ok", FP, category="Food"),
        PlanInput("2020/b/IMG.jpg", "ok", FP, category="Food"),
        PlanInput("2020/c.jpg", "ok", FP, category="Nature/Wild"),
    ]
    kept = {a.source: a.destination for a in plan_for(files, sort_into="Sorted").actions}
    assert kept["2019/a/IMG.jpg"] == "Sorted/Food/2019/a/IMG.jpg"
    assert kept["2020/c.jpg"] == "Sorted/Nature_Wild/2020/c.jpg"
    flat = plan_for(files, sort_into="Sorted", flatten=True, sort_mode="copy").actions
    assert [a.destination for a in flat] == [
        "Sorted/Food/IMG.jpg",
        "Sorted/Food/IMG (2).jpg",
        "Sorted/Nature_Wild/c.jpg",
    ]
    assert {a.kind for a in flat} == {"copy"}


def test_plan_json_round_trips_and_names_the_first_bad_entry():
    files = [
        PlanInput(
            "copy.jpg",
            "ok",
            FP,
            dup_kind="near",
            keeper=False,
            keeper_path="keep.jpg",
            keeper_fingerprint=FP,
        )
    ]
    plan = plan_for(files)
    assert parse_plan(plan_json(plan)) == plan
    broken = plan_json(plan).replace('"keep.jpg"', '"../keep.jpg"')
    with pytest.raises(PlanError, match=r"action #1: keeper '../keep.jpg' escapes"):
        parse_plan(broken)
    with pytest.raises(PlanError, match="not valid JSON"):
        parse_plan("{")
