"""The optional fastdup engine: near-duplicate candidates from fastdup's bundled model.

fastdup (closed source, free for non-commercial use only, at most 1M images) runs in its own
virtual environment, in a subprocess, with telemetry off and, where the system allows it, in a
network namespace with no network at all. Its pairs are only candidates: hygiene confirms every
one on its own thumbnails, exactly as it does for its own hash candidates.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

_RUNNER = Path(__file__).with_name("fastdup_runner.py")
_TIMEOUT_S = 6 * 3600


class FastdupUnavailable(RuntimeError):
    """fastdup cannot be run; str() says why and how to fix it."""


@dataclass(frozen=True, slots=True)
class FastdupPair:
    path_a: Path
    path_b: Path
    similarity: float


def fastdup_python(configured: str) -> Path:
    """The fastdup environment's Python: config, $HYGIENE_FASTDUP_PYTHON, or .venv-fastdup."""
    candidates = [
        configured,
        os.environ.get("HYGIENE_FASTDUP_PYTHON", ""),
        ".venv-fastdup/bin/python",
    ]
    for candidate in filter(None, candidates):
        path = Path(candidate).expanduser()
        if path.is_file():
            return path.absolute()
    raise FastdupUnavailable(
        "fastdup engine: no fastdup environment found; create one with "
        "`python3 -m venv .venv-fastdup && .venv-fastdup/bin/pip install fastdup` "
        "or set duplicates.fastdup_python"
    )


def network_isolation() -> list[str]:
    """A command prefix that runs a program with no network, if this system allows one."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return []
    for prefix in ([unshare, "--net"], [unshare, "--net", "--map-root-user"]):
        if subprocess.run([*prefix, "true"], capture_output=True).returncode == 0:
            return prefix
    return []


def fastdup_pairs(images: list[Path], python: Path, *, threads: int) -> list[FastdupPair]:
    # fastdup reads a file list one UTF-8 line per path: a name that is not UTF-8 or holds a
    # line break cannot travel through it. Such files only miss fastdup's near-duplicate
    # proposals; exact and pixel duplicates are found for them as for any other file.
    images = [path for path in images if _listable(str(path))]
    if len(images) < 2:
        return []
    with tempfile.TemporaryDirectory(prefix="hygiene-fastdup-") as scratch:
        file_list = Path(scratch) / "files.txt"
        file_list.write_text("".join(f"{path}\n" for path in images), encoding="utf-8")
        out_json = Path(scratch) / "pairs.json"
        command = [
            *network_isolation(),
            str(python),
            str(_RUNNER),
            str(file_list),
            str(Path(scratch) / "work"),
            str(out_json),
            str(threads),
        ]
        env = {**os.environ, "SENTRY_OPT_OUT": "1", "FASTDUP_PRODUCTION": "1"}
        result = subprocess.run(
            command, capture_output=True, text=True, env=env, timeout=_TIMEOUT_S
        )
        if result.returncode != 0 or not out_json.is_file():
            detail = (result.stderr.strip().splitlines() or ["no output"])[-1]
            raise FastdupUnavailable(f"fastdup engine failed: {detail}")
        report = json.loads(out_json.read_text(encoding="utf-8"))
    return [FastdupPair(Path(a), Path(b), similarity) for a, b, similarity in report["pairs"]]


def _listable(path: str) -> bool:
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\n" not in path and "\r" not in path
