"""Pair confirmation in the worker pool: the same verdicts as in one process, and a batch that
fails is tried again pair by pair."""

from __future__ import annotations

import json
import shutil
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from hygiene import catalog
from hygiene.config import DuplicateSettings, QualityThresholds
from hygiene.duplicates import confirm
from hygiene.duplicates.confirm import ConfirmSettings, PairCheck
from hygiene.duplicates.stage import _nodes, find_duplicates
from hygiene.records import KEEPER_RULES, QUALITY_FIELDS, QualityMetrics
from hygiene.workers import WorkerFailure
from tests.test_duplicates import corpus_run  # noqa: F401  (the module-scoped fixture)


def _fresh_catalog(source: Path, target: Path, root: Path) -> sqlite3.Connection:
    """A copy of a scanned catalog with no cached pair verdicts or pixel hashes, and every file
    under `root` listed under the run "again" (a finished run's list is dropped)."""
    shutil.copy(source, target)
    conn = catalog.open_catalog(target)
    conn.execute("DELETE FROM pair_relations")
    conn.execute("DELETE FROM pixel_hashes")
    root_key = catalog.root_id(conn, root)
    paths = [
        p for (p,) in conn.execute("SELECT rel_path FROM files WHERE root_id = ?", (root_key,))
    ]
    catalog.record_run_files(conn, "again", root_key, list(enumerate(sorted(paths))))
    return conn


def _described(report) -> list[tuple[object, ...]]:
    groups = sorted(
        tuple(sorted((m.rel_path, m.kind, m.distance, m.keeper, m.reason) for m in g.members))
        for g in report.groups
    )
    similar = sorted(tuple(sorted(s.rel_path for s in cluster)) for cluster in report.similar)
    return [groups, similar]


def test_the_pool_gives_the_verdicts_of_one_process(corpus_run, tmp_path):  # noqa: F811
    _, out = corpus_run
    run = json.loads((out / "run.json").read_text())
    root = Path(run["root"])
    scanned = root.parent / "catalog.sqlite"
    reports, heard = [], []
    for workers in (1, 2):
        conn = _fresh_catalog(scanned, tmp_path / f"catalog{workers}.sqlite", root)
        table = catalog.read_run_table(conn, "again")
        report = find_duplicates(
            table.images(),
            root,
            conn,
            DuplicateSettings(),
            QualityThresholds(),
            max_pixels=200_000_000,
            quality_of=table.quality_of,
            workers=workers,
            on_pairs=lambda done, total: heard.append((done, total)),
        )
        reports.append(_described(report))
        relations = conn.execute("SELECT count(*) FROM pair_relations").fetchone()[0]
        assert relations > 2 * confirm._POOL_MIN_PAIRS  # enough pairs to use the pool
    assert reports[0] == reports[1]
    assert reports[0][0], "the corpus has duplicate groups"
    assert heard[-1][0] == heard[-1][1]  # progress reached the end


class _FailingPool:
    """Stands in for the worker pool: any batch holding `bad` fails, others are judged."""

    def __init__(self, bad: PairCheck) -> None:
        self.bad, self.sizes = bad, []

    def map(self, batches):
        for checks in batches:
            self.sizes.append(len(checks))
            batch = confirm._Batch(checks, {})
            if self.bad in checks:
                yield batch, WorkerFailure("crashed", "decoder process crashed (SIGSEGV)")
            else:
                yield batch, confirm._BatchResult([("near", 0.01 * c.b) for c in checks], {})


def test_a_failed_batch_is_retried_pair_by_pair_and_its_bad_pair_is_not_cached(monkeypatch):
    checks = [PairCheck(0, b, 0, False, 3, 12) for b in range(1, 100)]
    pool = _FailingPool(checks[40])
    monkeypatch.setattr(confirm._Confirmer, "_map", pool.map)
    settings = ConfirmSettings("catalog.sqlite", "/", 1, DuplicateSettings())
    confirmer = confirm._Confirmer(sqlite3.connect(":memory:"), [], settings, workers=2)
    counted = []
    verdicts = confirmer.run(checks, on_judged=counted.append)
    assert verdicts[40] == (("none", confirm._UNCOMPARED), False)
    assert all(
        v == (("near", 0.01 * c.b), True)
        for c, v in zip(checks, verdicts, strict=True)
        if c.b != 41
    )
    assert sum(counted) == len(checks)
    assert pool.sizes.count(1) == confirm._BATCH_PAIRS  # the failed batch, one pair at a time


