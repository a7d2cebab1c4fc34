"""Configuration: shipped defaults, overrides, errors and `hygiene config show`."""

from __future__ import annotations

import tomllib
from dataclasses import fields, replace
from importlib import resources
from pathlib import Path

import pytest

from hygiene.config import (
    _SECTIONS,
    CHOICES,
    RANGES,
    Config,
    ConfigError,
    check_config,
    load_config,
    merge_mapping,
    to_toml,
)
from tests.conftest import run_hygiene


def test_shipped_default_file_matches_the_code_defaults():
    text = resources.files("hygiene").joinpath("default_config.toml").read_text()
    from_file = merge_mapping(Config(), tomllib.loads(text), origin="default_config.toml")
    assert to_toml(from_file) == to_toml(Config())


def test_user_file_then_explicit_file(tmp_path, monkeypatch):
    user = tmp_path / "config" / "hygiene" / "config.toml"
    user.parent.mkdir(parents=True)
    user.write_text("[scan]\nworkers = 3\nmax_pixels = 5_000_000\n")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    explicit = tmp_path / "run.toml"
    explicit.write_text("[scan]\nworkers = 5\n[quality]\nblurry_blur_min = 0.5\n")
    config = load_config(explicit)
    assert config.scan.workers == 5 and config.scan.max_pixels == 5_000_000
    assert config.quality.blurry_blur_min == 0.5


