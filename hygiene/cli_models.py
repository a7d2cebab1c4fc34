"""`hygiene models`: which CLIP models exist, which are on this machine, and which one a scan
would use here and why. Registered on the `hygiene` group by cli.py; offline, always."""

from __future__ import annotations

from pathlib import Path

import click
from rich import box
from rich.table import Table

from hygiene.categorize.embed import CPU_MODEL, GPU_MODEL
from hygiene.categorize.models import KNOWN_MODELS, cached_weights, hub_cache, human_size, known
from hygiene.console import err_console, fail, load_config_file, out_console


@click.group("models")
def models_group() -> None:
    """The CLIP models categorization and search can use."""


@models_group.command("list")
def models_list_command() -> None:
    """Known ARCH:PRETRAINED models: download size, input, embedding size, licence, cached."""
    table = Table(box=box.SIMPLE, pad_edge=False)
    table.add_column("model", no_wrap=True)
    for name in ("size", "px", "dims", "licence", "cached", "default"):
        table.add_column(name)
    for model in KNOWN_MODELS:
        table.add_row(
            model.spec,
            human_size(model.download_bytes),
            str(model.input_px),
            str(model.embedding_dims),
            model.licence,
            "yes" if cached_weights(model) else "no",
            model.default_on,
        )
    out_console.print(table)
    out_console.print(
        f"cache: {hub_cache()} (the Hugging Face cache; set HF_HOME to move it). Any other "
        "open_clip ARCH:PRETRAINED name works too; --model-path takes local weights.",
        highlight=False,
    )


@models_group.command("info")
@click.option("--config", "config_file", type=click.Path(path_type=Path), help="TOML config file.")
def models_info_command(config_file: Path | None) -> None:
    """The model a scan would use on this machine, why, and whether it is here."""
    from hygiene.categorize.embed import pick_device
    from hygiene.categorize.inputs import wider_than_thumbnails

    config = load_config_file(config_file)
    settings = config.classify
    device = pick_device(settings.device)
    if settings.model_path:
        spec, why = settings.model or "(named by the local weights)", "[classify] model_path"
    elif settings.model:
        spec, why = settings.model, "[classify] model of the config"
    else:
        spec = GPU_MODEL if device == "cuda" else CPU_MODEL
        why = f"the default on {device.upper()}"
        if settings.device == "auto" and device == "cpu":
            why += ": no CUDA or Apple MPS device found"
    lines = [f"model: {spec} ({why})", f"device: {device}"]
    if settings.model_path:
        found = Path(settings.model_path).expanduser().exists()
        lines.append(f"weights: {settings.model_path} ({'found' if found else 'missing'})")
    elif (entry := known(spec)) is not None:
        weights = cached_weights(entry)
        if weights is not None:
            lines.append(f"weights: cached at {weights}")
        else:
            lines.append(
                f"weights: not cached; `hygiene models pull {entry.spec}` (or `hygiene scan "
                f"ROOT --allow-download`) fetches them (about "
                f"{human_size(entry.download_bytes)}) into {hub_cache()}"
            )
        thumbnail_px = config.scan.thumbnail_px
        source = (
            f"each photo read again from the archive, as the {thumbnail_px}-px thumbnails are "
            "smaller"
            if wider_than_thumbnails(entry.input_px, thumbnail_px)
            else f"from the scan's {thumbnail_px}-px thumbnails"
        )
        lines.append(
            f"input: {entry.input_px} px ({source}), embeddings of {entry.embedding_dims} numbers"
        )
    else:
        lines.append("weights: an open_clip name hygiene has no figures for")
    for line in lines:
        out_console.print(line, highlight=False, soft_wrap=True, markup=False)


@models_group.command("pull")
@click.argument("spec")
def models_pull_command(spec: str) -> None:
    """Download ARCH:PRETRAINED into the Hugging Face cache, then check that it loads."""
    from hygiene.categorize.embed import ModelUnavailable, load_model
    from hygiene.categorize.models import PullError, pull

    if ":" not in spec:
        fail(f"{spec}: give the model as ARCH:PRETRAINED (hygiene models list shows them)")
    entry = known(spec)
    size = f" (about {human_size(entry.download_bytes)})" if entry else ""
    err_console.print(f"downloading {spec}{size} into {hub_cache()}", highlight=False)
    try:
        weights = pull(spec)
        loaded = load_model(spec, "", "cpu", allow_download=False)
    except (PullError, ModelUnavailable) as exc:
        fail(str(exc))
        return
    dims = int(loaded.model.text_projection.shape[1])
    out_console.print(
        f"{spec}: {weights} loads, embeddings of {dims} numbers; scans use it with "
        f"--model {spec} (or [classify] model)",
        highlight=False,
        soft_wrap=True,
    )
