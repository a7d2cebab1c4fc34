"""The whole run in stage order, usable from Python: scan -> duplicates -> categorize -> plan
-> outputs. `run` is the one place that knows the order; the CLI parses, calls it and renders.

    from hygiene.config import load_config
    from hygiene.pipeline import run

    result = run(Path("~/Pictures").expanduser(), load_config(None), categorize=False)
    result.duplicates()  # a pandas DataFrame, one row per file of every duplicate group
"""

from __future__ import annotations

import contextlib
import importlib
import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from hygiene import catalog
from hygiene.categorize import (
    CategorizeReport,
    CategorySet,
    ModelSource,
    ModelUnavailable,
    Originals,
    categorize,
    load_model,
    model_identity,
    pick_device,
)
from hygiene.categorize.classify import all_prompts
from hygiene.categorize.stage import representatives
from hygiene.cluster import ClusterError, ClusterSession
from hygiene.cluster import failure as cluster_failure
from hygiene.config import Config
from hygiene.duplicates import (
    DuplicateReport,
    QualityReader,
    fastdup_pairs,
    fastdup_python,
    find_duplicates,
)
from hygiene.outputs import (
    DUPLICATES_COLUMNS,
    SIMILAR_COLUMNS,
    RunSummary,
    duplicate_rows,
    new_run_id,
    prepare_run_folder,
    run_report_data,
    similar_rows,
    write_outputs,
    write_report,
    write_run_record,
)
from hygiene.plan import (
    Fingerprint,
    Plan,
    PlanInput,
    Policy,
    action_label,
    build_plan,
    plan_document,
    plan_json,
    settings_hash,
)
from hygiene.protect import protected_prefixes
from hygiene.records import ImageRow, RunTable
from hygiene.scan import ProgressSink, ScanStats, flag_columns, run_scan
from hygiene.search.library import SearchError, sync_run_index
from hygiene.workers import set_preload

if TYPE_CHECKING:  # pandas costs a tenth of a second to import; only these accessors use it
    import pandas as pd


class RunProgress(ProgressSink, Protocol):
    """What a long run reports as it goes (the CLI draws progress bars from it)."""

    def comparing(self, done: int, total: int) -> None: ...  # candidate pairs confirmed
    def categorizing(self) -> Callable[[int], None]: ...  # returns: n more images embedded
    def categorized(self, images: int | None) -> None: ...  # None: categorization skipped


class _Silent:
    def start(self, total_files: int) -> None:
        pass

    def advance(self, files: int = 1) -> None:
        pass

    def comparing(self, done: int, total: int) -> None:
        pass

    def categorizing(self) -> Callable[[int], None]:
        return lambda images: None

    def categorized(self, images: int | None) -> None:
        pass


@dataclass
class RunResult:
    """A finished run: where its outputs are, what it found, and its tables as DataFrames."""

    run_id: str
    root: Path
    folder: Path  # the run folder: images.csv/.parquet, duplicates.csv, plan.json, index.html...
    catalog_path: catalog.CatalogLocation
    stats: ScanStats
    summary: RunSummary
    duplicate_report: DuplicateReport
    category_report: CategorizeReport | None
    clip_status: str  # what categorization did, or why it was skipped
    plan: Plan
    search_status: str = ""  # what the search index did ("" when nothing was embedded)

    def images(self) -> pd.DataFrame:
        """One row per file (images.parquet): status, error, facts, quality, flags, action."""
        import pandas as pd

        return pd.read_parquet(self.folder / "images.parquet")

    def duplicates(self) -> pd.DataFrame:
        """One row per member of every duplicate group (the columns of duplicates.csv)."""
        import pandas as pd

        rows = list(duplicate_rows(self.duplicate_report))
        return pd.DataFrame(rows, columns=list(DUPLICATES_COLUMNS))

    def similar(self) -> pd.DataFrame:
        """One row per photo of every similar-shot cluster (the columns of similar.csv)."""
        import pandas as pd

        rows = list(similar_rows(self.duplicate_report))
        return pd.DataFrame(rows, columns=list(SIMILAR_COLUMNS))

    def categories(self) -> pd.DataFrame:
        """Each categorized photo's category and per-category probabilities (categories.csv);
        empty when categorization was skipped."""
        import pandas as pd

        path = self.folder / "categories.csv"
        if self.category_report is None or not path.exists():
            return pd.DataFrame(columns=["path", "category"])
        return pd.read_csv(path, keep_default_na=False)