def _clique(size: int) -> list[PairCheck]:
    """Every pair of `size` photos, in the order the hash search proposes them."""
    return [PairCheck(a, b, 0, False, 3, 12) for a in range(size) for b in range(a + 1, size)]


def test_a_large_group_is_judged_tile_by_tile_and_decodes_each_thumbnail_a_few_times():
    checks = _clique(40)
    batches = confirm._batches(checks)
    positions = [i for batch in batches for i in batch]
    assert sorted(positions) == list(range(len(checks)))  # every check once
    assert all(len(batch) <= confirm._BATCH_PAIRS for batch in batches)
    size = confirm._BATCH_PAIRS
    as_proposed = [list(range(i, min(i + size, len(checks)))) for i in range(0, len(checks), size)]
    tiled = confirm._frames_decoded(checks, batches)
    assert tiled * 3 < confirm._frames_decoded(checks, as_proposed)
    assert tiled <= 40 * (40 // confirm._TILE_PHOTOS)  # each photo about once per row of tiles


def test_pairs_already_close_together_keep_their_order():
    # each photo with its two neighbours: the proposal order already needs each frame once
    checks = [PairCheck(a, b, 0, True, 3, 12) for a in range(60) for b in (a + 1, a + 2)]
    batches = confirm._batches(checks)
    assert [i for batch in batches for i in batch] == list(range(len(checks)))


def test_verdicts_come_back_in_the_order_asked_whatever_order_they_were_judged_in(monkeypatch):
    checks = _clique(30)[::-1]  # proposal order reversed: the tiled order differs from it

    def judged(batches):
        for checks_of_batch in batches:
            verdicts = [("near", c.a + c.b / 100) for c in checks_of_batch]
            yield confirm._Batch(checks_of_batch, {}), confirm._BatchResult(verdicts, {})

    monkeypatch.setattr(confirm._Confirmer, "_map", lambda self, batches: judged(batches))
    settings = ConfirmSettings("catalog.sqlite", "/", 1, DuplicateSettings())
    confirmer = confirm._Confirmer(sqlite3.connect(":memory:"), [], settings, workers=2)
    assert [i for b in confirm._batches(checks) for i in b] != list(range(len(checks)))
    verdicts = confirmer.run(checks, on_judged=lambda count: None)
    assert verdicts == [(("near", c.a + c.b / 100), True) for c in checks]


def test_crop_alignments_are_tried_only_where_more_than_one_capture_time_shows():
    """_mixed_times names the nodes around which a residual can decide something: the ones
    confirmed with photos of more than one capture time (an untimed copy counting at the time
    it is placed)."""
    from types import SimpleNamespace

    from hygiene.duplicates.grouping import Edge

    burst_1, burst_2, other_day = (
        "2021-05-01T10:00:00",
        "2021-05-01T10:00:01",
        "2021-06-01T09:00:00",
    )
    times = [burst_1, None, None, burst_2, other_day, None]
    nodes = [SimpleNamespace(facts=SimpleNamespace(taken_at=t)) for t in times]
    edges: dict[int, dict[int, Edge]] = {i: {} for i in range(len(nodes))}

    def link(a: int, b: int, residual: float) -> None:
        edges[a][b] = edges[b][a] = Edge("near", 4, residual)

    link(0, 1, 0.01)  # an untimed copy of frame 0 that also matches the next frame, 3
    link(1, 3, 0.05)
    link(0, 2, 0.02)  # another untimed copy of frame 0 only
    link(4, 5, 0.01)  # a photo of another day and its untimed copy
    mixed = confirm._mixed_times(nodes, edges, burst_seconds=10.0)
    # 1 sits between two frames (placed at frame 0's time, next to frame 3); 3 is confirmed
    # with a copy placed at another time. 0, 2, 4 and 5 each see one capture time.
    assert mixed == {1, 3}


def test_photos_taken_apart_are_compared_only_when_they_may_be_a_burst(monkeypatch):
    """Two capture times make two exposures: never duplicates, and similar shots only within
    similar_max_seconds. Further apart, nothing the thumbnails show can change the verdict, so
    they are not compared at all."""
    import io
    from dataclasses import replace

    from PIL import Image

    from tests.test_keeper import _node, metrics

    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (120, 80, 40)).save(buffer, "WEBP")

    def taken(seq: int, when: str):
        node = _node(seq, metrics())
        return replace(node, rows=[replace(node.rows[0], facts=replace(node.facts, taken_at=when))])

    compared = []
    real_compare = confirm.compare
    monkeypatch.setattr(
        confirm, "compare", lambda *a, **k: compared.append(a) or real_compare(*a, **k)
    )
    judge = confirm._PairJudge(
        ConfirmSettings("", "/", 1, DuplicateSettings()),
        thumbnail=lambda sha: buffer.getvalue(),
        known_pixel_hash=lambda sha: None,
        record_pixel_hash=lambda sha, digest: None,
    )
    first = taken(0, "2021-05-01T10:00:00")
    next_day, seconds_later = taken(1, "2021-05-02T10:00:00"), taken(2, "2021-05-01T10:00:04")
    hashed_close = PairCheck(0, 1, 0, False, 8, 12)
    assert judge.verdict(first, next_day, hashed_close) == ("none", confirm._UNCOMPARED)
    assert not compared
    verdict = judge.verdict(first, seconds_later, PairCheck(0, 2, 0, False, 8, 12))
    assert verdict[0] == "similar" and len(compared) == 1


