"""Typed settings with defaults, loaded from TOML files and checked against allowed values.

The allowed values of every setting are declared once, in RANGES, CHOICES and SHAPES below; a
file is checked as it is merged, and each problem is one line naming the file, the key, the
value and what is allowed.
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any

from hygiene.paths import is_regular_file
from hygiene.records import KEEPER_RULES, Category, QualityThresholds


class ConfigError(ValueError):
    """A config file that cannot be used; str() names the file and the key."""


@dataclass(frozen=True)
class ScanSettings:
    workers: int = 0
    max_pixels: int = 200_000_000
    file_timeout_s: float = 60.0
    max_file_mb: int = 1024
    exclude: tuple[str, ...] = ()
    quarantine_dir: str = ".hygiene-quarantine"
    catalog: str = ""
    thumbnail_px: int = 256
    engine: str = "local"  # or "ray": decoding and CLIP on a Ray cluster (see docs/scale.md)
    ray_address: str = ""  # "": a local Ray instance; "auto" or ray://HOST:PORT: a cluster

    def worker_count(self) -> int:
        return self.workers if self.workers > 0 else max(1, os.cpu_count() or 1)

    def catalog_location(self) -> Path | str:
        """The catalog's file, or a postgresql:// URL (a shared catalog)."""
        if self.catalog.startswith(DATABASE_URL_PREFIXES):
            return self.catalog
        if self.catalog:
            return Path(self.catalog).expanduser()
        return user_cache_dir() / "hygiene" / "catalog.sqlite"


# A catalog location that names a PostgreSQL database rather than a SQLite file.
DATABASE_URL_PREFIXES = ("postgresql://", "postgres://")


