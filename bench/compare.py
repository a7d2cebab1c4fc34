"""hygiene against the tools people use instead, on one real-photo corpus (by hand, one command).

    .venv/bin/python bench/compare.py [--tools hygiene,cleanvision,imagededup,jdupes,fastdup]
                                      [--repeat N]

Builds (once) bench/out/compare/corpus from photos that installable packages ship (scikit-image and
scikit-learn wheels) plus generated scenes, with a ground-truth manifest:
- every duplicate transform of hygiene.demo.samples.build_duplicate_corpus, and a burst frame each;
- dark / bright / blurry variants of other photos (excluded from duplicate scoring);
- broken files of every kind hygiene.demo.samples makes.
Each tool runs in its own environment (.venv-<tool>, created and filled from PyPI on first use, or
Debian's jdupes, installed with apt-get if missing) as a subprocess under /usr/bin/time; its
answers are scored the same way. Writes a markdown table to stdout and JSON to
bench/out/compare/results.json.

With --repeat N the tools run N rounds, taking turns within each round, and the table gives each
tool's median wall time with its range: on a shared machine single runs of the same tool differ
by 20% or more, and a slow spell then falls on every tool alike.
"""

from __future__ import annotations

import argparse
import collections
import csv
import itertools
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hygiene.demo import samples  # noqa: E402

OUT = REPO / "bench" / "out" / "compare"
KEEPABLE = {None, "exact_copy", "metadata_stripped", "lossless_png", "lossless_bmp"}


# ---------------------------------------------------------------- corpus


def build_corpus(root: Path) -> list[dict]:
    manifest = root.parent / "manifest.json"
    if manifest.exists():
        return json.loads(manifest.read_text())
    from hygiene.demo.samples import real_photos

    originals = dict(real_photos())
    originals.update({f"gen{i}": samples.photo(300 + i, 1024, 768) for i in range(8)})
    files = [_record(f) for f in samples.build_duplicate_corpus(root / "dups", originals)]
    for f in files:
        f["rel_path"] = f"dups/{f['rel_path']}"
    rng = np.random.default_rng(11)
    for i in range(16):
        image = samples.photo(900 + i, 960, 720)
        group = f"quality{i}"
        for kind, variant in [
            ("ok", image),
            ("dark", samples.darken(image, rng.uniform(0.1, 0.35))),
            ("bright", samples.overexpose(image, rng.uniform(2.2, 3.0))),
            ("blurry", samples.defocus(image, rng.uniform(0.006, 0.015))),
        ]:
            rel = f"quality/{group}_{kind}.jpg"
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(samples.jpeg_bytes(variant, 92))
            files.append({"rel_path": rel, "group": group, "quality": kind, "ignore_dups": True})
    broken = root / "broken"
    archive = samples._Archive(broken)  # the sample archive's broken-file makers
    samples._add_broken(archive, samples.photo(5, 800, 600))
    for f in archive.files:
        files.append(
            {
                "rel_path": f"broken/{f.rel_path}",
                # all made from one photo: the readable (damaged but complete) ones are copies
                "group": "broken",
                # damaged but complete files display whole: calling them corrupt is an error
                "corrupt": f.status == "corrupt",
                "ignore_dups": True,
            }
        )
    manifest.write_text(json.dumps(files, indent=1))
    return files


def _record(f: samples.SampleFile) -> dict:
    return {
        "rel_path": f.rel_path,
        "group": f.extra["group"],
        "transform": f.transform,
        "burst": f.kind == "burst",
    }


# ---------------------------------------------------------------- running tools


def timed(command: list[str], **kwargs) -> tuple[subprocess.CompletedProcess, float, float]:
    started = time.perf_counter()
    result = subprocess.run(
        ["/usr/bin/time", "-f", "%M", *command], capture_output=True, text=True, **kwargs
    )
    seconds = time.perf_counter() - started
    peak_kib = float(result.stderr.strip().splitlines()[-1]) if result.stderr.strip() else 0.0
    return result, seconds, peak_kib / 1024


