"""`hygiene models list` and `hygiene models info`, offline: the table of known models agrees with
open_clip's own architecture configs, and the cache column and the scan's choice read a Hugging
Face cache the test lays out."""

from __future__ import annotations

import pytest

from hygiene.categorize.models import KNOWN_MODELS, cached_weights
from tests.conftest import run_hygiene


def fake_cache(home, repo: str, file_name: str = "open_clip_model.safetensors"):
    folder = home / "hub" / ("models--" + repo.replace("/", "--"))
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / "main").write_text("0123abc")
    snapshot = folder / "snapshots" / "0123abc"
    snapshot.mkdir(parents=True)
    (snapshot / file_name).write_bytes(b"weights")
    return snapshot / file_name


def test_the_table_agrees_with_open_clip():
    torch = pytest.importorskip("torch")
    open_clip = pytest.importorskip("open_clip")
    from open_clip.model import CLIP

    for model in KNOWN_MODELS:
        arch, _, tag = model.spec.partition(":")
        config = open_clip.get_model_config(arch)
        assert open_clip.get_pretrained_cfg(arch, tag)["hf_hub"].rstrip("/") == model.hf_repo
        assert config["embed_dim"] == model.embedding_dims, model.spec
        assert config["vision_cfg"]["image_size"] == model.input_px, model.spec
        with torch.device("meta"):  # counted without allocating the weights
            counted = sum(p.numel() for p in CLIP(**config).parameters())
        assert counted == model.parameters, model.spec


def test_list_says_which_models_are_cached(tmp_path, monkeypatch):
    home = tmp_path / "hf"
    default = KNOWN_MODELS[0]
    weights = fake_cache(home, default.hf_repo)
    monkeypatch.setenv("HF_HOME", str(home))
    assert cached_weights(default) == weights
    assert all(cached_weights(model) is None for model in KNOWN_MODELS[1:])
    listed = run_hygiene("models", "list", env_extra={"HF_HOME": str(home), "COLUMNS": "160"})
    assert listed.returncode == 0, listed.stderr
    rows = {line.split()[0]: line.split() for line in listed.stdout.splitlines() if ":" in line}
    assert rows[default.spec][6:8] == ["yes", "CPU"], rows[default.spec]
    assert rows["ViT-L-14-336:openai"][1:4] == ["1.7", "GB", "336"]
    assert all(rows[model.spec][6] == "no" for model in KNOWN_MODELS[1:])
    assert str(home / "hub") in " ".join(listed.stdout.split())
    assert listed.stderr == ""


def test_info_names_the_model_a_scan_would_use_and_how_to_get_it(tmp_path):
    home = tmp_path / "hf"
    home.mkdir()
    env = {"HF_HOME": str(home), "COLUMNS": "200", "HYGIENE_CONFIG": str(tmp_path / "none")}
    info = run_hygiene("models", "info", "--config", _config(tmp_path, 'device = "cpu"'),
                       env_extra=env)  # fmt: skip
    said = " ".join(info.stdout.split())
    assert info.returncode == 0, info.stderr
    assert "model: ViT-B-32:laion2b_s34b_b79k (the default on CPU)" in said
    assert "not cached" in said and "about 605 MB" in said and "--allow-download" in said
    assert "`hygiene models pull ViT-B-32:laion2b_s34b_b79k`" in said
    assert "input: 224 px (from the scan's 256-px thumbnails)" in said
    assert info.stderr == ""

    weights = fake_cache(home, "timm/vit_large_patch14_clip_336.openai")
    chosen = _config(tmp_path, 'device = "cpu"\nmodel = "ViT-L-14-336:openai"')
    info = run_hygiene("models", "info", "--config", chosen, env_extra=env)
    said = " ".join(info.stdout.split())
    assert "model: ViT-L-14-336:openai ([classify] model of the config)" in said
    assert f"weights: cached at {weights}" in said
    assert "input: 336 px (each photo read again from the archive" in said


def _config(tmp_path, body: str):
    path = tmp_path / f"c{abs(hash(body))}.toml"
    path.write_text(f"[classify]\n{body}\n")
    return path


