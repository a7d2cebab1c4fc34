"""CLIP categorization end to end, with a micro CLIP trained by the tests and loaded from disk
through the same open_clip path as real weights."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tests import micro_clip
from tests.conftest import run_hygiene

CONFIG = "\n".join(
    [
        "[classify]",
        "neutral_prompts = []",
        "uncertain_margin = 0.05",
        *(
            f"[categories.{name}]\nprompts = {json.dumps(prompts)}"
            for name, prompts in micro_clip.CLASSES.items()
        ),
    ]
)


@pytest.fixture(scope="module")
def micro_model(tmp_path_factory):
    return micro_clip.train(tmp_path_factory.mktemp("model") / "micro")


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    root = tmp_path_factory.mktemp("clip") / "archive"
    truth = micro_clip.write_archive(root, per_class=5, seed=7)
    (root / "red_0 copy.png").write_bytes((root / "red_0.png").read_bytes())
    truth["red_0 copy.png"] = "red"
    (root / "notes.txt").write_text("not an image")
    return root, truth


def scan_with(tmp_path, root, model_folder, config_text=CONFIG, catalog="c.sqlite", out="run"):
    config = tmp_path / "clip.toml"
    config.write_text(config_text)
    result = run_hygiene(
        "scan",
        root,
        "--out",
        tmp_path / out,
        "--catalog",
        tmp_path / catalog,
        "--quiet",
        "--config",
        config,
        "--model-path",
        model_folder,
        "--workers",
        "2",
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    record = json.loads((tmp_path / out / "run.json").read_text())
    return pd.read_csv(tmp_path / out / "images.csv", keep_default_na=False), record


def test_images_are_filed_into_their_categories(tmp_path, archive, micro_model):
    root, truth = archive
    images, record = scan_with(tmp_path, root, micro_model)
    labelled = images[images["status"] == "ok"].set_index("path")
    right = sum(labelled.loc[path, "category"] == kind for path, kind in truth.items())
    assert right / len(truth) >= 0.9
    assert (labelled["confidence"].astype(float) > 0).all()
    assert images.set_index("path").loc["notes.txt", "category"] == ""
    assert not record["categorization"]["skipped"]
    # one embedding per duplicate group (its keeper's); the other members share its category
    representatives = labelled[labelled["keeper"] != "false"]
    assert record["categorization"]["embedded"] == len(representatives) < len(truth)
    assert labelled.loc["red_0 copy.png", "dup_group"] == labelled.loc["red_0.png", "dup_group"]
    for _, group in labelled[labelled["dup_group"] != ""].groupby("dup_group"):
        assert group["category"].nunique() == 1

    categories = pd.read_csv(tmp_path / "run" / "categories.csv")
    assert list(categories.columns[-3:]) == list(micro_clip.CLASSES)
    assert np.allclose(categories[list(micro_clip.CLASSES)].sum(axis=1), 1.0, atol=0.01)
    embeddings = pd.read_parquet(tmp_path / "run" / "embeddings.parquet")
    assert len(embeddings) == len(truth) and len(embeddings["vector"][0]) == 32


def test_rerun_and_new_prompts_reuse_cached_embeddings(tmp_path, archive, micro_model):
    root, _ = archive
    images_one, first = scan_with(tmp_path, root, micro_model, out="one")
    images_two, again = scan_with(tmp_path, root, micro_model, out="two")
    assert first["categorization"]["embedded"] > 0 and first["categorization"]["model_loaded"]
    assert again["categorization"]["embedded"] == 0
    # everything it needed was in the catalog: the weights were not even loaded, and the
    # labels and probabilities are the first run's
    assert not again["categorization"]["model_loaded"]
    labels = ["path", "category", "confidence", "margin"]
    assert images_two[labels].equals(images_one[labels])
    reworded = CONFIG.replace('"a red square"', '"a square that is red"')
    images, third = scan_with(tmp_path, root, micro_model, reworded, out="three")
    assert third["categorization"]["embedded"] == 0  # re-scored, not re-embedded
    assert third["categorization"]["model_loaded"]  # to embed the new prompt
    assert (images[images["status"] == "ok"]["category"] != "").all()


def test_missing_weights_skip_categorization_with_the_reason_and_the_fix(tmp_path, archive):
    root, _ = archive
    result = run_hygiene(
        "scan",
        root,
        "--out",
        tmp_path / "run",
        "--catalog",
        tmp_path / "c.sqlite",
        "--model",
        "ViT-B-32:laion2b_s34b_b79k",
        env_extra={"HF_HOME": str(tmp_path / "empty-hf-cache")},
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert record["categorization"]["skipped"]
    assert "--allow-download" in record["categorization"]["status"]
    assert "--allow-download" in result.stdout
    assert "hygiene models pull ViT-B-32:laion2b_s34b_b79k" in " ".join(result.stdout.split())
    images = pd.read_csv(tmp_path / "run" / "images.csv", keep_default_na=False)
    assert (images["category"] == "").all() and (images["status"] == "ok").sum() > 0


class ColourModel:
    """A stand-in with the ClipModel interface whose embedding is an image's mean colour."""

    model_id = "colour-test"
    logit_scale = 50.0
    device = "cpu"
    input_px = 8

    @staticmethod
    def preprocess(image):
        import torch

        return torch.tensor(np.asarray(image.resize((8, 8)), np.float32).mean(axis=(0, 1)))

    @staticmethod
    def encode_images(batch):
        vectors = batch.numpy() + 1e-3
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    @staticmethod
    def encode_texts(prompts):
        basis = {"red": [1, 0, 0], "green": [0, 1, 0], "blue": [0, 0, 1]}
        return np.array([basis[p] for p in prompts], np.float32)