def run_hygiene(root: Path, scratch: Path) -> dict:
    result, seconds, peak = timed(
        [
            sys.executable,
            "-m",
            "hygiene",
            "scan",
            str(root),
            "--out",
            str(scratch / "run"),
            "--catalog",
            str(scratch / "c.sqlite"),
            "--quiet",
            "--no-clip",
            "--workers",
            "2",
        ]
    )
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader((scratch / "run" / "images.csv").open()))
    groups = collections.defaultdict(set)
    keepers = {}
    for row in rows:
        if row["dup_group"]:
            groups[row["dup_group"]].add(row["path"])
            if row["keeper"] == "true":
                keepers.setdefault(row["dup_group"], row["path"])
    flags = {k: {r["path"] for r in rows if r[k] == "true"} for k in ("dark", "bright", "blurry")}
    return {
        "groups": list(groups.values()),
        "keepers": keepers,
        "corrupt": {r["path"] for r in rows if r["status"] == "corrupt"},
        "flags": flags,
        "seconds": seconds,
        "peak_mib": peak,
    }


CLEANVISION = """
import json, os, sys
from cleanvision import Imagelab
skip = sys.argv[3:]
paths = [os.path.join(d, f) for d, _, fs in os.walk(sys.argv[1]) for f in fs
         if not any(os.path.relpath(d, sys.argv[1]).startswith(s) for s in skip)]
lab = Imagelab(filepaths=sorted(paths))
lab.find_issues()
issues = lab.issues
root = sys.argv[1].rstrip('/') + '/'
rel = lambda p: str(p)[len(root):]
out = {k: [rel(p) for p in issues.index[issues[f'is_{k}_issue']]]
       for k in ('dark', 'light', 'blurry')}
out['groups'] = [[rel(p) for p in g] for key in ('exact_duplicates', 'near_duplicates')
                 for g in lab.info[key]['sets']]
json.dump(out, open(sys.argv[2], 'w'))
"""

IMAGEDEDUP = """
import json, sys, os
from imagededup.methods import PHash
found = PHash().find_duplicates(image_dir=sys.argv[1], recursive=True)
json.dump(found, open(sys.argv[2], 'w'))
"""


FASTDUP = """
import csv, json, os, sys
os.environ["SENTRY_OPT_OUT"] = "1"
os.environ["FASTDUP_PRODUCTION"] = "1"
import fastdup
work = sys.argv[2] + ".work"
fastdup.create(work_dir=work, input_dir=sys.argv[1]).run(overwrite=True, run_sentry=False)
rel = lambda f: os.path.relpath(os.path.abspath(f), sys.argv[1])
rows = lambda name: list(csv.DictReader(open(os.path.join(work, name))))
names = {r["index"]: rel(r["filename"]) for r in rows("atrain_features.dat.csv")}
groups = {}
for r in rows("connected_components.csv"):
    if r["__id"] in names:
        groups.setdefault(r["component_id"], []).append(names[r["__id"]])
bad = [rel(r["filename"]) for r in rows("atrain_features.bad.csv")]
json.dump({"groups": [g for g in groups.values() if len(g) > 1], "invalid": bad},
          open(sys.argv[2], "w"))
"""


def run_fastdup(root: Path, scratch: Path) -> dict:
    data, seconds, peak = run_python_tool("fastdup", FASTDUP, root, scratch)
    return {
        "groups": [set(g) for g in data["groups"]],
        "keepers": {},
        "corrupt": set(data["invalid"]),
        "flags": None,
        "seconds": seconds,
        "peak_mib": peak,
    }


PACKAGES = {"fastdup": "fastdup", "cleanvision": "cleanvision", "imagededup": "imagededup"}


def ensure_environment(name: str) -> Path:
    """Each peer gets its own venv (their pins conflict with hygiene's and each other's)."""
    python = REPO / f".venv-{name}" / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(python.parents[1])], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", PACKAGES[name]], check=True)
    return python


def run_python_tool(
    name: str, script: str, root: Path, scratch: Path, *skip: str
) -> tuple[object, float, float]:
    python = ensure_environment(name)
    out = scratch / f"{name}.json"
    result, seconds, peak = timed([str(python), "-c", script, str(root), str(out), *skip])
    if result.returncode != 0:
        raise RuntimeError(f"{name} failed: {result.stderr.strip().splitlines()[-3:]}")
    return json.loads(out.read_text()), seconds, peak


