"""`hygiene search` end to end, with the micro CLIP the tests train and load from disk: text,
image and "more like this" queries, the similarity floor, output formats and one-line errors."""

from __future__ import annotations

import itertools
import json
import re

import numpy as np
import pytest
from PIL import Image

from hygiene.demo import samples
from hygiene.search.rank import default_floor
from tests import micro_clip
from tests.conftest import run_hygiene
from tests.test_categorize import CONFIG


@pytest.fixture(scope="module")
def micro_model(tmp_path_factory):
    return micro_clip.train(tmp_path_factory.mktemp("model") / "micro")


@pytest.fixture(scope="module")
def searchable(tmp_path_factory, micro_model):
    """An archive scanned with the micro model, and the same archive scanned with --no-clip."""
    base = tmp_path_factory.mktemp("search")
    root = base / "archive"
    truth = micro_clip.write_archive(root, per_class=6, seed=11)
    config = base / "clip.toml"
    config.write_text(CONFIG)
    for out, extra in (("run", ["--model-path", micro_model]), ("plain", ["--no-clip"])):
        result = run_hygiene(
            "scan",
            root,
            "--out",
            base / out,
            "--catalog",
            base / "c.sqlite",
            "--quiet",
            "--config",
            config,
            "--workers",
            "2",
            *extra,
            timeout=600,
        )
        assert result.returncode == 0, result.stderr
    return base, root, truth, config


def search(base, *args, model=None):
    extra = ["--model-path", str(model)] if model else []
    result = run_hygiene("search", *args, "--run", base / "run", *extra, timeout=300)
    return result


def results(result) -> list[dict]:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_a_phrase_finds_its_class_and_nothing_else(searchable, micro_model):
    base, _, truth, _ = searchable
    for kind, prompts in micro_clip.CLASSES.items():
        found = results(search(base, prompts[0], "--format", "json", model=micro_model))
        assert found, kind
        assert {truth[hit["path"]] for hit in found} == {kind}, (kind, found)
        assert [hit["rank"] for hit in found] == list(range(1, len(found) + 1))
        scores = [hit["score"] for hit in found]
        assert scores == sorted(scores, reverse=True)
        assert {"path", "score", "category", "taken_at", "thumbnail", "copies"} <= set(found[0])


def test_the_floor_cuts_what_does_not_match(searchable, micro_model):
    base, _, truth, _ = searchable
    phrase = micro_clip.CLASSES["red"][0]
    default = results(search(base, phrase, "--format", "json", model=micro_model))
    everything = results(
        search(
            base, phrase, "--format", "json", "--threshold", "0", "--top", "100", model=micro_model
        )
    )
    assert len(everything) > len(default)
    assert {truth[hit["path"]] for hit in everything} == set(micro_clip.CLASSES)
    assert everything[: len(default)] == default  # the same ranking, only cut
    strict = results(
        search(base, phrase, "--format", "json", "--threshold", "0.999", model=micro_model)
    )
    assert strict == []
    table = search(base, phrase, "--threshold", "0.999", model=micro_model)
    assert table.returncode == 0 and "more under the similarity floor 0.999" in table.stdout


def test_an_image_finds_its_copies_and_look_alikes_first(searchable, micro_model, tmp_path):
    base, root, truth, _ = searchable
    # a re-encoded copy of an archive photo (not in the archive itself), and a new drawing
    copy = tmp_path / "copy.jpg"
    copy.write_bytes(samples.jpeg_bytes(Image.open(root / "blue_3.png").convert("RGB"), 80))
    found = results(search(base, "--image", copy, "--format", "json", model=micro_model))
    assert found and {truth[hit["path"]] for hit in found} == {"blue"}
    drawing = tmp_path / "new.png"
    drawing.write_bytes(samples.encoded(micro_clip.draw("text", np.random.default_rng(99)), "PNG"))
    found = results(search(base, "--image", drawing, "--format", "json", model=micro_model))
    assert found and {truth[hit["path"]] for hit in found} == {"text"}


def test_more_like_a_photo_leaves_the_photo_out(searchable):
    base, _, truth, _ = searchable
    found = results(search(base, "--like", "red_2.png", "--format", "json"))  # no model needed
    assert found and "red_2.png" not in {hit["path"] for hit in found}
    assert {truth[hit["path"]] for hit in found} == {"red"}


