"""The Ray engine with a shared PostgreSQL catalog: a real Ray cluster started on this machine
(127.0.0.1 only) and a real PostgreSQL (pgserver). The local engine with a SQLite catalog is
the reference every Ray run must reproduce, file by file."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hygiene.demo.samples import build_sample_archive
from tests import micro_clip
from tests.conftest import new_database, run_hygiene
from tests.test_categorize import CONFIG as CLIP_CONFIG

pytest.importorskip("ray", reason="Ray missing: pip install 'photo-hygiene[ray]'")

OUTPUTS = ("images.csv", "duplicates.csv", "similar.csv")
_SCAN_TASK_TITLE = b"ray::MapBatches(scan_batch)"  # what a Ray worker running a batch is called


@pytest.fixture(scope="module")
def ray_address():
    """A one-node Ray cluster on 127.0.0.1, started and stopped by the test, with a token of
    its own (Ray's token authentication, which clients find through the environment)."""
    ray = Path(sys.executable).with_name("ray")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # Ray's socket paths must stay short
    token = Path(temp) / "auth_token"
    token.write_text(secrets.token_hex(32))
    cluster_env = {
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN_PATH": str(token),
    }
    env = {**os.environ, **cluster_env}
    command = [
        ray, "start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(port),
        "--num-cpus", "2", "--include-dashboard", "false", "--disable-usage-stats",
        "--temp-dir", temp,
    ]  # fmt: skip
    started = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    assert started.returncode == 0, started.stderr
    try:
        with pytest.MonkeyPatch.context() as patch:
            for name, value in cluster_env.items():
                patch.setenv(name, value)
            yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([ray, "stop", "--force"], capture_output=True, env=env, timeout=120)
        shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture(scope="module")
def mixed_archive(tmp_path_factory, micro_model):
    """The sample archive (copies, corrupt, dark, blurry files) with the micro CLIP's classes."""
    root = tmp_path_factory.mktemp("cluster") / "Photos"
    build_sample_archive(root, seed=5, photos=6, scale=0.5)
    micro_clip.write_archive(root / "clip", per_class=4, seed=3)
    return root


@pytest.fixture(scope="module")
def micro_model(tmp_path_factory):
    return micro_clip.train(tmp_path_factory.mktemp("model") / "micro")


@pytest.fixture(scope="module")
def many_photos(tmp_path_factory):
    """Enough phone-sized JPEGs that a scan runs several Ray batches, each long enough to be
    caught running."""
    root = tmp_path_factory.mktemp("many") / "Photos"
    root.mkdir()
    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 255, 800, dtype=np.float32)
    for index in range(160):
        base = np.outer(np.linspace(0.2, 1.0, 600), ramp)[..., None] * rng.uniform(0.3, 1, 3)
        noise = rng.normal(0, 12, (600, 800, 3))
        pixels = np.clip(base + noise, 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(root / f"IMG_{index:04d}.jpg", quality=90)
    return root


@pytest.fixture(scope="module")
def many_photos_local(tmp_path_factory, many_photos):
    """The local engine's outputs for many_photos: what every Ray run must reproduce."""
    out = tmp_path_factory.mktemp("reference") / "local"
    scan(many_photos, out, out.parent / "c.sqlite", "--no-clip")
    return out


def scan(root: Path, out: Path, catalog: str | Path, *extra: str | Path, popen: bool = False):
    args = ("scan", root, "--out", out, "--catalog", catalog, "--quiet", "--workers", "2", *extra)
    if popen:
        return subprocess.Popen(
            [sys.executable, "-m", "hygiene", *map(str, args)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    result = run_hygiene(*args, timeout=600)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", result.stderr  # Ray's own notices stay out of the terminal
    return json.loads((out / "run.json").read_text())


def same_outputs(first: Path, second: Path, names: tuple[str, ...] = OUTPUTS) -> None:
    for name in names:
        assert (first / name).read_text() == (second / name).read_text(), name


def test_the_ray_engine_with_a_postgres_catalog_gives_the_local_results(
    tmp_path, mixed_archive, micro_model, pg_server, ray_address
):
    config = tmp_path / "clip.toml"
    config.write_text(CLIP_CONFIG)
    clip = ("--config", config, "--model-path", micro_model)
    local = scan(mixed_archive, tmp_path / "local", tmp_path / "c.sqlite", *clip)
    url = new_database(pg_server)
    on_ray = scan(
        mixed_archive, tmp_path / "ray", url, "--engine", "ray", "--address", ray_address, *clip
    )
    same_outputs(tmp_path / "local", tmp_path / "ray", (*OUTPUTS, "categories.csv"))

    # Which of two files with the same bytes is decoded and which reuses its result depends on
    # timing (a batch's results are visible to the others once it commits); together, equal.
    def read(record: dict) -> int:
        return record["scan"]["decoded"] + record["scan"]["cached_by_content"]

    assert read(on_ray) == read(local) > 0
    embedded = local["categorization"]["embedded"]
    assert embedded > 0
    # the actors embedded; the driver read their embeddings and never loaded the model
    assert on_ray["categorization"]["embedded"] == 0
    assert on_ray["categorization"]["model_loaded"] is False
    assert f"({embedded:,} of them embedded on the cluster)" in on_ray["categorization"]["status"]
    assert on_ray["catalog"] == url.replace("postgres:@", "postgres@")  # no password recorded

    again = scan(
        mixed_archive, tmp_path / "again", url, "--engine", "ray", "--address", ray_address, *clip
    )
    same_outputs(tmp_path / "local", tmp_path / "again", (*OUTPUTS, "categories.csv"))
    assert again["scan"]["decoded"] == 0 and again["scan"]["cached_by_path"] > 0


def test_a_killed_ray_worker_has_its_batch_run_again(
    tmp_path, many_photos, many_photos_local, pg_server, ray_address
):
    killed: list[int] = []
    stop = threading.Event()

    def kill_the_first_batch() -> None:
        while not stop.is_set() and not killed:
            for pid in _processes_titled(_SCAN_TASK_TITLE):
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                break
            time.sleep(0.01)

    watcher = threading.Thread(target=kill_the_first_batch)
    watcher.start()
    try:
        record = scan(
            many_photos, tmp_path / "ray", new_database(pg_server), "--no-clip",
            "--engine", "ray", "--address", ray_address,
        )  # fmt: skip
    finally:
        stop.set()
        watcher.join()
    assert killed, "no Ray worker was caught running a batch"
    same_outputs(many_photos_local, tmp_path / "ray")  # no file missing, none doubled
    assert record["scan"]["decoded"] == 160 and record["files"] == 160


def test_a_run_whose_driver_died_resumes_from_the_catalog(
    tmp_path, many_photos, many_photos_local, pg_server, ray_address
):
    import psycopg

    url = new_database(pg_server)
    ray_args = ("--no-clip", "--engine", "ray", "--address", ray_address)
    driver = scan(many_photos, tmp_path / "dead", url, *ray_args, popen=True)
    stored = 0
    deadline = time.monotonic() + 300
    while stored == 0 and driver.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
        stored = _stored_contents(psycopg, url)
    driver.send_signal(signal.SIGKILL)
    driver.communicate()
    assert stored > 0, "the driver ended before a batch was stored"

    record = scan(many_photos, tmp_path / "resumed", url, *ray_args)
    same_outputs(many_photos_local, tmp_path / "resumed")
    resumed = record["scan"]
    # batches the dying driver had running may have finished after the count: never fewer
    assert resumed["cached_by_path"] >= stored
    assert resumed["cached_by_path"] + resumed["decoded"] == 160


def test_the_ray_engine_refuses_a_sqlite_catalog(tmp_path, sample_archive):
    result = run_hygiene(
        "scan", sample_archive.root, "--out", tmp_path / "run", "--catalog", tmp_path / "c.sqlite",
        "--engine", "ray", "--no-clip",
    )  # fmt: skip
    assert result.returncode == 2
    assert "needs a catalog every node can reach" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_local_engine_with_a_postgres_catalog_gives_the_sqlite_results(
    tmp_path, sample_archive, pg_server
):
    scan(sample_archive.root, tmp_path / "sqlite", tmp_path / "c.sqlite", "--no-clip")
    url = new_database(pg_server)
    first = scan(sample_archive.root, tmp_path / "pg", url, "--no-clip")
    again = scan(sample_archive.root, tmp_path / "pg-again", url, "--no-clip")
    same_outputs(tmp_path / "sqlite", tmp_path / "pg")
    same_outputs(tmp_path / "sqlite", tmp_path / "pg-again")
    assert first["scan"]["decoded"] > 0 and again["scan"]["decoded"] == 0


def _processes_titled(title: bytes) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "cmdline").read_bytes().startswith(title):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _stored_contents(psycopg, url: str) -> int:
    try:
        with psycopg.connect(url, options="-c search_path=hygiene_catalog") as conn:
            return conn.execute("SELECT count(*) FROM contents").fetchone()[0]
    except psycopg.Error:  # the catalog's tables are not made yet
        return 0


def test_a_failure_inside_ray_is_one_line_naming_its_cause():
    import ray.exceptions

    from hygiene.cluster import failure

    try:
        try:
            raise OSError("could not connect to server: No such file or directory\n\tIs it up?")
        except OSError as inner:
            raise ray.exceptions.RayTaskError("scan_batch", "traceback text", inner) from inner
    except ray.exceptions.RayTaskError as wrapped:
        reported = failure(wrapped)
    assert reported is not None
    assert str(reported) == (
        "the cluster's work failed: OSError: could not connect to server: No such file or directory"
    )
    assert failure(ValueError("not from Ray")) is None