def run_cleanvision(root: Path, scratch: Path) -> dict:
    try:
        data, seconds, peak = run_python_tool("cleanvision", CLEANVISION, root, scratch)
    except RuntimeError:  # it stops on broken files: score it on the rest
        data, seconds, peak = run_python_tool("cleanvision", CLEANVISION, root, scratch, "broken")
    flags = {"dark": set(data["dark"]), "bright": set(data["light"]), "blurry": set(data["blurry"])}
    return {
        "groups": [set(g) for g in data["groups"]],
        "keepers": {},
        "corrupt": None,
        "flags": flags,
        "seconds": seconds,
        "peak_mib": peak,
    }


def run_imagededup(root: Path, scratch: Path) -> dict:
    data, seconds, peak = run_python_tool("imagededup", IMAGEDEDUP, root, scratch)
    return {
        "groups": _components(data.items()),
        "keepers": {},
        "corrupt": None,
        "flags": None,
        "seconds": seconds,
        "peak_mib": peak,
    }


def run_jdupes(root: Path, scratch: Path) -> dict:
    if shutil.which("jdupes") is None:
        subprocess.run(["apt-get", "install", "-y", "-qq", "jdupes"], check=True)
    result, seconds, peak = timed(["jdupes", "-r", "-q", str(root)])
    groups, current = [], set()
    for line in [*result.stdout.splitlines(), ""]:
        if line.strip():
            current.add(str(Path(line).relative_to(root)))
        elif current:
            groups.append(current)
            current = set()
    return {
        "groups": groups,
        "keepers": {},
        "corrupt": None,
        "flags": None,
        "seconds": seconds,
        "peak_mib": peak,
    }


def _components(edges) -> list[set[str]]:
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, neighbours in edges:
        for b in neighbours:
            parent[find(a)] = find(b)
    groups = collections.defaultdict(set)
    for x in list(parent):
        groups[find(x)].add(x)
    return [g for g in groups.values() if len(g) > 1]


TOOLS = {
    "hygiene": run_hygiene,
    "fastdup": run_fastdup,
    "cleanvision": run_cleanvision,
    "imagededup": run_imagededup,
    "jdupes": run_jdupes,
}


# ---------------------------------------------------------------- scoring


def score(answer: dict, truth: list[dict]) -> dict:
    by_path = {t["rel_path"]: t for t in truth}
    scored = {t["rel_path"] for t in truth if not t.get("ignore_dups")}
    true_groups = collections.defaultdict(set)
    for t in truth:
        if t["rel_path"] in scored:
            true_groups[t["group"]].add(t["rel_path"])
    truth_pairs = _pairs(true_groups.values())
    found_pairs = {p for p in _pairs(answer["groups"]) if p[0] in scored and p[1] in scored}
    hits = truth_pairs & found_pairs
    result = {
        "dup_precision": _ratio(len(hits), len(found_pairs)),
        "dup_recall": _ratio(len(hits), len(truth_pairs)),
    }
    result["dup_f1"] = _f1(result["dup_precision"], result["dup_recall"])
    per = collections.defaultdict(lambda: [0, 0])
    for t in truth:
        if t.get("transform") and t["rel_path"] in scored:
            original = next(
                p
                for p in true_groups[t["group"]]
                if by_path[p].get("transform") is None and not by_path[p].get("burst")
            )
            per[t["transform"]][1] += 1
            per[t["transform"]][0] += tuple(sorted((t["rel_path"], original))) in found_pairs
    result["per_transform"] = {k: round(a / b, 2) for k, (a, b) in sorted(per.items())}
    result["merged_groups"] = sum(
        1 for g in answer["groups"] if len({by_path[p]["group"] for p in g if p in by_path}) > 1
    )
    result["burst_pairs"] = sum(
        1 for a, b in found_pairs if by_path[a].get("burst") or by_path[b].get("burst")
    )
    if answer["keepers"]:
        bad = [
            k
            for g, k in answer["keepers"].items()
            if by_path.get(k, {}).get("transform") not in KEEPABLE
            or by_path.get(k, {}).get("burst")
        ]
        result["bad_keepers"] = len(bad)
    if answer["corrupt"] is not None:
        truth_corrupt = {t["rel_path"] for t in truth if t.get("corrupt")}
        result["corrupt_precision"] = _ratio(
            len(answer["corrupt"] & truth_corrupt), len(answer["corrupt"])
        )
        result["corrupt_recall"] = _ratio(
            len(answer["corrupt"] & truth_corrupt), len(truth_corrupt)
        )
    if answer["flags"] is not None:
        for flag in ("dark", "bright", "blurry"):
            truth_flag = {t["rel_path"] for t in truth if t.get("quality") == flag}
            quality_files = {t["rel_path"] for t in truth if t.get("quality")}
            found = answer["flags"][flag] & quality_files
            p, r = (
                _ratio(len(found & truth_flag), len(found)),
                _ratio(len(found & truth_flag), len(truth_flag)),
            )
            result[f"{flag}_precision"], result[f"{flag}_recall"] = p, r
            result[f"{flag}_f1"] = _f1(p, r)
    if answer.get("notes"):
        result["notes"] = answer["notes"]
    result["seconds"] = round(answer["seconds"], 1)
    result["peak_mib"] = round(answer["peak_mib"])
    return result


