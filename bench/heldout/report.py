"""The markdown tables printed by bench/heldout.py: TUNING and HELD-OUT side by side."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Scores = dict[str, Any]  # score.score() of one split


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _prf(entry: Scores) -> str:
    return f"{_num(entry['precision'])} / {_num(entry['recall'])} / {_num(entry['f1'])}"


def _look_alike(klass: str, flag: str) -> Callable[[Scores], str]:
    def cell(scores: Scores) -> str:
        entry = scores["look_alikes"][klass]
        return f"{entry[f'flagged_{flag}']} / {entry['flagged_any']} of {entry['n']}"

    return cell


def _keepers(scores: Scores) -> str:
    keepers = scores["duplicates"]["keepers"]
    avoidable = keepers["unacceptable_with_good_copy_in_group"]
    acceptable = f"{keepers['acceptable']} of {keepers['groups']}"
    return f"{acceptable} ({avoidable} with a good copy in the group)"


def _bursts(scores: Scores) -> str:
    pairs = scores["duplicates"]["burst_pairs_called_duplicates"]
    return f"{pairs['with_capture_times']} / {pairs['one_side_without_time']}"


def _worst_transform(scores: Scores) -> str:
    table = scores["duplicates"]["per_transform"]
    name = min(table, key=lambda t: table[t]["recall"])
    return f"{_num(table[name]['recall'])} ({name})"


def _of(entry: Scores, part: str, whole: str) -> str:
    return f"{entry[part]} of {entry[whole]}"


def _met(check: Callable[[Scores], bool], splits: dict[str, Scores]) -> str:
    return " / ".join("yes" if check(s) else "no" for s in splits.values())


def _f1_at_least(flag: str, goal: float) -> Callable[[Scores], bool]:
    return lambda s: (s["flags"][flag]["f1"] or 0.0) >= goal


ROWS: list[tuple[str, str, Callable[[Scores], str], Callable[[Scores], bool] | None]] = [
    ("dark P / R / F1", "F1 ≥ 0.9", lambda s: _prf(s["flags"]["dark"]), _f1_at_least("dark", 0.9)),
    (
        "bright P / R / F1",
        "F1 ≥ 0.9",
        lambda s: _prf(s["flags"]["bright"]),
        _f1_at_least("bright", 0.9),
    ),
    (
        "blurry P / R / F1",
        "F1 ≥ 0.9",
        lambda s: _prf(s["flags"]["blurry"]),
        _f1_at_least("blurry", 0.9),
    ),
    ("star fields flagged dark / any", "0", _look_alike("star_field", "dark"), None),
    ("black subjects flagged dark / any", "0", _look_alike("black_subject", "dark"), None),
    ("documents flagged bright / any", "0", _look_alike("document", "bright"), None),
    ("screenshots flagged bright / any", "0", _look_alike("screenshot", "bright"), None),
    (
        "corrupt P / R",
        "–",
        lambda s: f"{_num(s['corrupt']['precision'])} / {_num(s['corrupt']['recall'])}",
        None,
    ),
    (
        "damaged but complete called corrupt",
        "0",
        lambda s: _of(s["corrupt"], "damaged_complete_called_corrupt", "damaged_complete"),
        None,
    ),
    (
        "duplicate pair precision",
        "≥ 0.995",
        lambda s: _num(s["duplicates"]["precision"]),
        lambda s: (s["duplicates"]["precision"] or 0) >= 0.995,
    ),
    (
        "duplicate pair recall",
        "≥ 0.95",
        lambda s: _num(s["duplicates"]["recall"]),
        lambda s: (s["duplicates"]["recall"] or 0) >= 0.95,
    ),
    (
        "worst recall per transform",
        "≥ 0.9",
        _worst_transform,
        lambda s: min(e["recall"] for e in s["duplicates"]["per_transform"].values()) >= 0.9,
    ),
    (
        "burst pairs called duplicates: both timed / one copy without EXIF",
        "0",
        _bursts,
        lambda s: not any(s["duplicates"]["burst_pairs_called_duplicates"].values()),
    ),
    (
        "merged groups",
        "0",
        lambda s: str(len(s["duplicates"]["merged_groups"])),
        lambda s: not s["duplicates"]["merged_groups"],
    ),
    (
        "acceptable keepers",
        "100%",
        _keepers,
        lambda s: not s["duplicates"]["keepers"]["unacceptable"],
    ),
    (
        "pictures whose last good copy the plan removes",
        "0",
        lambda s: str(s["plan"]["pictures_last_good_copy_removed"]),
        lambda s: s["plan"]["pictures_last_good_copy_removed"] == 0,
    ),
]


def headline(splits: dict[str, Scores]) -> str:
    names = list(splits)
    lines = [
        f"| measure | goal | {' | '.join(names)} | goal met ({' / '.join(names)}) |",
        "|---|---|" + "--:|" * len(names) + "---|",
    ]
    for label, goal, cell, check in ROWS:
        cells = " | ".join(cell(splits[n]) for n in names)
        met = _met(check, splits) if check else "–"
        lines.append(f"| {label} | {goal} | {cells} | {met} |")
    return "\n".join(lines)


def per_transform(splits: dict[str, Scores]) -> str:
    names = list(splits)
    transforms = sorted({t for s in splits.values() for t in s["duplicates"]["per_transform"]})
    lines = [f"| copy ↔ original | {' | '.join(names)} |", "|---|" + "--:|" * len(names)]
    for transform in transforms:
        cells = []
        for name in names:
            entry = splits[name]["duplicates"]["per_transform"].get(transform)
            cells.append(f"{entry['found']}/{entry['n']}" if entry else "–")
        lines.append(f"| {transform} | {' | '.join(cells)} |")
    return "\n".join(lines)


def per_class(splits: dict[str, Scores]) -> str:
    names = list(splits)
    classes = sorted({c for s in splits.values() for c in s["classes"]})
    header = " | ".join(f"{n}: n, dark, bright, blurry" for n in names)
    lines = [f"| class (origin) | should be | {header} |", "|---|---|" + "--:|" * len(names)]
    for klass in classes:
        expected = next(
            s["classes"][klass]["expected"] for s in splits.values() if klass in s["classes"]
        )
        cells = []
        for name in names:
            entry = splits[name]["classes"].get(klass)
            cells.append(
                f"{entry['n']}, {entry['dark']}, {entry['bright']}, {entry['blurry']}"
                if entry
                else "–"
            )
        lines.append(f"| {klass} | {', '.join(expected) or 'no flag'} | {' | '.join(cells)} |")
    return "\n".join(lines)


def markdown(splits: dict[str, Scores], meta: dict[str, Any]) -> str:
    return "\n\n".join(
        [
            f"hygiene {meta['commit']}, {meta['config']}; corpus: "
            + ", ".join(f"{n} {s['files']} files" for n, s in splits.items())
            + _drawn_with(meta.get("corpus_drawn_with", {})),
            headline(splits),
            per_transform(splits),
            per_class(splits),
        ]
    )


def _drawn_with(drawn: dict[str, Any]) -> str:
    """What drew each split's generated pages, where the corpus recorded it."""
    notes = []
    for split, how in drawn.items():
        if how is None:
            notes.append(f"{split} drawn with unrecorded Pillow and fonts")
            continue
        missing = how["missing_fonts"]
        fonts = f"MISSING FONTS {', '.join(missing)}" if missing else "all fonts"
        notes.append(f"{split} drawn with Pillow {how['pillow']}, {fonts}")
    return "; " + "; ".join(notes) if notes else ""
