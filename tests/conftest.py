from __future__ import annotations

import csv
import json
import os
import secrets
import shutil
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from hygiene.demo.samples import SampleFile, build_sample_archive


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """No test reads or writes the real ~/.config or ~/.cache."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    monkeypatch.delenv("HYGIENE_CONFIG", raising=False)


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory):
    """A real PostgreSQL (pgserver ships the server binaries) in a temporary folder."""
    pgserver = pytest.importorskip("pgserver", reason="pgserver (PostgreSQL) missing")
    server = pgserver.get_server(tmp_path_factory.mktemp("pg"), cleanup_mode="stop")
    yield server
    server.cleanup()


def new_database(server) -> str:
    """The URL of a new, empty database on a pg_server."""
    name = f"db_{secrets.token_hex(4)}"
    server.psql(f"CREATE DATABASE {name};")
    return server.get_uri(name)


@dataclass
class SampleArchive:
    root: Path
    files: list[SampleFile]

    def by_path(self) -> dict[str, SampleFile]:
        return {f.rel_path: f for f in self.files}


@pytest.fixture(scope="session")
def sample_archive(tmp_path_factory: pytest.TempPathFactory) -> SampleArchive:
    root = tmp_path_factory.mktemp("archive") / "Photos"
    files = build_sample_archive(root, seed=3, photos=8, scale=0.5)
    return SampleArchive(root, files)


@dataclass
class ScanRun:
    process: subprocess.CompletedProcess[str]
    out: Path

    @property
    def rows(self) -> list[dict[str, str]]:
        with (self.out / "images.csv").open(newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))

    @property
    def header(self) -> list[str]:
        with (self.out / "images.csv").open(newline="", encoding="utf-8") as handle:
            return next(csv.reader(handle))

    @property
    def record(self) -> dict:
        return json.loads((self.out / "run.json").read_text())


def run_hygiene(
    *args: str | Path, timeout: float = 300, env_extra: dict[str, str] | None = None, **kwargs
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hygiene", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env_extra or {})},
        **kwargs,
    )


@pytest.fixture
def scan(tmp_path: Path):
    """Run `hygiene scan` in a subprocess with a private catalog; returns a ScanRun."""
    counter = iter(range(1000))

    def _scan(root: Path, *extra: str | Path, catalog: Path | None = None) -> ScanRun:
        out = tmp_path / f"run{next(counter)}"
        process = run_hygiene(
            "scan",
            root,
            "--out",
            out,
            "--catalog",
            catalog or tmp_path / "catalog.sqlite",
            "--quiet",
            *(() if "--clip" in extra else ("--no-clip",)),
            *(e for e in extra if e != "--clip"),
        )
        assert process.returncode == 0, process.stderr
        return ScanRun(process, out)

    return _scan


@pytest.fixture
def scanned(tmp_path: Path, scan) -> tuple[Path, Path]:
    """A small sample archive, scanned: (archive root, run folder with its plan.json)."""
    root = tmp_path / "archive"
    build_sample_archive(root, seed=4, photos=4, scale=0.4)
    run = scan(root, catalog=tmp_path / "catalog.sqlite")
    return root, run.out


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@contextmanager
def chromium_browser(*, webgl: bool = False):
    """Debian's chromium under Playwright, with nothing fetched behind the page's back;
    `webgl` renders WebGL in software (SwiftShader), as a machine without a GPU must."""
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed")
    playwright = pytest.importorskip("playwright.sync_api")
    graphics = ["--use-angle=swiftshader", "--enable-unsafe-swiftshader"] if webgl else []
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                *(graphics or ["--disable-gpu"]),
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
            ],
        )
        try:
            yield browser
        finally:
            browser.close()
