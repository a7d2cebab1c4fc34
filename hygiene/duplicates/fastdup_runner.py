"""Run fastdup on a list of images and write its candidate pairs as JSON.

This file is executed by the Python of a separate virtual environment that has fastdup
installed (fastdup pins old numpy and Pillow, so it never shares hygiene's environment). It
imports nothing from hygiene. Telemetry and network use are switched off before fastdup is
imported: its Python reports (SENTRY_OPT_OUT), its version check (FASTDUP_PRODUCTION) and its
native reports (run_sentry=0).

    python fastdup_runner.py FILE_LIST WORK_DIR OUT_JSON THREADS
"""

import csv
import json
import os
import sys

os.environ["SENTRY_OPT_OUT"] = "1"  # no crash or usage reports
os.environ["FASTDUP_PRODUCTION"] = "1"  # no "is there a newer version?" request at import

_CANDIDATE_SIMILARITY = 0.80
_NEIGHBOURS = 16  # fastdup keeps 2 neighbours per image by default: too few for 20 copies


def main() -> None:
    file_list, work_dir, out_json, threads = sys.argv[1:5]
    import fastdup  # after the opt-out above, on purpose

    dataset = fastdup.create(work_dir=work_dir, input_dir=file_list)
    dataset.run(
        overwrite=True,
        threshold=_CANDIDATE_SIMILARITY,
        nearest_neighbors_k=_NEIGHBOURS,
        num_threads=int(threads),
        run_sentry=False,
        run_stats=False,
        verbose=False,
    )
    names = _read(os.path.join(work_dir, "atrain_features.dat.csv"))
    filename_of = {row["index"]: row["filename"] for row in names}
    pairs = [
        [filename_of[row["from"]], filename_of[row["to"]], float(row["distance"])]
        for row in _read(os.path.join(work_dir, "similarity.csv"))
        if row["from"] in filename_of
        and row["to"] in filename_of
        and int(row["from"]) < int(row["to"])
    ]
    invalid = [row["filename"] for row in _read(os.path.join(work_dir, "atrain_features.bad.csv"))]
    with open(out_json, "w", encoding="utf-8") as handle:
        json.dump({"version": fastdup.__version__, "pairs": pairs, "invalid": invalid}, handle)


def _read(path: str) -> list:
    if not os.path.exists(path):
        return []
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


if __name__ == "__main__":
    main()
