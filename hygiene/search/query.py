"""Turn a query into a unit vector of the run's model: a phrase through the text encoder; an image
file through the scan's own decode and thumbnail, or at the model's size as categorize would
read it (so an exact copy of a library photo embeds exactly as that photo did); the stored
vector when the image is one of the run's photos."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from hygiene.categorize.embed import (
    ClipModel,
    ModelSource,
    ModelUnavailable,
    load_model,
    pick_device,
)
from hygiene.categorize.inputs import at_model_size, wider_than_thumbnails
from hygiene.records import ScanOutcome
from hygiene.scan.formats import SNIFF_BYTES, describe_non_image, sniff_image_format
from hygiene.scan.measure import WorkerSettings, scan_bytes
from hygiene.search.library import Searchable, SearchError


def text_vector(model: ClipModel, text: str) -> np.ndarray:
    phrase = " ".join(text.split())
    if not phrase:
        raise SearchError("empty query: give a phrase, or --image FILE, or --like PHOTO")
    return _unit(model.encode_texts([phrase])[0])


def image_vector(
    path: Path,
    library: Searchable,
    model: Callable[[], ClipModel],
    *,
    max_pixels: int,
    thumbnail_px: int,
) -> np.ndarray:
    """The vector of the image at `path`; `model()` is called only when it must be embedded."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SearchError(f"cannot read {path}: {exc.strerror or exc}") from None
    return image_bytes_vector(
        data, str(path), library, model, max_pixels=max_pixels, thumbnail_px=thumbnail_px
    )


def image_bytes_vector(
    data: bytes,
    name: str,
    library: Searchable,
    model: Callable[[], ClipModel],
    *,
    max_pixels: int,
    thumbnail_px: int,
) -> np.ndarray:
    """The vector of an image's bytes (`name` says which image, in messages)."""
    image_format = sniff_image_format(data[:SNIFF_BYTES])
    if not data or image_format is None:
        what = "an empty file" if not data else describe_non_image(data[:SNIFF_BYTES])
        raise SearchError(f"cannot search by {name}: not an image (the content is {what})")
    digest = hashlib.sha256(data).hexdigest()
    known = library.entry_with(digest)
    if known is not None:
        return library.vector(known)
    settings = WorkerSettings(
        root="",
        max_pixels=max_pixels,
        max_file_bytes=len(data),
        thumbnail_px=thumbnail_px,
        catalog_path="",
    )
    outcome = scan_bytes(data, image_format, digest, settings)
    if not isinstance(outcome, ScanOutcome) or outcome.facts is None:  # corrupt, or over a cap
        raise SearchError(f"cannot search by {name}: {outcome.error}")
    clip = model()
    # The same pixels the categorize stage would give this model (see categorize/inputs.py).
    facts = outcome.facts
    image = None
    if wider_than_thumbnails(clip.input_px, thumbnail_px):
        image = at_model_size(data, facts.width, facts.height, clip.input_px, max_pixels)
    if image is None:
        with Image.open(io.BytesIO(facts.thumbnail_webp), formats=["WEBP"]) as thumbnail:
            image = thumbnail.convert("RGB")
    return _unit(clip.encode_images(clip.preprocess(image).unsqueeze(0))[0])


def query_model(
    library: Searchable, *, spec: str, path: str, device: str, allow_download: bool
) -> ModelSource:
    """The library's CLIP model (`spec` or `path` when given, else the one that made its
    embeddings), loaded on first use and checked to be the one that made the embeddings (a
    vector of another model means nothing against them)."""
    made_by = library.model_id

    def load() -> ClipModel:
        named = spec
        if not spec and not path:
            if made_by.startswith("local"):
                raise SearchError(
                    f"the run's embeddings were made by a local model ({made_by}); "
                    "pass --model-path with it"
                )
            named = made_by
        try:
            loaded = load_model(named, path, pick_device(device), allow_download=allow_download)
        except ModelUnavailable as exc:
            raise SearchError(str(exc)) from None
        if loaded.model_id != made_by:
            raise SearchError(
                f"the run's embeddings were made by {made_by}, the query model is "
                f"{loaded.model_id}: pass the scan's --model or --model-path"
            )
        return loaded

    return ModelSource(made_by, load)


def _unit(vector: np.ndarray) -> np.ndarray:
    vector = np.asarray(vector, dtype=np.float32)
    return vector / max(float(np.linalg.norm(vector)), 1e-9)
