"""A by-hand benchmark of `hygiene scan`: cold and cached throughput, peak memory, a naive baseline.

Not a test: run it and read the table. bench/README.md says how and what the numbers mean.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import multiprocessing
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import imagehash
import numpy as np
import pillow_heif
from PIL import Image

from hygiene.demo import samples

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
OUT_DIR = BENCH_DIR / "out"
MANIFEST_NAME = "corpus.json"
IMAGES_DIR = "images"
JPEG_QUALITY = 90
HEIC_QUALITY = 80
SMALL_SIZE = (320, 240)
SAMPLE_INTERVAL_S = 0.05
CACHED_RATIO_GOAL = 0.05
SPEEDUP_GOAL = 4.0
PHONE_RATE_GOAL = 250
DRAFT_RATIO_GOAL = 0.70
SEED_BASE = {"HEIF": 200_000, "PNG": 100_000, "JPEG": 0}
EXTENSIONS = {"HEIF": "heic", "PNG": "png", "JPEG": "jpg"}
KIB_PER_MIB = 1024

Job = tuple[str, str, int, int, int]


class BenchError(RuntimeError):
    """A benchmark step failed; str() says which one and why."""


# ---------------------------------------------------------------- corpus


@dataclass(frozen=True)
class CorpusSpec:
    jpegs: int
    pngs: int
    heics: int
    width: int
    height: int

    @property
    def counts(self) -> dict[str, int]:
        return {"HEIF": self.heics, "PNG": self.pngs, "JPEG": self.jpegs}

    @property
    def total(self) -> int:
        return self.jpegs + self.pngs + self.heics

    def describe(self) -> str:
        kinds = {
            f"JPEG q{JPEG_QUALITY}": self.jpegs,
            "PNG": self.pngs,
            f"HEIC q{HEIC_QUALITY}": self.heics,
        }
        listed = " + ".join(f"{count} {kind}" for kind, count in kinds.items() if count)
        return f"{listed} at {self.width}x{self.height}"

    def default_dir(self) -> Path:
        name = f"corpus-{self.jpegs}j-{self.pngs}p-{self.heics}h-{self.width}x{self.height}"
        return OUT_DIR / name


@dataclass(frozen=True)
class Corpus:
    root: Path
    spec: CorpusSpec
    files: int
    bytes: int
    generated_s: float | None

    @property
    def images(self) -> Path:
        return self.root / IMAGES_DIR

    def describe(self) -> str:
        how = "reused" if self.generated_s is None else f"generated in {self.generated_s:.1f} s"
        return (
            f"{self.spec.describe()}: {self.files} files, {self.bytes / 2**20:.1f} MiB "
            f"in {self.images} ({how})"
        )


def corpus_jobs(spec: CorpusSpec, images: Path) -> list[Job]:
    return [
        (
            str(images / f"{fmt}_{i:05d}.{EXTENSIONS[fmt]}"),
            fmt,
            SEED_BASE[fmt] + i,
            spec.width,
            spec.height,
        )
        for fmt, count in spec.counts.items()
        for i in range(count)
    ]


def write_image(job: Job) -> None:
    path, fmt, seed, width, height = job
    image = samples.photo(seed, width, height)
    if fmt == "HEIF":
        Path(path).write_bytes(samples.encoded(image, "HEIF", quality=HEIC_QUALITY))
    elif fmt == "PNG":
        image.save(path, "PNG")
    else:
        image.save(path, "JPEG", quality=JPEG_QUALITY)


def _single_threaded_cv2() -> None:
    cv2.setNumThreads(1)


def generate(jobs: list[Job]) -> None:
    processes = max(1, min(os.cpu_count() or 1, len(jobs)))
    chunksize = max(1, len(jobs) // (processes * 16))
    context = multiprocessing.get_context("spawn")
    with context.Pool(processes, initializer=_single_threaded_cv2) as pool:
        for _ in pool.imap_unordered(write_image, jobs, chunksize):
            pass


def _read_manifest(root: Path) -> dict[str, object] | None:
    try:
        return json.loads((root / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _write_manifest(root: Path, spec: CorpusSpec, complete: bool) -> None:
    record = {**asdict(spec), "complete": complete}
    (root / MANIFEST_NAME).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")


def _reset_corpus_dir(root: Path) -> None:
    if _read_manifest(root) is not None:
        shutil.rmtree(root / IMAGES_DIR, ignore_errors=True)
    elif root.exists() and any(root.iterdir()):
        raise BenchError(f"{root} is not empty and holds no {MANIFEST_NAME}: not touching it")
    (root / IMAGES_DIR).mkdir(parents=True)


def list_images(images: Path) -> list[Path]:
    return sorted(path for path in images.rglob("*") if path.is_file())


def ensure_corpus(root: Path, spec: CorpusSpec) -> Corpus:
    """Reuse `root` if it holds a complete corpus of `spec`, otherwise (re)generate it."""
    generated_s = None
    if _read_manifest(root) != {**asdict(spec), "complete": True}:
        _reset_corpus_dir(root)
        _write_manifest(root, spec, complete=False)
        print(f"generating {spec.describe()} in {root} ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        generate(corpus_jobs(spec, root / IMAGES_DIR))
        generated_s = time.perf_counter() - started
        _write_manifest(root, spec, complete=True)
        print(f"generation took {generated_s:.1f} s", file=sys.stderr, flush=True)
    files = list_images(root / IMAGES_DIR)
    size = sum(path.stat().st_size for path in files)
    return Corpus(root, spec, len(files), size, generated_s)


def warm_page_cache(images: Path) -> None:
    for path in list_images(images):
        with path.open("rb") as handle:
            while handle.read(1 << 20):
                pass


# ---------------------------------------------------------------- memory sampling


@dataclass(frozen=True)
class ProcStat:
    ppid: int
    cpu_s: float


def proc_table() -> dict[int, ProcStat]:
    """Parent and CPU time (user + system) of every process, from /proc/<pid>/stat."""
    table: dict[int, ProcStat] = {}
    ticks_per_s = os.sysconf("SC_CLK_TCK")
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            fields = Path(entry.path, "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        cpu_ticks = int(fields[11]) + int(fields[12])
        table[int(entry.name)] = ProcStat(int(fields[1]), cpu_ticks / ticks_per_s)
    return table


def process_tree(root_pid: int, table: dict[int, ProcStat]) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid, stat in table.items():
        children.setdefault(stat.ppid, []).append(pid)
    tree: list[int] = []
    pending = [root_pid] if root_pid in table else []
    while pending:
        pid = pending.pop()
        tree.append(pid)
        pending.extend(children.get(pid, []))
    return tree


def _proc_kib(path: str, keys: Sequence[str]) -> dict[str, int]:
    try:
        text = Path(path).read_text()
    except OSError:
        return {}
    values: dict[str, int] = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key in keys:
            values[key] = int(rest.split()[0])
    return values


@dataclass
class TreeUsage:
    parent_kib: int = 0
    tree_rss_kib: int = 0
    tree_pss_kib: int = 0
    processes: int = 0
    samples: int = 0
    cpu_s_by_pid: dict[int, float] = field(default_factory=dict)

    @property
    def tree_cpu_s(self) -> float:
        return sum(self.cpu_s_by_pid.values())


class TreeSampler:
    """Samples memory and CPU time of a process and all its descendants every SAMPLE_INTERVAL_S."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peaks = TreeUsage()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while True:
            self.sample()
            if self._stop.wait(SAMPLE_INTERVAL_S):
                return

    def sample(self) -> None:
        rss = pss = 0
        table = proc_table()
        pids = process_tree(self.pid, table)
        for pid in pids:
            self.peaks.cpu_s_by_pid[pid] = table[pid].cpu_s
            status = _proc_kib(f"/proc/{pid}/status", ("VmRSS", "VmHWM"))
            rss += status.get("VmRSS", 0)
            pss += _proc_kib(f"/proc/{pid}/smaps_rollup", ("Pss",)).get("Pss", 0)
            if pid == self.pid:
                parent = max(status.get("VmHWM", 0), status.get("VmRSS", 0))
                self.peaks.parent_kib = max(self.peaks.parent_kib, parent)
        self.peaks.tree_rss_kib = max(self.peaks.tree_rss_kib, rss)
        self.peaks.tree_pss_kib = max(self.peaks.tree_pss_kib, pss)
        self.peaks.processes = max(self.peaks.processes, len(pids))
        self.peaks.samples += 1