@pytest.fixture(scope="module")
def hub():
    from tests.fake_hub import FakeHub

    served = FakeHub()
    yield served
    served.close()


@pytest.fixture(scope="module")
def hub_with_default(hub):
    """The hub holding the CPU default's weights: random values, real shapes (float16)."""
    pytest.importorskip("torch")
    open_clip = pytest.importorskip("open_clip")
    from safetensors.torch import save

    default = KNOWN_MODELS[0]
    model = open_clip.create_model(default.spec.split(":")[0])
    weights = save({name: tensor.half() for name, tensor in model.state_dict().items()})
    hub.files[(default.hf_repo, "open_clip_model.safetensors")] = weights
    return hub


def test_pull_downloads_the_weights_and_checks_they_load(hub_with_default, tmp_path):
    hub, default = hub_with_default, KNOWN_MODELS[0]
    env = {"HF_ENDPOINT": hub.url, "HF_HOME": str(tmp_path / "hf"), "COLUMNS": "200"}
    pulled = run_hygiene("models", "pull", default.spec, env_extra=env, timeout=600)
    assert pulled.returncode == 0, pulled.stderr
    assert "loads, embeddings of 512 numbers" in " ".join(pulled.stdout.split())
    assert f"downloading {default.spec} (about 605 MB)" in " ".join(pulled.stderr.split())
    listed = run_hygiene("models", "list", env_extra=env)
    row = next(line.split() for line in listed.stdout.splitlines() if default.spec in line)
    assert row[6] == "yes"
    assert all(request.split()[1].startswith(f"/{default.hf_repo}/") for request in hub.requests
               if "/resolve/" in request)  # fmt: skip


def test_pull_errors_are_one_line(hub, tmp_path):
    env = {"HF_ENDPOINT": hub.url, "HF_HOME": str(tmp_path / "hf")}
    cases = {
        "ViT-B-16:laion2b_s34b_b88k": "cannot download",  # the hub has no such files
        "ViT-B-32:no_such_tag": "not an open_clip model on the Hugging Face hub",
        "ViT-B-32": "ARCH:PRETRAINED",
    }
    for spec, expected in cases.items():
        result = run_hygiene("models", "pull", spec, env_extra=env, timeout=300)
        assert result.returncode != 0, spec
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert expected in " ".join(result.stderr.split()), (spec, result.stderr)
        assert "Traceback" not in result.stderr and lines[-1].startswith("error:"), lines


THIRD_PARTY = ("WARNING", "ERROR:", "Traceback", "Warning:", "warn(", "Retrying", "thrown while")


def demo(tmp_path, *extra, env=None):
    result = run_hygiene(
        "demo", tmp_path / "archive", "--workers", "2", *extra, timeout=900,
        env_extra={"HF_HOME": str(tmp_path / "hf"), "HYGIENE_CONFIG": str(tmp_path / "none"),
                   "COLUMNS": "200", **(env or {})},
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    for line in (result.stdout + result.stderr).splitlines():
        assert not any(word in line for word in THIRD_PARTY), line
    return " ".join(result.stdout.split()), " ".join(result.stderr.split())


def test_the_demo_offline_runs_every_other_stage_and_names_the_pull(tmp_path):
    said, _ = demo(tmp_path, "--offline")
    assert "categorization: skipped" in said
    assert "hygiene models pull ViT-B-32:laion2b_s34b_b79k" in said


def test_the_demo_without_network_says_so_in_one_line(tmp_path):
    said, told = demo(tmp_path, env={"HF_ENDPOINT": "http://127.0.0.1:1"})
    assert "no model: no network: cannot reach 127.0.0.1:1" in told
    assert "downloading" not in told and "categorization: skipped" in said


def test_the_demo_fetches_the_default_model_and_categorizes(hub_with_default, tmp_path):
    said, told = demo(tmp_path, env={"HF_ENDPOINT": hub_with_default.url})
    assert "downloading the CLIP model ViT-B-32:laion2b_s34b_b79k (about 605 MB)" in told
    assert "categorization: ViT-B-32:laion2b_s34b_b79k:" in said and "embedded" in said