def user_cache_dir() -> Path:
    """$XDG_CACHE_HOME, or ~/.cache."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")


@dataclass(frozen=True)
class DuplicateSettings:
    engine: str = "hygiene"  # or "fastdup" (optional, see README)
    fastdup_python: str = ""
    keeper_rules: tuple[str, ...] = KEEPER_RULES
    protected_roots: tuple[str, ...] = ()
    near_max_distance: int = 12
    crop_max_distance: int = 14
    pixel_max_distance: int = 4
    min_correlation: float = 0.70
    max_changed_fraction: float = 0.10
    max_colour_difference: float = 0.06
    similar_min_correlation: float = 0.65
    similar_max_seconds: float = 10.0


@dataclass(frozen=True)
class ClassifySettings:
    model: str = ""
    model_path: str = ""
    device: str = "auto"
    batch_size: int = 0
    neutral_prompts: tuple[str, ...] = ("a photo", "an image", "a picture of something")
    uncertain_margin: float = 0.10
    review_uncertain: bool = True


@dataclass(frozen=True)
class PlanSettings:
    remove_duplicates: bool = True
    quarantine_corrupt: bool = True
    repair_damaged: bool = True
    review_flagged: bool = True
    sort_into: str = ""
    sort_mode: str = "move"
    flatten: bool = False


@dataclass(frozen=True)
class OutputSettings:
    reports_dir: str = "reports"


@dataclass(frozen=True)
class SearchSettings:
    ann_min_photos: int = 250_000
    ann_expansion: int = 256


@dataclass(frozen=True)
class StoreSettings:
    url: str = ""


@dataclass(frozen=True)
class Config:
    scan: ScanSettings = field(default_factory=ScanSettings)
    quality: QualityThresholds = field(default_factory=QualityThresholds)
    duplicates: DuplicateSettings = field(default_factory=DuplicateSettings)
    classify: ClassifySettings = field(default_factory=ClassifySettings)
    categories: tuple[Category, ...] = field(default_factory=lambda: DEFAULT_CATEGORIES)
    plan: PlanSettings = field(default_factory=PlanSettings)
    output: OutputSettings = field(default_factory=OutputSettings)
    search: SearchSettings = field(default_factory=SearchSettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    sources: tuple[str, ...] = ()  # files that contributed, for `config show`


_SECTIONS = {
    "scan": ScanSettings,
    "quality": QualityThresholds,
    "duplicates": DuplicateSettings,
    "classify": ClassifySettings,
    "plan": PlanSettings,
    "output": OutputSettings,
    "search": SearchSettings,
    "store": StoreSettings,
}


def user_config_path() -> Path:
    if env := os.environ.get("HYGIENE_CONFIG"):
        return Path(env).expanduser()
    config_home = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(config_home) / "hygiene" / "config.toml"


def load_config(explicit: Path | None = None) -> Config:
    """Defaults, then the per-user file if it exists, then `explicit` (which must exist)."""
    config = Config()
    user_file = user_config_path()
    if user_file.is_file():
        config = merge_file(config, user_file)
    if explicit is not None:
        if not is_regular_file(explicit):
            raise ConfigError(f"config file not found: {explicit}")
        config = merge_file(config, explicit)
    return config


def merge_file(config: Config, path: Path) -> Config:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return merge_mapping(config, data, origin=str(path))


def merge_mapping(config: Config, data: dict[str, Any], origin: str) -> Config:
    updates: dict[str, Any] = {}
    data = dict(data)
    if "categories" in data:
        updates["categories"] = parse_categories(data.pop("categories"), origin)
    for section_name, values in data.items():
        section_type = _SECTIONS.get(section_name)
        if section_type is None:
            raise ConfigError(f"{origin}: unknown section [{section_name}]")
        if not isinstance(values, dict):
            raise ConfigError(f"{origin}: [{section_name}] must be a table")
        current = getattr(config, section_name)
        updates[section_name] = replace(
            current, **_typed(section_type, values, origin, section_name)
        )
    merged = replace(config, **updates, sources=(*config.sources, origin))
    _check_keeper_rules(merged.duplicates, origin)
    return merged


# ---------------------------------------------------------------- allowed values


@dataclass(frozen=True, slots=True)
class Range:
    """The allowed values of a numeric setting: low to high (no upper limit when None)."""

    low: float
    high: float | None = None
    unit: str = ""
    note: str = ""

    def allows(self, value: float) -> bool:
        return (
            math.isfinite(value) and self.low <= value and (self.high is None or value <= self.high)
        )

    def describe(self) -> str:
        if self.high is None:
            span = f"{_number(self.low)} or more"
        else:
            span = f"{_number(self.low)} to {_number(self.high)}"
        span = f"{span} {self.unit}" if self.unit else span
        return f"allowed {span}; {self.note}" if self.note else f"allowed {span}"


_UNIT = Range(0.0, 1.0)
_HASH_BITS = Range(0, 64, "bits")

# Every numeric setting (test_config checks that none is missing); categories.threshold applies
# to each [categories.NAME] threshold.
RANGES: dict[str, Range] = {
    "scan.workers": Range(0, 256, note="0 = one per core"),
    "scan.max_pixels": Range(1_000_000, 10_000_000_000, "pixels"),
    "scan.file_timeout_s": Range(1, 86_400, "seconds"),
    "scan.max_file_mb": Range(1, 1_048_576, "MiB"),
    "scan.thumbnail_px": Range(64, 2048, "px"),
    **{f"quality.{f.name}": _UNIT for f in fields(QualityThresholds)},
    "duplicates.near_max_distance": _HASH_BITS,
    "duplicates.crop_max_distance": _HASH_BITS,
    "duplicates.pixel_max_distance": _HASH_BITS,
    "duplicates.min_correlation": _UNIT,
    "duplicates.max_changed_fraction": _UNIT,
    "duplicates.max_colour_difference": _UNIT,
    "duplicates.similar_min_correlation": _UNIT,
    "duplicates.similar_max_seconds": Range(0, None, "seconds"),
    "classify.batch_size": Range(0, 4096, note="0 = per device"),
    "classify.uncertain_margin": _UNIT,
    "categories.threshold": _UNIT,
    "search.ann_min_photos": Range(0, None, "photos", "0 = always approximate"),
    "search.ann_expansion": Range(16, 65_536),
}

CHOICES: dict[str, tuple[str, ...]] = {
    "duplicates.engine": ("hygiene", "fastdup"),
    "scan.engine": ("local", "ray"),
    "plan.sort_mode": ("move", "copy"),
    "classify.device": ("auto", "cpu", "cuda", "mps"),
}


def _is_folder_name(value: str) -> bool:
    return bool(value) and value not in (".", "..") and not set(value) & {"/", "\\", "\0"}


def _is_relative_path(value: str) -> bool:
    if not value:
        return True  # no sorting
    path = PurePosixPath(value)
    return not (path.is_absolute() or value.startswith("~") or "\0" in value or ".." in path.parts)


# Text settings with a shape: the check, and what is allowed, in words.
SHAPES: dict[str, tuple[Callable[[str], bool], str]] = {
    "scan.quarantine_dir": (
        _is_folder_name,
        'a single folder name: not empty, no "/", not "." or ".."',
    ),
    "plan.sort_into": (
        _is_relative_path,
        'empty (no sorting), or a folder path relative to the archive root, without ".."',
    ),
    "output.reports_dir": (bool, "a folder path, not empty"),
    "store.url": (
        lambda url: not url or url.startswith(("postgresql://", "postgres://")),
        'empty (the embedded index), or a "postgresql://" URL',
    ),
}


def check_value(name: str, value: Any, origin: str, rule: str | None = None) -> None:
    """Raise ConfigError (one line) unless `value` is allowed for the setting `name` (whose
    allowed values are listed under `rule`, by default under `name` itself)."""
    rule = rule or name
    shown = _toml_value(value)
    if (allowed := RANGES.get(rule)) is not None and not allowed.allows(value):
        raise ConfigError(f"{origin}: {name} = {shown} is out of range ({allowed.describe()})")
    if (choices := CHOICES.get(rule)) is not None and value not in choices:
        raise ConfigError(
            f"{origin}: {name} = {shown} is not allowed (allowed: {', '.join(choices)})"
        )
    if (shape := SHAPES.get(rule)) is not None and not shape[0](value):
        raise ConfigError(f"{origin}: {name} = {shown} is not allowed ({shape[1]})")


def check_config(config: Config, origin: str) -> None:
    """Check every setting of `config`, e.g. after command-line options were applied to it."""
    for section_name in _SECTIONS:
        for key, value in asdict(getattr(config, section_name)).items():
            check_value(f"{section_name}.{key}", value, origin)
    for category in config.categories:
        if category.threshold is not None:
            name = f"categories.{category.name}.threshold"
            check_value(name, category.threshold, origin, rule="categories.threshold")
    _check_keeper_rules(config.duplicates, origin)


def _number(value: float) -> str:
    if float(value).is_integer():
        return f"{int(value):_}" if abs(value) >= 100_000 else str(int(value))
    return repr(value)


def _check_keeper_rules(duplicates: DuplicateSettings, origin: str) -> None:
    unknown = [rule for rule in duplicates.keeper_rules if rule not in KEEPER_RULES]
    if unknown or not duplicates.keeper_rules:
        raise ConfigError(
            f"{origin}: duplicates.keeper_rules: unknown or empty ({', '.join(unknown)}); "
            f"choose from {', '.join(KEEPER_RULES)}"
        )


def _typed(section_type: type, values: dict[str, Any], origin: str, section: str) -> dict[str, Any]:
    known = {f.name: f for f in fields(section_type)}
    typed: dict[str, Any] = {}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"{origin}: unknown key {section}.{key}")
        default = getattr(section_type(), key)
        typed[key] = _coerce(value, default, f"{origin}: {section}.{key}")
        check_value(f"{section}.{key}", typed[key], origin)
    return typed


def _coerce(value: Any, default: Any, where: str) -> Any:
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if isinstance(default, bool) and isinstance(value, bool):
        return value
    if isinstance(default, int) and not isinstance(default, bool) and is_number:
        if isinstance(value, int):
            return value
    elif isinstance(default, float) and is_number:
        return float(value)
    elif isinstance(default, str) and isinstance(value, str):
        return value
    elif (
        isinstance(default, tuple)
        and isinstance(value, list)
        and all(isinstance(item, str) for item in value)
    ):
        return tuple(value)
    raise ConfigError(f"{where} must be {type(default).__name__}, got {value!r}")


def parse_categories(table: Any, origin: str) -> tuple[Category, ...]:
    """[categories.NAME] tables -> Category records, in file order."""
    if not isinstance(table, dict) or not table:
        raise ConfigError(f"{origin}: [categories] must hold at least one [categories.NAME] table")
    categories = []
    for name, entry in table.items():
        where = f"{origin}: categories.{name}"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where} must be a table")
        unknown = set(entry) - {"prompts", "negative_prompts", "threshold"}
        if unknown:
            raise ConfigError(f"{where}: unknown key {sorted(unknown)[0]}")
        prompts = _coerce(entry.get("prompts", []), (), f"{where}.prompts")
        if not prompts:
            raise ConfigError(f"{where}.prompts must list at least one prompt")
        negatives = _coerce(entry.get("negative_prompts", []), (), f"{where}.negative_prompts")
        threshold = entry.get("threshold")
        if threshold is not None:
            threshold = _coerce(threshold, 0.0, f"{where}.threshold")
            check_value(
                f"categories.{name}.threshold", threshold, origin, rule="categories.threshold"
            )
        categories.append(Category(str(name), prompts, negatives, threshold))
    return tuple(categories)


def _default_categories() -> tuple[Category, ...]:
    text = resources.files("hygiene").joinpath("default_config.toml").read_text(encoding="utf-8")
    return parse_categories(tomllib.loads(text)["categories"], "default_config.toml")


DEFAULT_CATEGORIES = _default_categories()


def to_toml(config: Config) -> str:
    """The settings as TOML that `--config` accepts back."""
    lines: list[str] = []
    for section_name in _SECTIONS:
        lines.append(f"[{section_name}]")
        for key, value in asdict(getattr(config, section_name)).items():
            lines.append(f"{key} = {_toml_value(value)}")
        lines.append("")
    for category in config.categories:
        lines.append(f"[categories.{_toml_value(category.name)}]")
        lines.append(f"prompts = {_toml_value(category.prompts)}")
        if category.negative_prompts:
            lines.append(f"negative_prompts = {_toml_value(category.negative_prompts)}")
        if category.threshold is not None:
            lines.append(f"threshold = {category.threshold!r}")
        lines.append("")
    return "\n".join(lines)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