def run(
    root: Path,
    config: Config,
    *,
    out: Path | None = None,
    catalog_path: catalog.CatalogLocation | None = None,
    workers: int | None = None,
    rescan: bool = False,
    categorize: bool = True,
    allow_download: bool = False,
    progress: RunProgress | None = None,
) -> RunResult:
    """Scan `root` and write a run folder (default: under `config.scan.reports_dir`).

    With `config.scan.engine` "ray", decoding and CLIP embedding run on a Ray cluster that
    shares a PostgreSQL catalog; every other stage runs here, from the catalog.

    Raises RunFolderError, CatalogError, ClusterError or FastdupUnavailable with a one-line
    reason; a categorization that cannot get its model is skipped and says why in
    `clip_status`.
    """
    progress = progress or _Silent()
    _import_meanwhile("pandas")
    root = root.resolve()
    started_at = datetime.now(UTC)
    run_id = new_run_id(started_at)
    catalog_path = catalog.resolved(catalog_path or config.scan.catalog_location())
    workers = workers or config.scan.worker_count()
    cluster = _cluster(config, catalog_path, workers)
    folder = prepare_run_folder(root, out, config, run_id, catalog_path)
    conn = catalog.open_catalog(catalog_path)
    place = _Place(root, run_id, started_at, folder, catalog_path, workers, cluster is not None)
    with _joined(cluster, folder / "ray.log"):
        return _stages(
            place,
            config,
            conn,
            rescan=rescan,
            categorize=categorize,
            allow_download=allow_download,
            progress=progress,
        )


@dataclass(frozen=True)
class _Place:
    """What a run settled before its first stage: what it scans, where its outputs and the
    catalog are, and where the work runs."""

    root: Path
    run_id: str
    started_at: datetime
    folder: Path
    catalog_path: catalog.CatalogLocation
    workers: int
    on_cluster: bool


def _stages(
    place: _Place,
    config: Config,
    conn: sqlite3.Connection,
    *,
    rescan: bool,
    categorize: bool,
    allow_download: bool,
    progress: RunProgress,
) -> RunResult:
    """Every stage of a run, in order, into its folder."""
    root, run_id, folder, catalog_path = place.root, place.run_id, place.folder, place.catalog_path
    workers, started_at = place.workers, place.started_at
    # one fork server for both pools: preloading both stages' modules starts every worker warm
    set_preload(["hygiene.scan.measure", "hygiene.duplicates.confirm"])
    stats = run_scan(
        root,
        config,
        conn,
        run_id,
        catalog_path,
        progress,
        workers=workers,
        rescan=rescan,
        cluster=place.on_cluster,
    )
    table = catalog.read_run_table(conn, run_id)  # read once, shared by every stage
    rows = table.images()
    duplicates = run_duplicates(
        conn, rows, root, config, table.quality_of, on_pairs=progress.comparing, workers=workers
    )
    categories, clip_status = None, "--no-clip was given"
    if categorize:
        categories, clip_status = _categorize_or_skip(
            conn, rows, duplicates, config, root, allow_download, progress, place.on_cluster
        )
    flags = flag_columns(table.quality, config.quality)
    plan = make_plan(
        table, flags, root, config, duplicates, categories, created_at=started_at.isoformat()
    )
    (folder / "plan.json").write_text(plan_json(plan), encoding="utf-8")
    actions = {a.source: action_label(a.kind) for a in plan.actions}
    tables = write_outputs(table, flags, folder, duplicates, categories, actions)
    catalog.forget_run(conn, run_id)
    record = write_run_record(
        folder,
        run_id=run_id,
        root=root,
        catalog_path=catalog_path,
        config=config,
        stats=stats,
        summary=tables.summary,
        started_at=started_at,
        categories=categories,
        clip_status=clip_status,
    )
    data = run_report_data(record, tables, table, duplicates, categories, plan_document(plan))
    write_report(folder, conn, data)
    search_status = _update_search_index(folder, catalog_path, config) if categories else ""
    return RunResult(
        run_id,
        root,
        folder,
        catalog_path,
        stats,
        tables.summary,
        duplicates,
        categories,
        clip_status,
        plan,
        search_status,
    )


@contextlib.contextmanager
def _joined(cluster: ClusterSession | None, log_path: Path) -> Iterator[None]:
    if cluster is None:
        yield
        return
    try:
        cluster.start(log_path)
        yield
    except Exception as exc:
        reported = cluster_failure(exc)
        if reported is None:
            raise
        raise reported from None
    finally:
        cluster.stop()


def _cluster(
    config: Config, catalog_path: catalog.CatalogLocation, workers: int
) -> ClusterSession | None:
    """The Ray cluster the run uses; None for the local engine."""
    if config.scan.engine != "ray":
        return None
    if not isinstance(catalog_path, str):
        raise ClusterError(
            "the Ray engine needs a catalog every node can reach: pass --catalog "
            "postgresql://... (a SQLite file on shared storage is not safe)"
        )
    return ClusterSession(config.scan.ray_address or None, workers)