def test_csv_output_and_category_filter(searchable, micro_model):
    base, _, truth, _ = searchable
    result = search(
        base,
        "something",
        "--format",
        "csv",
        "--threshold",
        "0",
        "--category",
        "TEXT",
        model=micro_model,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "rank,path,score,category,taken_at,copies,thumbnail"
    assert lines[1:] and all(truth[line.split(",")[1]] == "text" for line in lines[1:])


def test_bad_input_gets_one_line_errors(searchable, micro_model, tmp_path):
    base = searchable[0]
    other_model = micro_clip.train(tmp_path / "other", steps=5, seed=3)
    not_an_image = tmp_path / "notes.jpg"
    not_an_image.write_text("hello")
    cases = {
        "empty query": (search(base, "   ", model=micro_model), "empty query"),
        "two queries": (search(base, "red", "--like", "red_1.png"), "exactly one of"),
        "missing image": (search(base, "--image", tmp_path / "nope.jpg"), "cannot read"),
        "not an image": (search(base, "--image", not_an_image, model=micro_model), "not an image"),
        "unknown photo": (search(base, "--like", "nowhere.png"), "not a searchable photo"),
        "model mismatch": (search(base, "red", model=other_model), "were made by"),
        "no model given": (search(base, "red"), "pass --model-path"),
        "no embeddings": (
            run_hygiene("search", "--like", "red_1.png", "--run", base / "plain"),
            "no CLIP embeddings",
        ),
        "not a run": (run_hygiene("search", "--like", "x", "--run", tmp_path), "not a hygiene run"),
        "serve, no embeddings": (
            run_hygiene("serve", base / "plain", timeout=60),
            "no CLIP embeddings",
        ),
        "serve, not a run": (run_hygiene("serve", tmp_path, timeout=60), "not a hygiene run"),
    }
    for name, (result, expected) in cases.items():
        assert result.returncode != 0, name
        assert expected in result.stderr, (name, result.stderr)
        assert "Traceback" not in result.stderr, name
        assert len(result.stderr.strip().splitlines()) == 1, (name, result.stderr)


def test_default_floor_on_a_large_library_keeps_the_tail_that_stands_out():
    rng = np.random.default_rng(0)
    bulk = rng.normal(0.17, 0.02, 20_000)  # how a caption scores against unrelated photos
    matches = rng.normal(0.31, 0.015, 40)
    scores = np.concatenate([bulk, matches])
    sample = scores[rng.choice(len(scores), 4096, replace=False)]  # what a library samples
    floor = default_floor(sample, -np.sort(-scores)[:50])
    assert floor is not None
    assert (matches >= floor).mean() > 0.95
    assert (bulk >= floor).mean() < 0.005


def test_a_run_without_its_parquet_table_searches_the_same_from_its_csv(searchable, tmp_path):
    import shutil

    base = searchable[0]
    copy = tmp_path / "csv-only"
    shutil.copytree(base / "run", copy)
    (copy / "images.parquet").unlink()
    from_csv = run_hygiene("search", "--like", "blue_1.png", "--run", copy, "--format", "json")
    from_parquet = search(base, "--like", "blue_1.png", "--format", "json")

    def comparable(found: list[dict]) -> list[dict]:  # each names its own run's thumbnails
        return [hit | {"thumbnail": hit["thumbnail"].rsplit("/", 1)[-1]} for hit in found]

    assert comparable(results(from_csv)) == comparable(results(from_parquet)) != []


def test_without_run_the_latest_run_of_the_root_with_embeddings_is_searched(searchable, tmp_path):
    base, root, truth, _ = searchable
    config = tmp_path / "reports.toml"
    config.write_text(f'[output]\nreports_dir = "{base}"\n')
    # "plain" (scanned with --no-clip) is the newer run of this root; "run" has the embeddings
    found = run_hygiene(
        "search", "--like", "red_1.png", "--root", root, "--config", config, "--format", "json"
    )
    assert {truth[hit["path"]] for hit in results(found)} == {"red"}
    elsewhere = run_hygiene("search", "--like", "red_1.png", "--root", tmp_path, "--config", config)
    assert elsewhere.returncode != 0 and f"no run of {tmp_path}" in elsewhere.stderr


def test_the_graph_index_answers_as_the_exact_search_does(searchable, micro_model, tmp_path):
    base = searchable[0]
    graph = tmp_path / "graph.toml"
    graph.write_text("[search]\nann_min_photos = 0\nann_expansion = 64\n")
    queries = (
        [micro_clip.CLASSES["text"][0]],
        ["--like", "blue_1.png"],
        ["--like", "blue_1.png", "--threshold", "0", "--top", "50"],
        [micro_clip.CLASSES["red"][0], "--category", "red", "--threshold", "0"],
    )
    for query in queries:
        exact = results(search(base, *query, "--format", "json", model=micro_model))
        approximate = search(base, *query, "--format", "json", "--config", graph, model=micro_model)
        assert results(approximate) == exact != [], query
        assert list((base / "c.sqlite-search").glob("*/hnsw.usearch")), query
    assert results(search(base, "--like", "red_1.png", "--format", "json"))
    # exact again: the graph went with the setting
    assert not list((base / "c.sqlite-search").glob("*/hnsw.usearch"))


def test_each_scan_brings_the_search_index_up_to_date(micro_model, tmp_path):
    root = tmp_path / "archive"
    micro_clip.write_archive(root, per_class=3, seed=5)
    config = tmp_path / "clip.toml"
    config.write_text(CONFIG)

    def scan() -> str:
        result = run_hygiene(
            "scan", root, "--catalog", tmp_path / "c.sqlite", "--config", config,
            "--model-path", micro_model, "--out", tmp_path / "run", "--workers", "1",
            timeout=600,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        return " ".join(result.stdout.split())

    said = r"search index: (\d+) photos, exact: (\d+) added, (\d+) dropped"
    first = re.search(said, scan())
    assert first is not None
    photos = int(first[1])
    assert photos >= 6 and (int(first[2]), int(first[3])) == (photos, 0)
    for red in root.glob("red_*.png"):  # the red photos leave, none arrives
        red.unlink()
    second = re.search(said, scan())
    assert second is not None
    now, added, dropped = int(second[1]), int(second[2]), int(second[3])
    assert dropped >= 1 and added == 0 and now == photos - dropped
    gone = run_hygiene("search", "--like", "red_1.png", "--run", tmp_path / "run")
    assert gone.returncode != 0 and "not a searchable photo" in gone.stderr
    everything = run_hygiene(
        "search", "--like", "blue_1.png", "--run", tmp_path / "run", "--format", "json",
        "--threshold", "0", "--top", "100",
    )  # fmt: skip
    found = [hit["path"] for hit in results(everything)]
    assert len(found) == now - 1 and not [path for path in found if path.startswith("red")]


@pytest.fixture(scope="module")
def postgres(tmp_path_factory):
    """A real PostgreSQL with pgvector in a temporary folder (pgserver ships both)."""
    pgserver = pytest.importorskip("pgserver", reason="pgserver (PostgreSQL + pgvector) missing")
    server = pgserver.get_server(tmp_path_factory.mktemp("pg"), cleanup_mode="stop")
    yield server.get_uri()
    server.cleanup()


def test_the_postgres_store_gives_the_embedded_index_results(
    searchable, micro_model, postgres, tmp_path
):
    base = searchable[0]
    pushed = run_hygiene("store", "push", "--run", base / "run", "--store", postgres)
    assert pushed.returncode == 0, pushed.stderr
    said = " ".join(pushed.stdout.split())
    photos = int(re.search(r"pushed (\d+) photos", said)[1])
    assert photos >= 10 and f"{photos} added, 0 removed" in said, said
    again = run_hygiene("store", "push", "--run", base / "run", "--store", postgres)
    assert "0 added, 0 removed" in " ".join(again.stdout.split()), again.stdout

    probe = tmp_path / "probe.png"
    Image.open(base / "archive" / "blue_2.png").convert("RGB").resize((40, 40)).save(probe)
    queries = (
        [micro_clip.CLASSES["text"][0]],
        [micro_clip.CLASSES["red"][1], "--threshold", "0", "--top", "8"],
        ["--like", "blue_1.png"],
        ["--image", str(probe)],
        [micro_clip.CLASSES["blue"][0], "--category", "blue", "--threshold", "0"],
    )
    for query in queries:
        embedded = results(search(base, *query, "--format", "json", model=micro_model))
        stored = results(
            search(base, *query, "--format", "json", "--store", postgres, model=micro_model)
        )
        # The store computes in float32, the index from float16 vectors: the same hits with the
        # same scores to 2e-4, in the same order except among hits that close (a near tie may
        # swap, and with it the two ranks).
        assert {hit["path"] for hit in stored} == {hit["path"] for hit in embedded} != set(), query
        ours_by_path = {hit["path"]: hit for hit in embedded}
        for theirs in stored:
            ours = ours_by_path[theirs["path"]]
            assert abs(ours["score"] - theirs["score"]) < 2e-4, query
            assert {**ours, "score": 0, "rank": 0} == {**theirs, "score": 0, "rank": 0}
        in_store_order = [ours_by_path[hit["path"]]["score"] for hit in stored]
        assert all(b <= a + 4e-4 for a, b in itertools.pairwise(in_store_order)), query


def test_store_errors_are_one_line(searchable, postgres, tmp_path):
    base = searchable[0]
    cases = {
        "unreachable": (
            run_hygiene("search", "red", "--run", base / "run", "--store",
                        "postgresql://nobody@127.0.0.1:1/none"),
            "cannot reach the store",
        ),
        "nothing pushed": (
            run_hygiene("search", "red", "--root", tmp_path, "--store", postgres),
            "holds no photos",
        ),
        "no store named": (run_hygiene("store", "push", "--run", base / "run"), "no store"),
        "not a URL": (
            run_hygiene("store", "push", "--run", base / "run", "--store", "mysql://x"),
            "cannot reach the store",
        ),
    }  # fmt: skip
    for name, (result, expected) in cases.items():
        assert result.returncode != 0, name
        assert expected in result.stderr, (name, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1, (name, result.stderr)
