"""The CLIP model, through open_clip: loading (registry, Hugging Face cache, local file), devices,
and unit-length image and text embeddings. torch and open_clip are imported only here, lazily.

While a model loads, what open_clip, huggingface_hub, timm and torch log or warn is captured,
never printed: a failure is told once, in hygiene's own words (ModelUnavailable), with the
libraries' last error folded in when it says more.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

CPU_MODEL = "ViT-B-32:laion2b_s34b_b79k"  # fast enough for a laptop CPU
GPU_MODEL = "ViT-L-14:openai"  # more accurate, affordable on a GPU


class ModelUnavailable(RuntimeError):
    """CLIP weights cannot be had; str() says why and how to fix it."""


@dataclass
class ClipModel:
    model: Any
    preprocess: Any  # PIL image -> tensor, the model's own transform
    tokenizer: Any
    device: str
    model_id: str  # names the weights: cached embeddings are keyed by it
    logit_scale: float
    input_px: int  # the side of the square the image encoder takes

    def encode_images(self, batch: Any) -> np.ndarray:
        import torch

        with torch.inference_mode(), _autocast(self.device):
            features = self.model.encode_image(batch.to(self.device), normalize=True)
        return features.float().cpu().numpy()

    def encode_texts(self, prompts: list[str]) -> np.ndarray:
        import torch

        with torch.inference_mode(), _autocast(self.device):
            tokens = self.tokenizer(prompts).to(self.device)
            features = self.model.encode_text(tokens, normalize=True)
        return features.float().cpu().numpy()


def pick_device(preference: str) -> str:
    if preference != "auto":
        return preference  # without importing torch
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def default_batch_size(device: str) -> int:
    return 32 if device == "cpu" else 256


def load_model(spec: str, model_path: str, device: str, *, allow_download: bool) -> ClipModel:
    """Load CLIP weights from open_clip's registry (via the Hugging Face cache) or a local path.

    `spec` is ARCH:PRETRAINED; empty picks one for the device. `model_path` is either a folder
    with open_clip_config.json and the weights (fully air-gapped), or a checkpoint file for the
    architecture `spec` names.
    """
    if not allow_download:
        os.environ["HF_HUB_OFFLINE"] = "1"  # the cache only: no network unless the user allows
        _hub_offline()
    spec, model_id = _resolved(spec, model_path, device)
    arch, _, tag = spec.partition(":")
    if model_path and Path(model_path).is_dir():
        name, pretrained = f"local-dir:{model_path}", None
    else:
        name, pretrained = arch, model_path or tag
    logged: list[str] = []
    try:
        with library_logs_captured(logged):
            import open_clip

            if not allow_download:
                _hub_offline()  # huggingface_hub read the environment when open_clip imported it
            model, preprocess = open_clip.create_model_from_pretrained(
                name, pretrained=pretrained, device=device
            )
            tokenizer = open_clip.get_tokenizer(name)
    except Exception as exc:  # open_clip raises many kinds; every one means "no model"
        raise ModelUnavailable(_explain(spec, model_path, exc, allow_download, logged)) from None
    model.eval()
    return ClipModel(
        model,
        preprocess,
        tokenizer,
        device,
        model_id,
        float(model.logit_scale.detach().exp()),
        input_side_px(model),
    )


def input_side_px(model: Any) -> int:
    """The image side an open_clip model's visual tower takes (its config's image_size)."""
    size = getattr(model.visual, "image_size", 224)
    return int(max(size) if isinstance(size, (tuple, list)) else size)


def model_identity(spec: str, model_path: str, device: str) -> str:
    """The model_id load_model would give these weights, without loading them (nor torch)."""
    try:
        return _resolved(spec, model_path, device)[1]
    except OSError as exc:
        raise ModelUnavailable(
            f"cannot read local checkpoint {model_path} ({exc.strerror or exc}); "
            "check the --model-path file"
        ) from None


class ModelSource:
    """A CLIP model known by its id before it is loaded: the id keys the catalog's caches, and
    the weights are loaded (by `load`) only when something is missing there."""

    def __init__(self, model_id: str, load: Callable[[], ClipModel]) -> None:
        self.model_id = model_id
        self._load = load
        self._model: ClipModel | None = None

    @classmethod
    def of(cls, model: ClipModel) -> ModelSource:
        source = cls(model.model_id, lambda: model)
        source._model = model
        return source

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def get(self) -> ClipModel:
        if self._model is None:
            self._model = self._load()
        return self._model


def _resolved(spec: str, model_path: str, device: str) -> tuple[str, str]:
    """(ARCH:PRETRAINED with the device's default filled in, the id naming the weights)."""
    spec = spec or (GPU_MODEL if device == "cuda" else CPU_MODEL)
    arch, _, tag = spec.partition(":")
    if model_path and Path(model_path).is_dir():
        return spec, _folder_id(Path(model_path))
    return spec, f"{arch}:{_weights_id(model_path) if model_path else tag}"


def _folder_id(folder: Path) -> str:
    weights = sorted(p for p in folder.iterdir() if p.suffix in (".bin", ".safetensors", ".pt"))
    return "local:" + (_weights_id(str(weights[0])) if weights else folder.name)


def _weights_id(path: str) -> str:
    """Names a checkpoint file by its bytes (hashed once per process while it is unchanged:
    a run names the model before it may load it)."""
    stat = os.stat(path)
    return _file_id(os.path.abspath(path), stat.st_size, stat.st_mtime_ns)


@functools.cache
def _file_id(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return f"file-{digest.hexdigest()[:16]}"


_LIBRARY_LOGGERS = ("", "open_clip", "huggingface_hub", "timm", "torch", "urllib3", "httpx")


def _hub_offline() -> None:
    """huggingface_hub reads HF_HUB_OFFLINE once, at import: tell an imported one too."""
    import sys

    if (constants := sys.modules.get("huggingface_hub.constants")) is not None:
        constants.HF_HUB_OFFLINE = True


@contextlib.contextmanager
def library_logs_captured(logged: list[str]) -> Iterator[None]:
    """Route the libraries' log records (WARNING and up) and Python warnings into `logged`
    instead of stderr. open_clip logs through the root logger, which would print
    "ERROR:root:..." (logging configures a stderr handler on first use); huggingface_hub
    gives its logger a stderr handler when imported. Both are held off, then put back."""

    class _Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            with contextlib.suppress(Exception):
                logged.append(" ".join(record.getMessage().split()))

    with contextlib.suppress(ImportError):  # it adds its stderr handler at import: do that now
        import huggingface_hub.utils.logging  # noqa: F401
    saved = {name: logging.getLogger(name).handlers[:] for name in _LIBRARY_LOGGERS}
    for name in _LIBRARY_LOGGERS:
        logging.getLogger(name).handlers = []
    root = logging.getLogger()
    root.handlers = [_Keep(logging.WARNING)]
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                yield
            finally:
                logged.extend(" ".join(str(w.message).split()) for w in caught)
    finally:
        for name, handlers in saved.items():
            logging.getLogger(name).handlers = handlers


def _explain(
    spec: str, model_path: str, exc: Exception, allow_download: bool, logged: list[str]
) -> str:
    what = f"local checkpoint {model_path}" if model_path else f"weights for {spec}"
    if not model_path and not allow_download:
        detail = "not in the Hugging Face cache, and downloads are off"
    else:
        message = " ".join(str(exc).split())
        detail = message[:200] or type(exc).__name__
        said = next((line for line in reversed(logged) if line and line not in message), None)
        if said:  # the libraries' last word, when the exception does not already say it
            detail = f"{detail}; {said[:200]}"
    if model_path and not Path(model_path).is_file():
        fix = "check the --model-path file"
    elif allow_download:
        fix = "check the network, or download the weights elsewhere and pass --model-path"
    else:
        fix = (
            f"fetch them with `hygiene models pull {spec}` (or run once with --allow-download), "
            "or pass --model-path with a local checkpoint"
        )
    return f"cannot load {what} ({detail}); {fix}"


def _autocast(device: str) -> Any:
    import contextlib

    import torch

    if device == "cuda":
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.autocast("cuda", dtype=dtype)
    return contextlib.nullcontext()