def _import_meanwhile(module: str) -> None:
    """Import `module` on a thread while the run goes on. pyarrow imports pandas on its first
    conversion, when the outputs are written (a third of a second, all of it Python); the scan
    and the walk mostly wait on workers, the disk and SQLite, which leave the interpreter free."""

    def load() -> None:
        with contextlib.suppress(Exception):  # the real import, later, reports any failure
            importlib.import_module(module)

    threading.Thread(target=load, name=f"import {module}", daemon=True).start()


def _update_search_index(
    folder: Path, catalog_path: catalog.CatalogLocation, config: Config
) -> str:
    """Bring the archive's search index up to date; a failure only leaves search to do it."""
    try:
        synced = sync_run_index(folder, catalog_path, config.search)
    except SearchError as exc:
        return f"not updated ({exc}); `hygiene search` will retry"
    kind = "approximate (HNSW)" if synced.approximate else "exact"
    return f"{synced.live:,} photos, {kind}: {synced.added:,} added, {synced.dropped:,} dropped"


def _categorize_or_skip(
    conn: sqlite3.Connection,
    rows: list[ImageRow],
    duplicates: DuplicateReport,
    config: Config,
    root: Path,
    allow_download: bool,
    progress: RunProgress,
    on_cluster: bool = False,
) -> tuple[CategorizeReport | None, str]:
    """Run CLIP; when no weights can be had, say why and how to fix it instead of failing.
    `on_cluster`: the embeddings are computed on the Ray cluster first."""
    on_batch = progress.categorizing()
    on_cluster_embedded = 0
    try:
        if on_cluster:
            on_cluster_embedded = _embed_on_cluster(
                conn, rows, duplicates, config, root, allow_download, on_batch
            )
        report = run_categorize(
            conn,
            rows,
            duplicates,
            config,
            root=root,
            allow_download=allow_download,
            on_batch=on_batch,
        )
    except ModelUnavailable as exc:
        progress.categorized(None)
        return None, f"skipped: {exc}"
    progress.categorized(report.embedded + on_cluster_embedded)
    status = f"{report.model_id}: {report.embedded:,} embedded, {report.from_cache:,} from cache"
    if on_cluster:
        status += f" ({on_cluster_embedded:,} of them embedded on the cluster)"
    return report, status


def _embed_on_cluster(
    conn: sqlite3.Connection,
    rows: list[ImageRow],
    duplicates: DuplicateReport,
    config: Config,
    root: Path,
    allow_download: bool,
    on_batch: Callable[[int], None],
) -> int:
    """Embed the survivors the catalog lacks on the cluster; how many were sent."""
    from hygiene.cluster.embed import EmbedJob, embed_on_cluster

    settings = config.classify
    model_id = _model_source(config, allow_download).model_id
    survivors = {row.sha256: row for row in representatives(rows, duplicates).values()}
    needed = sorted(survivors)
    cached = catalog.embeddings(conn, model_id, needed)
    missing = [survivors[sha] for sha in needed if sha not in cached]
    if not missing:
        return 0
    job = EmbedJob(
        catalog=catalog.location_of(conn),
        model_id=model_id,
        model=settings.model,
        model_path=settings.model_path,
        device=settings.device,
        allow_download=allow_download,
        thumbnail_px=config.scan.thumbnail_px,
        prompts=tuple(all_prompts(_category_set(config))),
        root=str(root),
        max_pixels=config.scan.max_pixels,
    )
    embed_on_cluster(missing, job, settings.batch_size, on_batch)
    return len(missing)


def image_rows(conn: sqlite3.Connection, run_id: str) -> list[ImageRow]:
    """The run's readable images, read from the catalog (for tools outside a run); like every
    run table's, their facts leave the quality measurements out (RunTable.quality_of)."""
    return catalog.read_run_table(conn, run_id).images()


def run_duplicates(
    conn: sqlite3.Connection,
    rows: list[ImageRow],
    root: Path,
    config: Config,
    quality_of: QualityReader,
    *,
    on_pairs: Callable[[int, int], None] | None = None,
    workers: int | None = None,
) -> DuplicateReport:
    """Group the run's readable images into duplicate groups and similar-shot clusters;
    `quality_of` is the run table's (its rows' facts leave the quality measurements out)."""
    engine_pairs = None
    if config.duplicates.engine == "fastdup":
        engine_pairs = _fastdup_pairs(root, rows, config)
    # Verdicts are committed one by one (autocommit): the lock is never held for long.
    return find_duplicates(
        rows,
        root,
        conn,
        config.duplicates,
        config.quality,
        max_pixels=config.scan.max_pixels,
        quality_of=quality_of,
        engine_pairs=engine_pairs,
        on_pairs=on_pairs,
        workers=workers or config.scan.worker_count(),
    )