def test_a_run_tables_quality_stays_in_columns_and_decides_as_before(corpus_run, tmp_path):  # noqa: F811
    _, out = corpus_run
    root = Path(json.loads((out / "run.json").read_text())["root"])
    conn = _fresh_catalog(root.parent / "catalog.sqlite", tmp_path / "catalog.sqlite", root)
    table = catalog.read_run_table(conn, "again")
    rows = table.images()
    assert rows and all(row.facts.quality is None for row in rows)
    columns, at = table.quality_of(rows)
    for row, position in zip(rows, at.tolist(), strict=True):
        stored = conn.execute(
            "SELECT luma_p50, blur, sharpness_min_dir FROM contents WHERE sha256 = ?",
            (row.sha256,),
        ).fetchone()
        names = ("luma_p50", "blur", "sharpness_min_dir")
        assert tuple(columns[name][position] for name in names) == stored
    with pytest.raises(KeyError):
        table.quality_of([replace(rows[0], seq=10**9)])

    # the same groups, keepers and reasons as from rows that carry their measurements themselves
    carrying = [
        replace(
            row,
            facts=replace(
                row.facts,
                quality=QualityMetrics(*(float(columns[n][p]) for n in QUALITY_FIELDS)),
            ),
        )
        for row, p in zip(rows, at.tolist(), strict=True)
    ]
    settings = (root, conn, DuplicateSettings(), QualityThresholds())
    from_columns = find_duplicates(
        rows, *settings, max_pixels=200_000_000, quality_of=table.quality_of
    )
    from_facts = find_duplicates(carrying, *settings, max_pixels=200_000_000)
    assert _described(from_columns) == _described(from_facts)
    reasons = " ".join(m.reason for g in from_columns.groups for m in g.members)
    assert "sharper" in reasons or "exposed" in reasons  # the measurements took part

    unprotected = lambda path: False  # noqa: E731
    nodes = _nodes(rows, root, KEEPER_RULES, QualityThresholds(), unprotected, table.quality_of)
    by_path = {row.rel_path: row.facts.quality for row in carrying}
    assert all(node.quality == by_path[node.rows[0].rel_path] for node in nodes)


def _with_box(node, box: tuple[float, float, float, float]):
    facts = replace(
        node.facts,
        content_left=box[0],
        content_top=box[1],
        content_right=box[2],
        content_bottom=box[3],
    )
    return replace(node, rows=[replace(node.rows[0], facts=facts)])


