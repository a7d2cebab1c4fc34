"""Scores one hygiene run (images.csv, plan.json) against a split's ground truth."""

from __future__ import annotations

import collections
import csv
import itertools
import json
from pathlib import Path
from typing import Any

Truth = dict[str, Any]  # one Item as written by corpus.write_truth
Pair = tuple[str, str]

FLAGS = ("dark", "bright", "blurry")
REMOVING_KINDS = ("delete", "quarantine")  # plan actions that take a file out of the archive
REQUIRED_ROLES = ("original", "copy")  # pairs among these must be found
LOOK_ALIKES = {  # class: the flag it tempts
    "star_field": "dark",
    "black_subject": "dark",
    "document": "bright",
    "screenshot": "bright",
}


def read_run(run_dir: Path) -> tuple[dict[str, dict[str, str]], list[dict[str, Any]]]:
    with (run_dir / "images.csv").open(newline="", encoding="utf-8") as handle:
        rows = {row["path"]: row for row in csv.DictReader(handle)}
    actions: list[dict[str, Any]] = json.loads((run_dir / "plan.json").read_text())["actions"]
    return rows, actions


def score(
    truth: list[Truth], rows: dict[str, dict[str, str]], actions: list[dict[str, Any]]
) -> dict[str, Any]:
    missing = [t["path"] for t in truth if t["path"] not in rows]
    removed = {a["source"] for a in actions if a["kind"] in REMOVING_KINDS}
    return {
        "files": len(truth),
        "missing_from_run": missing,
        "status_counts": dict(
            collections.Counter(rows[t["path"]]["status"] for t in truth if t["path"] in rows)
        ),
        "flags": score_flags(truth, rows),
        "classes": flags_by_class(truth, rows),
        "look_alikes": look_alikes_flagged(truth, rows),
        "corrupt": score_corrupt(truth, rows),
        "duplicates": score_duplicates(truth, rows),
        "plan": score_plan(truth, removed),
    }


def _flagged(row: dict[str, str] | None, flag: str) -> bool:
    return row is not None and row.get(flag) == "true"