def _fastdup_pairs(root: Path, rows: list[ImageRow], config: Config) -> list[tuple[str, str]]:
    python = fastdup_python(config.duplicates.fastdup_python)
    pairs = fastdup_pairs(
        [root / row.rel_path for row in rows], python, threads=config.scan.worker_count()
    )
    return [
        (pair.path_a.relative_to(root).as_posix(), pair.path_b.relative_to(root).as_posix())
        for pair in pairs
    ]


def run_categorize(
    conn: sqlite3.Connection,
    rows: list[ImageRow],
    duplicates: DuplicateReport,
    config: Config,
    *,
    root: Path,
    allow_download: bool,
    on_batch: Callable[[int], None],
) -> CategorizeReport:
    """Label the survivors with CLIP, loaded only if the catalog lacks something it would
    compute (raises ModelUnavailable with the reason and the fix when it cannot be had)."""
    settings = config.classify
    # Each batch's embeddings are committed as they come: a long run never holds the catalog
    # lock, and an interrupted one keeps what it embedded.
    return categorize(
        conn,
        rows,
        duplicates,
        _model_source(config, allow_download),
        _category_set(config),
        batch_size=settings.batch_size,  # 0: the loaded model's device default
        workers=config.scan.worker_count(),
        thumbnail_px=config.scan.thumbnail_px,
        originals=Originals.of(root, rows, config.scan.max_pixels),
        on_batch=on_batch,
    )


def _model_source(config: Config, allow_download: bool) -> ModelSource:
    """The configured CLIP model, known by its id; loaded on first need."""
    settings = config.classify
    # The device picks the default model, so it is asked for (importing torch) only when no
    # model is named, or when the weights must be loaded.
    named = bool(settings.model or settings.model_path)
    device = settings.device if named else pick_device(settings.device)
    return ModelSource(
        model_identity(settings.model, settings.model_path, device),
        lambda: load_model(
            settings.model,
            settings.model_path,
            pick_device(device),
            allow_download=allow_download,
        ),
    )


def _category_set(config: Config) -> CategorySet:
    settings = config.classify
    return CategorySet(
        config.categories,
        settings.neutral_prompts,
        settings.uncertain_margin,
        settings.review_uncertain,
    )


def make_plan(
    table: RunTable,
    flags: dict[str, np.ndarray],
    root: Path,
    config: Config,
    duplicates: DuplicateReport,
    categories: CategorizeReport | None,
    *,
    created_at: str,
) -> Plan:
    """The run's plan: every file's proposed action, from the results and the [plan] policy.
    `flags` are the run's quality flag columns (scan.flag_columns)."""
    settings = config.plan
    policy = Policy(
        remove_duplicates=settings.remove_duplicates,
        quarantine_corrupt=settings.quarantine_corrupt,
        repair_damaged=settings.repair_damaged,
        review_flagged=settings.review_flagged,
        sort_into=settings.sort_into,
        sort_mode="copy" if settings.sort_mode == "copy" else "move",
        flatten=settings.flatten,
        quarantine_dir=config.scan.quarantine_dir,
    )
    seqs = table.seq.tolist()
    fingerprints = {
        seq: Fingerprint(size, mtime, sha)
        for seq, size, mtime, sha in zip(
            seqs, table.size_bytes.tolist(), table.mtime_ns.tolist(), table.sha256, strict=True
        )
        if sha is not None
    }
    paths = dict(zip(seqs, table.rel_path, strict=True))
    members = duplicates.members_by_seq()
    keeper_of = {m.seq: g.keeper_seq for g in duplicates.groups for m in g.members}
    labels = categories.by_seq if categories is not None else {}
    flag_lists = {name: column.tolist() for name, column in flags.items()}
    raised = [
        tuple(name for name, column in flag_lists.items() if column[index])
        for index in range(len(table))
    ]
    inputs = []
    for index, seq in enumerate(seqs):
        member = members.get(seq)
        keeper_seq = keeper_of.get(seq)
        label = labels.get(seq)
        inputs.append(
            PlanInput(
                rel_path=table.rel_path[index],
                status=table.status[index],
                fingerprint=fingerprints.get(seq),
                flags=raised[index],
                category=label.verdict.category if label else None,
                dup_kind=member.kind if member else None,
                keeper=member.keeper if member else None,
                keeper_path=paths.get(keeper_seq) if keeper_seq is not None else None,
                keeper_fingerprint=fingerprints.get(keeper_seq) if keeper_seq is not None else None,
            )
        )
    config_hash = settings_hash(policy, repr(config))
    return build_plan(
        inputs,
        policy,
        root=str(root),
        created_at=created_at,
        settings_hash=config_hash,
        protected_roots=protected_prefixes(root, config.duplicates.protected_roots),
    )