def test_a_thumbnail_lost_late_never_shifts_labels_onto_other_files(tmp_path, scan):
    from PIL import Image

    from hygiene import catalog
    from hygiene.categorize.classify import Category, CategorySet
    from hygiene.categorize.stage import categorize
    from hygiene.duplicates.stage import DuplicateReport
    from hygiene.pipeline import image_rows

    root = tmp_path / "archive"
    root.mkdir()
    colours = {
        "a.png": (250, 5, 5),
        "b.png": (5, 250, 5),
        "c.png": (5, 5, 250),
        "d.png": (240, 10, 10),
    }
    for name, colour in colours.items():
        Image.new("RGB", (64, 64), colour).save(root / name)
    scan(root, catalog=tmp_path / "catalog.sqlite")
    conn = catalog.open_catalog(tmp_path / "catalog.sqlite")
    catalog.record_run_files(conn, "t", 1, list(enumerate(sorted(colours))))
    rows = image_rows(conn, "t")
    lost = next(r for r in rows if r.rel_path == "b.png")
    conn.execute("DELETE FROM thumbnails WHERE sha256 = ?", (lost.sha256,))
    names = CategorySet(
        tuple(Category(n, (n,)) for n in ("red", "green", "blue")), uncertain_margin=0
    )
    report = categorize(
        conn,
        rows,
        DuplicateReport([], []),
        ColourModel(),
        names,
        batch_size=2,
        workers=2,
        thumbnail_px=256,
    )
    labels = {
        row.rel_path: report.by_seq[row.seq].verdict.category
        for row in rows
        if row.seq in report.by_seq
    }
    assert labels == {"a.png": "red", "c.png": "blue", "d.png": "red"}


def _detailed_jpeg(path, size, seed):
    from PIL import Image

    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (size[1] // 8, size[0] // 8, 3), dtype=np.uint8)
    Image.fromarray(small).resize(size).save(path, quality=90)


def _embedded_input_sizes(conn, root, rows, clip):
    """The size of every image the categorize stage handed to the model's transform, and the
    shapes of the tensors that came out."""
    from hygiene.categorize.classify import Category, CategorySet
    from hygiene.categorize.inputs import Originals
    from hygiene.categorize.stage import categorize
    from hygiene.duplicates import DuplicateReport

    seen, tensors = [], []
    transform = clip.preprocess

    def spy(image):
        seen.append(image.size)
        tensor = transform(image)
        tensors.append(tuple(tensor.shape))
        return tensor

    clip.preprocess = spy
    categorize(
        conn,
        rows,
        DuplicateReport([], []),
        clip,
        CategorySet((Category("a", ("a photo",)), Category("b", ("a page",)))),
        batch_size=4,
        workers=2,
        thumbnail_px=256,
        originals=Originals.of(root, rows, 200_000_000),
    )
    clip.preprocess = transform
    return seen, tensors


def test_a_336_px_model_sees_the_file_at_336_px_and_a_224_px_model_the_thumbnail(
    tmp_path, scan, monkeypatch
):
    import huggingface_hub.constants

    from hygiene import catalog
    from hygiene.categorize import load_model
    from hygiene.pipeline import image_rows

    root = tmp_path / "archive"
    root.mkdir()
    sizes = {"wide.jpg": (1600, 1200), "tall.jpg": (1200, 1600), "pano.jpg": (2400, 600)}
    for i, (name, size) in enumerate(sizes.items()):
        _detailed_jpeg(root / name, size, seed=i)
    scan(root, catalog=tmp_path / "catalog.sqlite")
    conn = catalog.open_catalog(tmp_path / "catalog.sqlite")
    catalog.record_run_files(conn, "t", 1, list(enumerate(sorted(sizes))))
    rows = image_rows(conn, "t")
    # load_model goes offline for the whole process; put it back for the tests after this one
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)

    def untrained(side: int):
        folder = micro_clip.untrained(tmp_path / f"m{side}", image_size=side)
        return load_model("", str(folder), "cpu", allow_download=False)

    wide = untrained(336)
    assert wide.input_px == 336
    seen, tensors = _embedded_input_sizes(conn, root, rows, wide)
    assert len(seen) == 3 and all(min(size) >= 336 for size in seen), seen
    assert all(min(size) < 2 * 336 for size in seen), seen  # reduced in the decoder, not full
    assert set(tensors) == {(3, 336, 336)}

    narrow = untrained(224)
    assert narrow.input_px == 224
    seen, tensors = _embedded_input_sizes(conn, root, rows, narrow)
    assert len(seen) == 3 and all(max(size) <= 256 for size in seen), seen  # the thumbnails
    assert set(tensors) == {(3, 224, 224)}

    # A file that changed since the scan is not the content the catalog hashed: its thumbnail
    # stands in for it.
    _detailed_jpeg(root / "wide.jpg", (1600, 1200), seed=99)
    conn.execute("DELETE FROM embeddings")
    conn.commit()
    seen, _ = _embedded_input_sizes(conn, root, rows, wide)
    assert sorted(max(size) <= 256 for size in seen) == [False, False, True], seen


def test_a_scan_with_a_336_px_model_embeds_every_survivor(tmp_path):
    root = tmp_path / "archive"
    root.mkdir()
    for i in range(3):
        _detailed_jpeg(root / f"photo_{i}.jpg", (1200, 900), seed=i)
    model = micro_clip.untrained(tmp_path / "m336", image_size=336)
    _, record = scan_with(tmp_path, root, model)
    assert record["categorization"]["embedded"] == 3