def machine_busy_cpu_s() -> float:
    """CPU time every process on the machine has used since boot (not idle, not iowait)."""
    ticks = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


@dataclass
class Finished:
    command: list[str]
    returncode: int
    stdout: str
    stderr: str
    wall_s: float
    tree_cpu_s: float
    sampler_cpu_s: float
    other_cpu_s: float
    peaks: TreeUsage


def run_sampled(command: list[str], env: dict[str, str] | None = None) -> Finished:
    """Run `command` while sampling its memory; other_cpu_s is what the rest of the machine used."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        busy_before, own_before = machine_busy_cpu_s(), time.process_time()
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err, cwd=REPO_ROOT, env=env)
        with TreeSampler(process.pid) as sampler:
            returncode = process.wait()
        wall_s = time.perf_counter() - started
        busy_s, own_s = machine_busy_cpu_s() - busy_before, time.process_time() - own_before
        tree_cpu_s = sampler.peaks.tree_cpu_s
        other_cpu_s = max(0.0, busy_s - tree_cpu_s - own_s)
        out.seek(0)
        err.seek(0)
        return Finished(
            command,
            returncode,
            out.read(),
            err.read(),
            wall_s,
            tree_cpu_s,
            own_s,
            other_cpu_s,
            sampler.peaks,
        )


def checked(finished: Finished) -> Finished:
    if finished.returncode != 0:
        raise BenchError(
            f"`{shlex.join(finished.command)}` exited with {finished.returncode}\n"
            f"stderr:\n{finished.stderr.strip()}\nstdout:\n{finished.stdout.strip()}"
        )
    return finished


# ---------------------------------------------------------------- measurements


@dataclass
class Measurement:
    name: str
    files: int
    wall_s: float
    inner_s: float | None
    files_per_s: float
    cpu_s: float
    other_cpu_s: float
    parent_peak_mib: float
    tree_peak_rss_mib: float
    tree_peak_pss_mib: float
    max_processes: int
    details: dict[str, object] = field(default_factory=dict)


def measurement(
    name: str, files: int, finished: Finished, inner_s: float | None, details: dict[str, object]
) -> Measurement:
    peaks = finished.peaks
    return Measurement(
        name=name,
        files=files,
        wall_s=finished.wall_s,
        inner_s=inner_s,
        files_per_s=files / finished.wall_s,
        cpu_s=finished.tree_cpu_s,
        other_cpu_s=finished.other_cpu_s,
        parent_peak_mib=peaks.parent_kib / KIB_PER_MIB,
        tree_peak_rss_mib=peaks.tree_rss_kib / KIB_PER_MIB,
        tree_peak_pss_mib=peaks.tree_pss_kib / KIB_PER_MIB,
        max_processes=peaks.processes,
        details={
            "command": shlex.join(finished.command),
            "rss_samples": peaks.samples,
            "sampler_cpu_s": finished.sampler_cpu_s,
            **details,
        },
    )


def isolated_env(work: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "HYGIENE_CONFIG"}
    env["XDG_CONFIG_HOME"] = str(work / "xdg-config")
    env["XDG_CACHE_HOME"] = str(work / "xdg-cache")
    return env


@dataclass(frozen=True)
class ScanJob:
    name: str
    images: Path
    files: int
    out: Path
    catalog: Path
    workers: int
    no_clip: bool = False


def scan_command(job: ScanJob) -> list[str]:
    return [
        sys.executable,
        "-m",
        "hygiene",
        "scan",
        str(job.images),
        "--out",
        str(job.out),
        "--catalog",
        str(job.catalog),
        "--quiet",
        "--workers",
        str(job.workers),
        *(["--no-clip"] if job.no_clip else []),
    ]


def hygiene_scan(job: ScanJob, env: dict[str, str]) -> Measurement:
    finished = checked(run_sampled(scan_command(job), env))
    record = json.loads((job.out / "run.json").read_text(encoding="utf-8"))
    details = {"scan": record["scan"], "by_status": record["by_status"], "flags": record["flags"]}
    return measurement(job.name, job.files, finished, record["scan"]["elapsed_s"], details)


def naive_baseline(images: Path, files: int) -> Measurement:
    command = [sys.executable, str(Path(__file__).resolve()), "--baseline-worker", str(images)]
    finished = checked(run_sampled(command))
    result = json.loads(finished.stdout)
    return measurement("naive baseline, 1 process", files, finished, result["elapsed_s"], {})


def bare_command(images: Path, workers: int, scale: int) -> list[str]:
    command = [sys.executable, str(Path(__file__).resolve()), "--bare-worker", str(images)]
    return [*command, "--bare-scale", str(scale), "--workers", str(workers)]


def bare_baseline(images: Path, files: int, workers: int, scale: int) -> Measurement:
    """Read, SHA-256 and decode (at 1/scale in the JPEG decoder) every file, one process per
    core: the floor a scan of the same files is measured against."""
    finished = checked(run_sampled(bare_command(images, workers, scale)))
    result = json.loads(finished.stdout)
    name = f"bare read + sha256 + decode at 1/{scale}, {workers} processes"
    return measurement(name, files, finished, result["elapsed_s"], {})


def bare_decode(job: tuple[Path, int]) -> int:
    path, scale = job
    data = path.read_bytes()
    hashlib.sha256(data).digest()
    with Image.open(io.BytesIO(data)) as image:
        if scale > 1:
            image.draft("RGB", (image.width // scale, image.height // scale))
        image.load()
        return image.width


def bare_worker(images: Path, scale: int, workers: int) -> None:
    """Runs in the child process: the bare rate of `images`, printed as JSON."""
    pillow_heif.register_heif_opener()
    jobs = [(path, scale) for path in list_images(images)]
    started = time.perf_counter()
    with multiprocessing.Pool(workers) as pool:
        pool.map(bare_decode, jobs, chunksize=8)
    print(json.dumps({"files": len(jobs), "elapsed_s": time.perf_counter() - started}))


def cli_startup(env: dict[str, str], repeats: int = 3) -> Measurement:
    command = [sys.executable, "-m", "hygiene", "--version"]
    runs = [checked(run_sampled(command, env)) for _ in range(repeats)]
    best = min(runs, key=lambda finished: finished.wall_s)
    return measurement(f"`hygiene --version` (best of {repeats})", 0, best, None, {})


def naive_measure(path: Path) -> dict[str, float | str]:
    with Image.open(path) as image:
        rgb = image.convert("RGB")
    grey = np.asarray(rgb.convert("L"), dtype=np.float32)
    p1, p50, p99 = np.percentile(grey, [1, 50, 99])
    return {
        "phash": str(imagehash.phash(rgb)),
        "mean": float(grey.mean()),
        "std": float(grey.std()),
        "p1": float(p1),
        "p50": float(p50),
        "p99": float(p99),
        "laplacian_var": float(cv2.Laplacian(grey, cv2.CV_32F).var()),
    }


def baseline_worker(images: Path) -> None:
    """Runs in the child process: measure every file naively and print the timing as JSON."""
    pillow_heif.register_heif_opener()
    paths = list_images(images)
    started = time.perf_counter()
    for path in paths:
        naive_measure(path)
    print(json.dumps({"files": len(paths), "elapsed_s": time.perf_counter() - started}))


# ---------------------------------------------------------------- checks and report


@dataclass
class Goal:
    name: str
    measured: str
    goal: str
    met: bool


def scan_warnings(result: Measurement, expect: str) -> list[str]:
    scan = result.details["scan"]
    by_status = result.details["by_status"]
    assert isinstance(scan, dict) and isinstance(by_status, dict)
    problems = []
    if by_status.get("ok") != result.files:
        problems.append(f"{result.name}: expected {result.files} ok files, got {by_status}")
    if scan.get(expect) != result.files:
        problems.append(f"{result.name}: expected {expect}={result.files}, got {scan}")
    return problems


def goals(
    cold: Measurement,
    cached: Measurement,
    baseline: Measurement,
    bare_full: Measurement,
    bare_eighth: Measurement,
    trials: Trials | None = None,
) -> list[Goal]:
    """The goals, with the rates read off the medians of `trials` when there are any."""
    speedup = cold.files_per_s / baseline.files_per_s
    cold_rate, full_rate, eighth_rate = (
        cold.files_per_s,
        bare_full.files_per_s,
        bare_eighth.files_per_s,
    )
    source = ""
    if trials is not None:
        cold_rate, full_rate, eighth_rate = (trials.median_rate(kind) for kind in TRIAL_KINDS)
        source = f", medians of {len(trials.walls_s['hygiene cold'])} unsampled runs"
    ratio = cached.wall_s / cold.wall_s
    inner_ratio = (cached.inner_s or 0.0) / (cold.inner_s or float("inf"))
    cached_goal = f"<= {CACHED_RATIO_GOAL:.0%}"
    return [
        Goal(
            "cold hygiene files/s ÷ naive baseline files/s",
            f"{speedup:.2f}x",
            f">= {SPEEDUP_GOAL:g}x",
            speedup >= SPEEDUP_GOAL,
        ),
        Goal(
            "cached re-run wall ÷ cold wall",
            f"{ratio:.1%}",
            cached_goal,
            ratio <= CACHED_RATIO_GOAL,
        ),
        Goal(
            f"cold files/s (phone-sized JPEGs, issue 13{source})",
            f"{cold_rate:.0f}",
            f">= {PHONE_RATE_GOAL}",
            cold_rate >= PHONE_RATE_GOAL,
        ),
        Goal(
            f"cold files/s ÷ bare read + hash + decode files/s, all cores{source}",
            f"{cold_rate / full_rate:.1%}",
            "(reference)",
            True,
        ),
        Goal(
            "cold files/s ÷ bare 1/8 draft-decode files/s, all cores (12 MP JPEGs, issue 13"
            f"{source})",
            f"{cold_rate / eighth_rate:.1%}",
            f">= {DRAFT_RATIO_GOAL:.0%}",
            cold_rate / eighth_rate >= DRAFT_RATIO_GOAL,
        ),
        Goal(
            "(for reference) cached ÷ cold, scan stage only (inner)",
            f"{inner_ratio:.1%}",
            cached_goal,
            inner_ratio <= CACHED_RATIO_GOAL,
        ),
    ]


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name":
            return value.strip()
    return platform.processor() or "unknown"


def _git(*args: str) -> str:
    try:
        done = subprocess.run(
            ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return ""
    return done.stdout.strip()


def hygiene_revision() -> str:
    commit = _git("rev-parse", "--short", "HEAD") or "unknown commit"
    changed = _git("status", "--porcelain", "--", "hygiene")
    return f"{commit} + uncommitted changes in hygiene/" if changed else commit


def machine_info() -> dict[str, object]:
    mem_kib = _proc_kib("/proc/meminfo", ("MemTotal",)).get("MemTotal", 0)
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model(),
        "memory_gib": round(mem_kib / 2**20, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


@dataclass
class Report:
    machine: dict[str, object]
    hygiene_revision: str
    corpus: str
    workers: int
    runs: list[Measurement]
    goals: list[Goal]
    memory_corpora: list[str]
    memory_check: list[Measurement]
    warnings: list[str]
    trials: Trials | None = None


def _cell(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def runs_table(runs: list[Measurement]) -> list[str]:
    lines = [
        "| run | files | wall (s) | inner (s) | files/s | CPU (s) | other CPU (s) "
        "| parent peak RSS (MiB) | tree peak RSS (MiB) | tree peak PSS (MiB) | processes |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for run in runs:
        rate = _cell(run.files_per_s, 2) if run.files else "–"
        lines.append(
            f"| {run.name} | {run.files} | {_cell(run.wall_s, 2)} | {_cell(run.inner_s, 2)} "
            f"| {rate} | {_cell(run.cpu_s)} | {_cell(run.other_cpu_s)} "
            f"| {_cell(run.parent_peak_mib)} | {_cell(run.tree_peak_rss_mib)} "
            f"| {_cell(run.tree_peak_pss_mib)} | {run.max_processes} |"
        )
    return lines


def goals_table(items: list[Goal]) -> list[str]:
    lines = ["| check | measured | goal | met |", "|---|--:|--:|:-:|"]
    lines += [f"| {g.name} | {g.measured} | {g.goal} | {'yes' if g.met else 'NO'} |" for g in items]
    return lines


def memory_growth(runs: list[Measurement]) -> str:
    small, large = runs[0], runs[-1]
    return (
        f"{small.files} → {large.files} files: parent peak "
        f"{large.parent_peak_mib - small.parent_peak_mib:+.1f} MiB, tree peak RSS "
        f"{large.tree_peak_rss_mib - small.tree_peak_rss_mib:+.1f} MiB, tree peak PSS "
        f"{large.tree_peak_pss_mib - small.tree_peak_pss_mib:+.1f} MiB"
    )


def render(report: Report) -> str:
    m = report.machine
    lines = [
        "## hygiene scan benchmark",
        "",
        f"- machine: nproc {m['nproc']}, {m['cpu_model']}, {m['memory_gib']} GiB RAM, "
        f"Python {m['python']}, {m['platform']}",
        f"- hygiene: {report.hygiene_revision}",
        f"- corpus: {report.corpus}",
        f"- hygiene workers: {report.workers}",
        "",
        *runs_table(report.runs),
        "",
        *goals_table(report.goals),
    ]
    if report.trials is not None:
        lines += ["", "### rate trials (no memory sampling, taken in turn)", ""]
        lines += trials_table(report.trials)
    if report.memory_check:
        lines += ["", "### memory growth (cold scans of 320x240 JPEGs)", ""]
        lines += [f"- corpus: {corpus}" for corpus in report.memory_corpora]
        lines += ["", *runs_table(report.memory_check)]
        lines += ["", f"- {memory_growth(report.memory_check)}"]
    if report.warnings:
        lines += ["", "### warnings", "", *(f"- {warning}" for warning in report.warnings)]
    return "\n".join(lines)


@dataclass
class Trials:
    """Wall times (s) of unsampled runs, taken in turn: hygiene cold, bare at 1/1, bare at 1/8.

    On a shared 2-core machine one run can be 20% off the next, and the memory sampler itself
    takes a core's tenth; the rate goals are read off the medians of these instead.
    """

    files: int
    walls_s: dict[str, list[float]] = field(default_factory=dict)

    def median_rate(self, kind: str) -> float:
        return self.files / statistics.median(self.walls_s[kind])


TRIAL_KINDS = ("hygiene cold", "bare 1/1", "bare 1/8")


def rate_trials(corpus: Corpus, workers: int, work: Path, *, no_clip: bool, rounds: int) -> Trials:
    env = isolated_env(work)
    trials = Trials(corpus.files, {kind: [] for kind in TRIAL_KINDS})
    for round_index in range(rounds):
        job = ScanJob(
            "trial",
            corpus.images,
            corpus.files,
            work / f"trial-{round_index}",
            work / f"trial-{round_index}.sqlite",
            workers,
            no_clip,
        )
        commands = {
            "hygiene cold": (scan_command(job), env),
            "bare 1/1": (bare_command(corpus.images, workers, 1), None),
            "bare 1/8": (bare_command(corpus.images, workers, 8), None),
        }
        for kind, (command, command_env) in commands.items():
            started = time.perf_counter()
            done = subprocess.run(command, cwd=REPO_ROOT, env=command_env, capture_output=True)
            if done.returncode != 0:
                raise BenchError(f"{kind} trial failed: {done.stderr.decode()[-500:]}")
            trials.walls_s[kind].append(time.perf_counter() - started)
    return trials


def trials_table(trials: Trials) -> list[str]:
    lines = [
        "| unsampled run | runs | median wall (s) | min–max (s) | files/s at the median |",
        "|---|--:|--:|--:|--:|",
    ]
    for kind, walls in trials.walls_s.items():
        lines.append(
            f"| {kind} | {len(walls)} | {statistics.median(walls):.2f} | "
            f"{min(walls):.2f}–{max(walls):.2f} | {trials.median_rate(kind):.1f} |"
        )
    return lines


# ---------------------------------------------------------------- main


def main_benchmark(
    corpus: Corpus, workers: int, work: Path, *, no_clip: bool
) -> tuple[list[Measurement], list[str]]:
    env = isolated_env(work)
    catalog = work / "main.sqlite"
    warm_page_cache(corpus.images)
    cold = hygiene_scan(
        ScanJob(
            "hygiene scan, cold" + (" --no-clip" if no_clip else ""),
            corpus.images,
            corpus.files,
            work / "cold",
            catalog,
            workers,
            no_clip,
        ),
        env,
    )
    cached = hygiene_scan(
        ScanJob(
            "hygiene scan, cached re-run",
            corpus.images,
            corpus.files,
            work / "cached",
            catalog,
            workers,
            no_clip,
        ),
        env,
    )
    baseline = naive_baseline(corpus.images, corpus.files)
    bare = [bare_baseline(corpus.images, corpus.files, workers, scale) for scale in (1, 8)]
    startup = cli_startup(env)
    warnings = scan_warnings(cold, "decoded") + scan_warnings(cached, "cached_by_path")
    return [cold, cached, baseline, *bare, startup], warnings


def memory_check(
    counts: list[int], workers: int, work: Path
) -> tuple[list[str], list[Measurement], list[str]]:
    env = isolated_env(work)
    corpora, runs, warnings = [], [], []
    for count in counts:
        spec = CorpusSpec(jpegs=count, pngs=0, heics=0, width=SMALL_SIZE[0], height=SMALL_SIZE[1])
        corpus = ensure_corpus(OUT_DIR / f"memory-{count}", spec)
        warm_page_cache(corpus.images)
        job = ScanJob(
            f"hygiene scan, cold, {count} files",
            corpus.images,
            corpus.files,
            work / f"memory-{count}",
            work / f"memory-{count}.sqlite",
            workers,
        )
        run = hygiene_scan(job, env)
        corpora.append(corpus.describe())
        runs.append(run)
        warnings += scan_warnings(run, "decoded")
    return corpora, runs, warnings


def parse_size(text: str) -> tuple[int, int]:
    width, _, height = text.lower().partition("x")
    return int(width), int(height)


def parse_counts(text: str) -> list[int]:
    return sorted(int(part) for part in text.split(",") if part.strip())


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=40, help="12 MP JPEGs (default 40)")
    parser.add_argument("--pngs", type=int, help="PNG files (default max(1, files/10))")
    parser.add_argument("--heics", type=int, help="HEIC files (default max(1, files/10))")
    parser.add_argument(
        "--size",
        type=parse_size,
        default=(4000, 3000),
        help="WIDTHxHEIGHT of every corpus image (default 4000x3000)",
    )
    parser.add_argument(
        "--corpus",
        type=Path,
        help="corpus folder, reused when its parameters match "
        "(default bench/out/corpus-<parameters>)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="hygiene scan --workers (default os.cpu_count())",
    )
    parser.add_argument(
        "--memory-check",
        action="store_true",
        help="also cold-scan many small JPEGs to show peak RSS does not grow",
    )
    parser.add_argument(
        "--memory-files",
        type=parse_counts,
        help="file counts for the memory check (default 2000,8000; implies it)",
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=OUT_DIR / "scan_bench.json",
        help="where to write the results as JSON (default bench/out/)",
    )
    parser.add_argument(
        "--no-clip", action="store_true", help="scan with --no-clip (no categorization)"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=0,
        metavar="N",
        help="also time N unsampled rounds of hygiene cold, bare 1/1 and bare 1/8 in turn; "
        "the rate goals then use their medians",
    )
    parser.add_argument("--baseline-worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--bare-worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--bare-scale", type=int, default=1, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def corpus_spec(args: argparse.Namespace) -> CorpusSpec:
    extra = max(1, args.files // 10)
    return CorpusSpec(
        jpegs=args.files,
        pngs=extra if args.pngs is None else args.pngs,
        heics=extra if args.heics is None else args.heics,
        width=args.size[0],
        height=args.size[1],
    )


def run(args: argparse.Namespace) -> Report:
    spec = corpus_spec(args)
    corpus = ensure_corpus((args.corpus or spec.default_dir()).resolve(), spec)
    revision = hygiene_revision()
    with tempfile.TemporaryDirectory(prefix="scan-bench-") as tmp:
        runs, warnings = main_benchmark(corpus, args.workers, Path(tmp), no_clip=args.no_clip)
        trials = None
        if args.repeat:
            trials = rate_trials(
                corpus, args.workers, Path(tmp), no_clip=args.no_clip, rounds=args.repeat
            )
        memory_corpora: list[str] = []
        memory_runs: list[Measurement] = []
        if args.memory_check or args.memory_files:
            counts = args.memory_files or [2000, 8000]
            memory_corpora, memory_runs, more = memory_check(counts, args.workers, Path(tmp))
            warnings += more
    return Report(
        machine=machine_info(),
        hygiene_revision=revision,
        corpus=corpus.describe(),
        workers=args.workers,
        runs=runs,
        goals=goals(*runs[:5], trials=trials),
        memory_corpora=memory_corpora,
        memory_check=memory_runs,
        warnings=warnings,
        trials=trials,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.baseline_worker is not None:
        baseline_worker(args.baseline_worker)
        return 0
    if args.bare_worker is not None:
        bare_worker(args.bare_worker, args.bare_scale, args.workers)
        return 0
    try:
        report = run(args)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(render(report))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(asdict(report), indent=2) + "\n", encoding="utf-8")
    print(f"\nJSON: {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