def _over_rounds(runs: list[dict]) -> dict:
    """One tool's rounds as one result: the first round's scores, the median wall time with
    every round's, the largest peak; a note where the scores differ between rounds."""
    result = dict(runs[0])
    if len(runs) == 1 or "error" in result:
        return result
    seconds = [run["seconds"] for run in runs if "seconds" in run]
    result["seconds"] = round(float(np.median(seconds)), 1)
    result["seconds_rounds"] = seconds
    result["peak_mib"] = max(run.get("peak_mib", 0) for run in runs)
    timing = {"seconds", "peak_mib"}
    if any(
        {k: v for k, v in run.items() if k not in timing}
        != {k: v for k, v in runs[0].items() if k not in timing}
        for run in runs
    ):
        result["notes"] = (result.get("notes", "") + " scores differ between rounds").strip()
    return result


def _pairs(groups) -> set[tuple[str, str]]:
    return {pair for g in groups for pair in itertools.combinations(sorted(g), 2)}


def _ratio(a: int, b: int) -> float:
    return round(a / b, 3) if b else 0.0


def _f1(p: float, r: float) -> float:
    return round(2 * p * r / (p + r), 3) if p + r else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tools", default=",".join(TOOLS))
    parser.add_argument("--repeat", type=int, default=1, help="rounds, tools taking turns")
    args = parser.parse_args()
    root = OUT / "corpus"
    truth = build_corpus(root)
    rounds: dict[str, list[dict]] = collections.defaultdict(list)
    for _ in range(max(1, args.repeat)):
        for name in args.tools.split(","):
            with tempfile.TemporaryDirectory() as scratch:
                try:
                    rounds[name].append(score(TOOLS[name](root, Path(scratch)), truth))
                except Exception as exc:  # a tool that cannot run is reported, not fatal
                    rounds[name].append({"error": " ".join(str(exc).split())[:200]})
    results = {name: _over_rounds(runs) for name, runs in rounds.items()}
    (OUT / "results.json").write_text(json.dumps(results, indent=1))
    columns = [
        "dup_precision",
        "dup_recall",
        "dup_f1",
        "merged_groups",
        "burst_pairs",
        "bad_keepers",
        "corrupt_precision",
        "corrupt_recall",
        "dark_f1",
        "bright_f1",
        "blurry_f1",
        "seconds",
        "peak_mib",
    ]
    print(f"corpus: {len(truth)} files in {root}")
    print("| tool | " + " | ".join(columns) + " |")
    print("|---|" + "--:|" * len(columns))
    for name, result in results.items():
        print(f"| {name} | " + " | ".join(str(result.get(c, "–")) for c in columns) + " |")
    for name, result in results.items():
        if result.get("seconds_rounds"):
            print(f"{name}: wall time of each round (s): {result['seconds_rounds']}")
    print("\nper-transform pair recall:")
    for name, result in results.items():
        print(f"- {name}: {result.get('per_transform', result.get('error'))}")
        if result.get("notes"):
            print(f"  note: {result['notes']}")


if __name__ == "__main__":
    main()
