"""The embedded search index on its own: what a sync appends, drops, revives and cuts off after a
crash, when it compacts, and that its HNSW graph finds what the exact search finds."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from hygiene.config import SearchSettings
from hygiene.search import index as search_index
from hygiene.search.index import VectorIndex, sync, synced_stamp

EXACT = SearchSettings(ann_min_photos=1_000_000)
GRAPH = SearchSettings(ann_min_photos=0, ann_expansion=128)


def sha(i: int) -> str:
    return hashlib.sha256(str(i).encode()).hexdigest()


def clustered(count: int, dims: int = 64, seed: int = 0) -> np.ndarray:
    """Unit vectors in tight groups of about 10, as CLIP places photos of one scene."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((count // 10 + 1, dims))
    vectors = centres[rng.integers(0, len(centres), count)] + 0.3 * rng.standard_normal(
        (count, dims)
    )
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


class Store:
    """What the catalog would hand a sync: the vectors of the contents it has."""

    def __init__(self, vectors: np.ndarray) -> None:
        self.by_sha = {sha(i): vector.astype(np.float16) for i, vector in enumerate(vectors)}
        self.asked: list[int] = []

    def fetch(self, shas: list[str]) -> dict[str, np.ndarray]:
        self.asked.append(len(shas))
        return {s: self.by_sha[s] for s in shas if s in self.by_sha}


def do_sync(folder, store, members, stamp, settings=EXACT, model="m1"):
    return sync(
        folder,
        model_id=model,
        root="/archive",
        stamp=stamp,
        wanted=[sha(i) for i in members],
        fetch=store.fetch,
        settings=settings,
    )


def test_sync_appends_new_photos_and_marks_the_departed_dead(tmp_path):
    vectors = clustered(300)
    store = Store(vectors)
    folder = tmp_path / "index"
    first = do_sync(folder, store, range(200), "run-1")
    assert (first.added, first.dropped, first.live, first.approximate) == (200, 0, 200, False)
    assert synced_stamp(folder) == "run-1"
    before = (folder / "vectors.f16").read_bytes()

    # 20 photos leave, 100 arrive, one is asked for that the catalog has no vector of
    second = do_sync(folder, store, [*range(20, 300), 999], "run-2")
    assert (second.added, second.dropped, second.live) == (100, 20, 280)
    assert (folder / "vectors.f16").read_bytes()[: len(before)] == before  # appended, not redone
    index = VectorIndex(folder, EXACT)
    assert set(index.row_of) == {sha(i) for i in range(20, 300)}
    row = index.row_of[sha(250)]
    assert np.allclose(index.vector(row), vectors[250], atol=2e-3)
    scores = index.scores(vectors[250], np.arange(len(index.live)))
    assert int(np.argmax(np.where(index.live, scores, -2))) == row
    nearest = index.nearest(vectors[10], 50)  # an exact scan; photo 10 has left
    assert len(nearest) == 50 and index.live[nearest].all()
    live_scores = np.where(index.live, index.scores(vectors[10], np.arange(len(index.live))), -2)
    assert set(nearest.tolist()) == set(np.argsort(-live_scores)[:50].tolist())

    # a departed photo that returns is revived in place, not appended again
    third = do_sync(folder, store, range(0, 300), "run-3")
    assert (third.added, third.dropped, third.live) == (0, 0, 300)
    assert VectorIndex(folder, EXACT).row_of[sha(5)] == 5


def test_rows_a_crashed_sync_appended_are_cut_off(tmp_path):
    store = Store(clustered(50))
    folder = tmp_path / "index"
    do_sync(folder, store, range(30), "run-1")
    with (folder / "vectors.f16").open("ab") as handle:  # a sync that died before meta.json
        handle.write(b"\x01" * 64 * 2 * 5)
    with (folder / "keys.bin").open("ab") as handle:
        handle.write(b"\x02" * 32 * 3)
    report = do_sync(folder, store, range(40), "run-2")
    assert (report.added, report.live) == (10, 40)
    index = VectorIndex(folder, EXACT)
    assert len(index.vectors) == 40
    assert index.row_of[sha(35)] == 35
    assert (folder / "vectors.f16").stat().st_size == 40 * 64 * 2


def test_another_model_starts_the_index_again(tmp_path):
    store = Store(clustered(20))
    folder = tmp_path / "index"
    do_sync(folder, store, range(20), "run-1")
    report = do_sync(folder, store, range(10), "run-2", model="m2")
    assert (report.added, report.dropped, report.live) == (10, 0, 10)
    assert VectorIndex(folder, EXACT).model_id == "m2"