def test_copies_with_one_thumbnail_share_a_frame_and_a_comparison(monkeypatch):
    """A photo and its copy with the metadata stripped store the same thumbnail bytes: one
    decode, one frame, and each is compared with a third photo once. Another content box over
    the same bytes is another frame; a node without a thumbnail is looked up once."""
    import io

    from hygiene.demo.samples import real_photos
    from tests.test_keeper import _node, metrics

    def webp(name: str) -> bytes:
        buffer = io.BytesIO()
        real_photos()[name].convert("RGB").resize((160, 120)).save(buffer, "WEBP", quality=80)
        return buffer.getvalue()

    photo, other = webp("astronaut.png"), webp("coffee.png")
    nodes = [_node(seq, metrics()) for seq in range(5)]
    nodes[3] = _with_box(nodes[3], (0.1, 0.0, 1.0, 1.0))
    stored = {0: photo, 1: photo, 2: other, 3: photo, 4: None}
    loads, decodes, compared = [], [], []

    def load(sha: str) -> bytes | None:
        loads.append(sha)
        return stored[int(sha, 16)]

    real_decode, real_compare = confirm.decode_thumbnail, confirm.compare

    def counted_decode(encoded: bytes):
        decodes.append(1)
        return real_decode(encoded)

    def counted_compare(*args, **kwargs):
        compared.append(1)
        return real_compare(*args, **kwargs)

    monkeypatch.setattr(confirm, "decode_thumbnail", counted_decode)
    monkeypatch.setattr(confirm, "compare", counted_compare)
    thumbnails = confirm.Thumbnails(load)
    first, copy, third, boxed = (thumbnails.get(nodes[i]) for i in range(4))
    assert first is copy and boxed is not first and third is not first
    assert len(decodes) == 3
    assert boxed.rgb.shape[1] == round(0.9 * first.rgb.shape[1])
    assert thumbnails.get(nodes[4]) is None and thumbnails.get(nodes[4]) is None
    assert loads.count(nodes[4].rows[0].sha256) == 1

    limits = confirm.match_limits(DuplicateSettings())
    once = thumbnails.compare(first, third, 0, crop=True, limits=limits)
    again = thumbnails.compare(copy, third, 0, crop=True, limits=limits)
    direct = real_compare(first, third, 0, b_is_crop_of_a=True, unless_far_from=limits)
    assert once == again == direct
    assert len(compared) == 1
    thumbnails.compare(third, first, 0, crop=True, limits=limits)  # the other way round
    thumbnails.compare(first, third, 1, crop=False, limits=limits)  # another alignment
    assert len(compared) == 3


def test_a_pair_with_identical_pixels_is_not_tried_as_a_crop(monkeypatch):
    """A crop is at best a near duplicate, which never replaces a pixel-identical verdict: the
    last round leaves such pairs out and tries the crops of near pairs only."""
    from types import SimpleNamespace

    nodes = [SimpleNamespace(facts=SimpleNamespace(taken_at=None)) for _ in range(3)]
    # (a, b, transform, crop, distance, gated)
    proposals = [(0, 1, 0, False, 0, True), (0, 2, 0, False, 6, True)]
    proposals += [(0, 1, 0, True, 4, True), (0, 2, 0, True, 4, True)]
    given = {0: ("pixel", 0.0), 1: ("near", 0.03), 2: ("near", 0.02), 3: ("near", 0.01)}
    rounds: list[list[int]] = []

    def judge_round(conn, nodes, proposals, indices, *rest) -> None:
        rounds.append(list(indices))
        found = rest[-1]
        found.update((index, given[index]) for index in indices)

    monkeypatch.setattr(confirm, "_judge_round", judge_round)
    monkeypatch.setattr(confirm, "_mixed_times", lambda nodes, *rest: set(range(len(nodes))))
    settings = ConfirmSettings("", "/", 1, DuplicateSettings())
    edges, _ = confirm.confirmed_edges(
        None, nodes, proposals, settings, workers=1, on_pairs=lambda done, total: None
    )
    assert rounds == [[0, 1], [], [], [3]]
    assert edges[0][1].kind == "pixel"
    assert edges[0][2].kind == "near" and edges[0][2].residual == 0.01
