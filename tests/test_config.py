"""Configuration: shipped defaults, overrides, errors and `hygiene config show`."""

from __future__ import annotations

import tomllib
from importlib import resources

import pytest

from hygiene.config import Config, ConfigError, load_config, merge_mapping, to_toml
from tests.conftest import run_hygiene


def test_shipped_default_file_matches_the_code_defaults():
    text = resources.files("hygiene").joinpath("default_config.toml").read_text()
    from_file = merge_mapping(Config(), tomllib.loads(text), origin="default_config.toml")
    assert to_toml(from_file) == to_toml(Config())


def test_user_file_then_explicit_file(tmp_path, monkeypatch):
    user = tmp_path / "config" / "hygiene" / "config.toml"
    user.parent.mkdir(parents=True)
    user.write_text("[scan]\nworkers = 3\nmax_pixels = 1000\n")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    explicit = tmp_path / "run.toml"
    explicit.write_text("[scan]\nworkers = 5\n[quality]\nblurry_blur_min = 0.5\n")
    config = load_config(explicit)
    assert config.scan.workers == 5 and config.scan.max_pixels == 1000
    assert config.quality.blurry_blur_min == 0.5


@pytest.mark.parametrize(
    "text,message",
    [
        ("[scan]\nworkerz = 2\n", "unknown key scan.workerz"),
        ("[scna]\n", "unknown section"),
        ("[scan]\nworkers = 'many'\n", "scan.workers must be int"),
        ("[scan\n", "not valid TOML"),
        ("[duplicates]\nengine = 'magic'\n", "duplicates.engine must be one of"),
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