@pytest.mark.parametrize(
    "text,message",
    [
        ("[scan]\nworkerz = 2\n", "unknown key scan.workerz"),
        ("[scna]\n", "unknown section"),
        ("[scan]\nworkers = 'many'\n", "scan.workers must be int"),
        ("[scan\n", "not valid TOML"),
        ("[duplicates]\nengine = 'magic'\n", 'duplicates.engine = "magic" is not allowed'),
        ("[duplicates]\nkeeper_rules = ['biggest']\n", "keeper_rules: unknown"),
    ],
)
def test_bad_config_names_the_problem(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_config_show_prints_toml_that_loads_back(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[scan]\nexclude = ["Backups/**"]\n')
    result = run_hygiene("config", "show", "--config", path)
    assert result.returncode == 0, result.stderr
    shown = tomllib.loads(result.stdout)
    assert shown["scan"]["exclude"] == ["Backups/**"]
    assert shown["quality"]["dark_luma_p99_max"] == Config().quality.dark_luma_p99_max


def test_bad_config_on_the_command_line_is_one_line(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[scan]\nworkerz = 2\n")
    result = run_hygiene("scan", tmp_path, "--config", path)
    assert result.returncode == 2
    assert "unknown key scan.workerz" in result.stderr and "Traceback" not in result.stderr


# The examples first, then more: (TOML, the key and value as shown, what is allowed).
BAD_VALUES = [
    ("[scan]\nmax_pixels = 0", "scan.max_pixels = 0", "allowed 1_000_000 to 10_000_000_000"),
    ("[scan]\nfile_timeout_s = -1", "scan.file_timeout_s = -1.0", "allowed 1 to 86400 seconds"),
    ("[scan]\nworkers = -3", "scan.workers = -3", "allowed 0 to 256; 0 = one per core"),
    ("[scan]\nworkers = 100000", "scan.workers = 100000", "allowed 0 to 256; 0 = one per core"),
    ("[scan]\nthumbnail_px = 0", "scan.thumbnail_px = 0", "allowed 64 to 2048 px"),
    ('[plan]\nsort_mode = "cpoy"', 'plan.sort_mode = "cpoy"', "allowed: move, copy"),
    ("[scan]\nmax_file_mb = 0", "scan.max_file_mb = 0", "allowed 1 to 1_048_576 MiB"),
    ('[scan]\nquarantine_dir = "a/b"', 'scan.quarantine_dir = "a/b"', "a single folder name"),
    ('[scan]\nquarantine_dir = ".."', 'scan.quarantine_dir = ".."', "a single folder name"),
    ('[scan]\nquarantine_dir = ""', 'scan.quarantine_dir = ""', "a single folder name"),
    ('[plan]\nsort_into = "../Sorted"', 'plan.sort_into = "../Sorted"', 'without ".."'),
    ('[plan]\nsort_into = "/tmp/Sorted"', 'plan.sort_into = "/tmp/Sorted"', "relative"),
    ("[quality]\nblurry_blur_min = 1.5", "quality.blurry_blur_min = 1.5", "allowed 0 to 1"),
    ("[quality]\ndark_luma_p99_max = nan", "quality.dark_luma_p99_max = nan", "allowed 0 to 1"),
    ("[duplicates]\nnear_max_distance = 65", "duplicates.near_max_distance = 65", "0 to 64"),
    ("[duplicates]\nmin_correlation = -0.1", "duplicates.min_correlation = -0.1", "0 to 1"),
    (
        "[duplicates]\nsimilar_max_seconds = -1",
        "duplicates.similar_max_seconds = -1.0",
        "0 or more",
    ),
    ('[classify]\ndevice = "gpu"', 'classify.device = "gpu"', "allowed: auto, cpu, cuda, mps"),
    ("[classify]\nbatch_size = 5000", "classify.batch_size = 5000", "allowed 0 to 4096"),
    ("[classify]\nuncertain_margin = 2", "classify.uncertain_margin = 2.0", "allowed 0 to 1"),
    ('[output]\nreports_dir = ""', 'output.reports_dir = ""', "not empty"),
    (
        '[categories.Food]\nprompts = ["food"]\nthreshold = 1.2',
        "categories.Food.threshold = 1.2",
        "allowed 0 to 1",
    ),
]


@pytest.mark.parametrize("text,shown,allowed", BAD_VALUES)
def test_out_of_range_value_is_refused_with_file_key_value_and_range(
    tmp_path, text, shown, allowed
):
    path = tmp_path / "bad.toml"
    path.write_text(text + "\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: {shown} ")
    assert allowed in message and "\n" not in message


@pytest.mark.parametrize("text,shown,allowed", BAD_VALUES[:6] + BAD_VALUES[-1:])
def test_scan_with_a_bad_value_stops_before_touching_anything(tmp_path, text, shown, allowed):
    archive = tmp_path / "archive"
    archive.mkdir()
    (archive / "a.txt").write_text("kept as it is")
    path = tmp_path / "bad.toml"
    path.write_text(text + "\n")
    out = tmp_path / "out"
    result = run_hygiene(
        "scan", archive, "--out", out, "--config", path, "--catalog", tmp_path / "c.sqlite"
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(path) in lines[0] and shown in lines[0] and allowed in lines[0]
    assert not out.exists() and not (tmp_path / "c.sqlite").exists()
    assert [p.name for p in archive.iterdir()] == ["a.txt"]


@pytest.mark.parametrize(
    "text",
    [
        "[scan]\nworkers = 256\nmax_pixels = 1_000_000\nfile_timeout_s = 1\nthumbnail_px = 64",
        "[scan]\nmax_pixels = 10_000_000_000\nmax_file_mb = 1_048_576\nthumbnail_px = 2048",
        '[plan]\nsort_into = "Sorted/by category"\nsort_mode = "copy"',
        '[scan]\nquarantine_dir = "_quarantine"\n[classify]\ndevice = "cuda"\nbatch_size = 0',
        "[duplicates]\nnear_max_distance = 0\nsimilar_max_seconds = 0",
    ],
)
def test_values_at_the_limits_are_accepted(tmp_path, text):
    path = tmp_path / "edge.toml"
    path.write_text(text + "\n")
    load_config(path)


def test_every_numeric_setting_has_a_range():
    config = Config()
    numeric = {
        f"{name}.{f.name}"
        for name in _SECTIONS
        for f in fields(getattr(config, name))
        if type(getattr(getattr(config, name), f.name)) in (int, float)
    }
    assert numeric <= set(RANGES), sorted(numeric - set(RANGES))
    assert {"plan.sort_mode", "classify.device", "duplicates.engine"} <= set(CHOICES)


def test_defaults_and_the_example_files_pass_the_checks():
    check_config(Config(), "defaults")
    examples = sorted((Path(__file__).parents[1] / "examples").glob("*.toml"))
    assert examples
    for example in examples:
        load_config(example)


def test_check_config_catches_values_set_after_loading():
    config = replace(Config(), plan=replace(Config().plan, sort_into="../outside"))
    with pytest.raises(ConfigError, match=r'^command line: plan.sort_into = "\.\./outside"'):
        check_config(config, "command line")


def test_workers_option_is_limited_too(tmp_path):
    result = run_hygiene("scan", tmp_path, "--workers", "100000", "--out", tmp_path / "out")
    assert result.returncode == 2 and "1<=x<=256" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "out").exists()


def test_config_show_round_trips_through_config(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[scan]\nworkers = 4\nmax_pixels = 1_000_000\n[plan]\nsort_mode = "copy"\n')
    shown = run_hygiene("config", "show", "--config", path)
    assert shown.returncode == 0, shown.stderr
    again_path = tmp_path / "again.toml"
    again_path.write_text(shown.stdout)
    again = run_hygiene("config", "show", "--config", again_path)
    assert again.returncode == 0, again.stderr
    body = [line for line in shown.stdout.splitlines() if not line.startswith("# settings from")]
    body_again = [
        line for line in again.stdout.splitlines() if not line.startswith("# settings from")
    ]
    assert body == body_again