def test_dead_rows_are_compacted_away_once_they_are_a_quarter_of_the_live(tmp_path, monkeypatch):
    monkeypatch.setattr(search_index, "_COMPACT_MIN_DEAD", 10)
    vectors = clustered(100)
    store = Store(vectors)
    folder = tmp_path / "index"
    do_sync(folder, store, range(100), "run-1")
    report = do_sync(folder, store, range(5, 100), "run-2")  # 5 dead: too few to bother
    assert len(VectorIndex(folder, EXACT).vectors) == 100
    report = do_sync(folder, store, range(60, 100), "run-3")
    assert (report.dropped, report.live) == (55, 40)
    index = VectorIndex(folder, EXACT)
    assert len(index.vectors) == 40 and index.live.all()
    assert sorted(index.row_of.values()) == list(range(40))
    assert np.allclose(index.vector(index.row_of[sha(70)]), vectors[70], atol=2e-3)


def test_the_graph_finds_what_the_exact_search_finds_and_follows_each_sync(tmp_path):
    vectors = clustered(3_000)
    store = Store(vectors)
    folder = tmp_path / "index"
    report = do_sync(folder, store, range(2_000), "run-1", settings=GRAPH)
    assert report.approximate and (folder / "hnsw.usearch").is_file()
    queries = clustered(3_000, seed=0)[2_000:2_100]  # same scenes, not in the index
    queries = queries + 0.05 * np.random.default_rng(1).standard_normal(queries.shape)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)

    def recall(index: VectorIndex) -> float:
        found = 0
        for query in queries:
            exact = np.where(index.live, index.scores(query, np.arange(len(index.live))), -2)
            truth = set(np.argsort(-exact)[:10].tolist())
            found += len(truth & set(index.nearest(query, 10).tolist()))
        return found / (10 * len(queries))

    index = VectorIndex(folder, GRAPH)
    assert index.approximate
    assert recall(index) >= 0.95

    # drop 500, add the last 1,000: the graph never answers with a departed photo
    report = do_sync(folder, store, range(500, 3_000), "run-2", settings=GRAPH)
    assert (report.added, report.dropped, report.live) == (1_000, 500, 2_500)
    index = VectorIndex(folder, GRAPH)
    departed = set(range(500))  # their rows: the first sync appended photo i at row i
    for query in queries:
        assert not departed & set(index.nearest(query, 20).tolist())
    assert recall(index) >= 0.95
    newcomer = index.row_of[sha(2_900)]
    assert index.nearest(vectors[2_900], 1).tolist() == [newcomer]

    # under the size where a graph pays, the graph goes
    report = do_sync(folder, store, range(3_000), "run-3", settings=EXACT)
    assert not report.approximate and not (folder / "hnsw.usearch").exists()
    assert not VectorIndex(folder, EXACT).approximate


def test_an_index_written_by_another_format_is_refused_with_a_reason(tmp_path):
    store = Store(clustered(10))
    folder = tmp_path / "index"
    do_sync(folder, store, range(10), "run-1")
    (folder / "meta.json").write_text('{"format": 99}')
    with pytest.raises(search_index.IndexUnusable, match="another hygiene"):
        VectorIndex(folder, EXACT)
    assert synced_stamp(folder) is None  # so the next search syncs it afresh
    assert do_sync(folder, store, range(10), "run-2").added == 10


def test_a_damaged_graph_falls_back_to_exact_and_the_next_sync_rebuilds_it(tmp_path):
    vectors = clustered(500)
    store = Store(vectors)
    folder = tmp_path / "index"
    do_sync(folder, store, range(500), "run-1", settings=GRAPH)
    (folder / "hnsw.usearch").write_bytes(b"not a graph" * 10)
    index = VectorIndex(folder, GRAPH)
    assert not index.approximate  # exact, and still right
    assert index.nearest(vectors[42], 1).tolist() == [42]
    report = do_sync(folder, store, range(500), "run-2", settings=GRAPH)
    assert report.approximate and VectorIndex(folder, GRAPH).approximate
    assert VectorIndex(folder, GRAPH).nearest(vectors[42], 1).tolist() == [42]


def test_a_compaction_cut_short_makes_the_next_sync_start_over(tmp_path):
    vectors = clustered(60)
    store = Store(vectors)
    folder = tmp_path / "index"
    do_sync(folder, store, range(60), "run-1")
    # as if a compaction had replaced keys.bin and died before meta.json said so
    (folder / "keys.bin").write_bytes((folder / "keys.bin").read_bytes()[: 32 * 20])
    with pytest.raises(search_index.IndexUnusable, match="incomplete"):
        VectorIndex(folder, EXACT)
    report = do_sync(folder, store, range(50), "run-2")
    assert (report.added, report.live) == (50, 50)
    index = VectorIndex(folder, EXACT)
    assert index.nearest(vectors[7], 1).tolist() == [index.row_of[sha(7)]]