def _ratio(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def prf(true_positives: int, false_positives: int, false_negatives: int) -> dict[str, Any]:
    precision = _ratio(true_positives, true_positives + false_positives)
    recall = _ratio(true_positives, true_positives + false_negatives)
    f1 = None
    if precision is not None and recall is not None and precision + recall > 0:
        f1 = round(2 * precision * recall / (precision + recall), 4)
    return {
        "tp": true_positives,
        "fp": false_positives,
        "fn": false_negatives,
        "precision": precision,
        "recall": recall,
        "f1": f1,
    }


# ---------------------------------------------------------------- quality flags


def _flag_items(truth: list[Truth]) -> list[Truth]:
    """Every file but the damaged ones: their flags belong to the corruption score."""
    return [t for t in truth if t["class"] not in ("corrupt", "damaged_complete")]


def score_flags(truth: list[Truth], rows: dict[str, dict[str, str]]) -> dict[str, Any]:
    scores = {}
    for flag in FLAGS:
        counts = collections.Counter()
        for item in _flag_items(truth):
            expected, got = flag in item["expected_flags"], _flagged(rows.get(item["path"]), flag)
            counts["tp" if expected and got else "fp" if got else "fn" if expected else "tn"] += 1
        scores[flag] = prf(counts["tp"], counts["fp"], counts["fn"])
    return scores


def flags_by_class(truth: list[Truth], rows: dict[str, dict[str, str]]) -> dict[str, Any]:
    """Per class and origin: how many files, what they should be, how many got each flag."""
    table: dict[str, Any] = {}
    for item in _flag_items(truth):
        key = f"{item['class']} ({item['origin']})"
        entry = table.setdefault(key, {"n": 0, "expected": sorted(set(item["expected_flags"]))})
        entry["n"] += 1
        for flag in FLAGS:
            entry[flag] = entry.get(flag, 0) + _flagged(rows.get(item["path"]), flag)
    return dict(sorted(table.items()))


def look_alikes_flagged(truth: list[Truth], rows: dict[str, dict[str, str]]) -> dict[str, Any]:
    result = {}
    for klass, tempting in LOOK_ALIKES.items():
        items = [t for t in truth if t["class"] == klass]
        any_flag = [
            t["path"] for t in items if any(_flagged(rows.get(t["path"]), f) for f in FLAGS)
        ]
        result[klass] = {
            "n": len(items),
            f"flagged_{tempting}": sum(_flagged(rows.get(t["path"]), tempting) for t in items),
            "flagged_any": len(any_flag),
            "paths_flagged": any_flag,
        }
    return result


# ---------------------------------------------------------------- corruption


def score_corrupt(truth: list[Truth], rows: dict[str, dict[str, str]]) -> dict[str, Any]:
    def called(item: Truth) -> bool:
        return rows.get(item["path"], {}).get("status") == "corrupt"

    tp = sum(1 for t in truth if t["expected_corrupt"] and called(t))
    fn = sum(1 for t in truth if t["expected_corrupt"] and not called(t))
    complete = [t for t in truth if t["class"] == "damaged_complete"]
    complete_called = sum(called(t) for t in complete)
    intact_called = sum(
        1
        for t in truth
        if not t["expected_corrupt"] and t["class"] != "damaged_complete" and called(t)
    )
    result = prf(tp, complete_called + intact_called, fn)
    result.update(
        damaged_complete=len(complete),
        damaged_complete_called_corrupt=complete_called,
        intact_called_corrupt=intact_called,
        unverified=sum(1 for t in truth if _status(rows, t) == "unverified"),
        damaged_complete_status_damaged=sum(_status(rows, t) == "damaged" for t in complete),
        others_status_damaged=sum(
            1 for t in truth if t["class"] != "damaged_complete" and _status(rows, t) == "damaged"
        ),
    )
    return result


def _status(rows: dict[str, dict[str, str]], item: Truth) -> str:
    return rows.get(item["path"], {}).get("status", "")


# ---------------------------------------------------------------- duplicates


def predicted_groups(truth: list[Truth], rows: dict[str, dict[str, str]]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = collections.defaultdict(list)
    for item in truth:
        group = rows.get(item["path"], {}).get("dup_group", "")
        if group:
            groups[group].append(item["path"])
    return groups


def _pairs(members: list[str]) -> set[Pair]:
    return {(a, b) for a, b in itertools.combinations(sorted(members), 2)}


def score_duplicates(truth: list[Truth], rows: dict[str, dict[str, str]]) -> dict[str, Any]:
    by_path = {t["path"]: t for t in truth}
    groups = predicted_groups(truth, rows)
    found = set().union(*(_pairs(m) for m in groups.values())) if groups else set()
    families: dict[str, list[str]] = collections.defaultdict(list)
    for item in truth:
        if item["dup_role"] in REQUIRED_ROLES:
            families[item["original_id"]].append(item["path"])
    required = set().union(*(_pairs(m) for m in families.values()))
    wrong = {p for p in found if by_path[p[0]]["original_id"] != by_path[p[1]]["original_id"]}
    hits = found & required
    scores = prf(len(hits), len(wrong), len(required - hits))
    scores.update(
        predicted_pairs=len(found),
        optional_pairs=len(found) - len(hits) - len(wrong),
        per_transform=_recall_per_transform(truth, found),
        variants_grouped_with_original=_variants_grouped(truth, found),
        merged_groups=_merged_groups(groups, by_path),
        burst_pairs_called_duplicates=_burst_pairs(found, by_path),
        bursts=len({t["burst"] for t in truth if t["burst"]}),
        keepers=_keepers(groups, rows, by_path),
    )
    return scores


def _original_of(truth: list[Truth]) -> dict[str, str]:
    return {t["original_id"]: t["path"] for t in truth if t["dup_role"] == "original"}


def _recall_per_transform(truth: list[Truth], found: set[Pair]) -> dict[str, dict[str, Any]]:
    """Copy <-> its original, per transform."""
    originals, table = _original_of(truth), {}
    for item in truth:
        if item["dup_role"] != "copy":
            continue
        entry = table.setdefault(item["transform"], {"found": 0, "n": 0})
        entry["n"] += 1
        entry["found"] += tuple(sorted((item["path"], originals[item["original_id"]]))) in found
    for entry in table.values():
        entry["recall"] = _ratio(entry["found"], entry["n"])
    return dict(sorted(table.items()))


def _variants_grouped(truth: list[Truth], found: set[Pair]) -> dict[str, str]:
    """Degraded / damaged copies put in their original's group (allowed, not required)."""
    originals, table = _original_of(truth), collections.defaultdict(lambda: [0, 0])
    for item in truth:
        if item["dup_role"] == "variant" and item["original_id"] in originals:
            pair = tuple(sorted((item["path"], originals[item["original_id"]])))
            table[item["transform"]][0] += pair in found
            table[item["transform"]][1] += 1
    return {name: f"{hit}/{n}" for name, (hit, n) in sorted(table.items())}


def _merged_groups(groups: dict[str, list[str]], by_path: dict[str, Truth]) -> list[list[str]]:
    merged = []
    for members in groups.values():
        ids = sorted({by_path[p]["original_id"] for p in members})
        if len(ids) > 1:
            merged.append(ids)
    return merged


def _burst_pairs(found: set[Pair], by_path: dict[str, Truth]) -> dict[str, int]:
    """Pairs across the two frames of a burst: between files that both carry their (different)
    capture time, and pairs where one side is a copy without EXIF (a downscale, a border, a
    degraded variant), which only the pixels can tell apart."""
    counts = {"with_capture_times": 0, "one_side_without_time": 0}
    for a, b in found:
        first, second = by_path[a], by_path[b]
        if (
            first["burst"]
            and first["burst"] == second["burst"]
            and first["original_id"] != second["original_id"]
        ):
            timed = bool(first["taken_at"]) and bool(second["taken_at"])
            counts["with_capture_times" if timed else "one_side_without_time"] += 1
    return counts


def _keepers(
    groups: dict[str, list[str]], rows: dict[str, dict[str, str]], by_path: dict[str, Truth]
) -> dict[str, Any]:
    """A keeper is acceptable when it is a good copy: the original, or a copy not degraded
    relative to it (exact copy, lossless re-encode)."""
    bad = []
    for members in groups.values():
        keepers = [p for p in members if rows[p].get("keeper") == "true"]
        keeper = keepers[0] if keepers else None
        if keeper is None or not by_path[keeper]["good_copy"]:
            good_inside = [p for p in members if by_path[p]["good_copy"]]
            bad.append(
                {
                    "keeper": keeper,
                    "keeper_transform": by_path[keeper]["transform"] if keeper else None,
                    "original_id": by_path[keeper]["original_id"] if keeper else None,
                    "good_copy_in_group": bool(good_inside),
                }
            )
    return {
        "groups": len(groups),
        "acceptable": len(groups) - len(bad),
        "unacceptable_with_good_copy_in_group": sum(b["good_copy_in_group"] for b in bad),
        "unacceptable": bad,
    }


# ---------------------------------------------------------------- the plan


def score_plan(truth: list[Truth], removed: set[str]) -> dict[str, Any]:
    """Pictures whose every good copy the plan takes out (delete or quarantine)."""
    good: dict[str, list[str]] = collections.defaultdict(list)
    for item in truth:
        if item["good_copy"]:
            good[item["original_id"]].append(item["path"])
    lost = sorted(picture for picture, paths in good.items() if all(p in removed for p in paths))
    in_truth = {t["path"] for t in truth}
    return {
        "pictures": len(good),
        "removed_files": len(removed & in_truth),
        "pictures_last_good_copy_removed": len(lost),
        "lost": lost,
    }
