"""The CLIP models hygiene knows by name: what each costs to download, what it sees and returns,
its licence, and whether its weights are already in the Hugging Face cache. Reading this needs
neither torch nor the network.

Download sizes are the float32 checkpoints open_clip fetches: parameters x 4 bytes, the
parameters counted from open_clip's architecture configs (tests/test_models.py counts them
again on torch's meta device, so the table cannot drift from open_clip).
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from hygiene.categorize.embed import CPU_MODEL, GPU_MODEL
from hygiene.config import user_cache_dir

# the files open_clip looks for in a model's Hugging Face repository
WEIGHT_FILES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")


@dataclass(frozen=True)
class KnownModel:
    spec: str  # ARCH:PRETRAINED, as --model takes it
    hf_repo: str  # where open_clip downloads it from
    parameters: int
    input_px: int  # the image side the model sees
    embedding_dims: int
    licence: str
    default_on: str = ""  # the device this model is the default for

    @property
    def download_bytes(self) -> int:
        return 4 * self.parameters


KNOWN_MODELS: tuple[KnownModel, ...] = (
    KnownModel(
        CPU_MODEL, "laion/CLIP-ViT-B-32-laion2B-s34B-b79K", 151_277_313, 224, 512, "MIT",
        "CPU",
    ),
    KnownModel(
        "ViT-B-32:openai", "timm/vit_base_patch32_clip_224.openai", 151_277_313, 224, 512, "MIT"
    ),
    KnownModel(
        "ViT-B-16:laion2b_s34b_b88k", "laion/CLIP-ViT-B-16-laion2B-s34B-b88K", 149_620_737, 224,
        512, "MIT",
    ),
    KnownModel(
        GPU_MODEL, "timm/vit_large_patch14_clip_224.openai", 427_616_513, 224, 768, "MIT",
        "GPU",
    ),
    KnownModel(
        "ViT-L-14:laion2b_s32b_b82k", "laion/CLIP-ViT-L-14-laion2B-s32B-b82K", 427_616_513, 224,
        768, "MIT",
    ),
    KnownModel(
        "ViT-L-14-336:openai", "timm/vit_large_patch14_clip_336.openai", 427_944_193, 336, 768,
        "MIT",
    ),
    KnownModel(
        "ViT-H-14:laion2b_s32b_b79k", "laion/CLIP-ViT-H-14-laion2B-s32B-b79K", 986_109_441, 224,
        1024, "MIT",
    ),
)  # fmt: skip


def known(spec: str) -> KnownModel | None:
    return next((model for model in KNOWN_MODELS if model.spec == spec), None)


def hub_cache() -> Path:
    """The Hugging Face hub cache, resolved from the environment as huggingface_hub does, but
    read when asked (huggingface_hub reads it once, at import)."""
    if cache := os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE"):
        return Path(cache).expanduser()
    home = os.environ.get("HF_HOME")
    if home:
        return Path(home).expanduser() / "hub"
    return user_cache_dir() / "huggingface" / "hub"


def cached_weights(model: KnownModel) -> Path | None:
    """The model's weights file in the hub cache, or None when they would have to be fetched."""
    from huggingface_hub import try_to_load_from_cache

    for name in WEIGHT_FILES:
        found = try_to_load_from_cache(model.hf_repo, name, cache_dir=hub_cache())
        if isinstance(found, str):  # else None, or a marker that the hub has no such file
            return Path(found)
    return None


def human_size(size: int) -> str:
    return f"{size / 1e9:.1f} GB" if size >= 1e9 else f"{size / 1e6:.0f} MB"


class PullError(RuntimeError):
    """Weights that could not be fetched or do not load; str() is one line."""


def hub_repo(spec: str) -> str:
    """The Hugging Face repository open_clip fetches ARCH:PRETRAINED from."""
    if (entry := known(spec)) is not None:
        return entry.hf_repo
    arch, _, tag = spec.partition(":")
    import open_clip

    repo = (open_clip.get_pretrained_cfg(arch, tag) or {}).get("hf_hub", "")
    if not repo:
        raise PullError(
            f"{spec} is not an open_clip model on the Hugging Face hub "
            "(hygiene models list shows the known ones)"
        )
    return repo.rstrip("/")


def pull(spec: str) -> Path:
    """Download the model's weights into the Hugging Face cache (huggingface_hub draws the
    progress bar; its log lines are kept off the terminal) and return the file. The weights
    open_clip prefers come first."""
    from huggingface_hub import constants, hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError, LocalEntryNotFoundError

    from hygiene.categorize.embed import library_logs_captured

    repo = hub_repo(spec)
    check_reachable(constants.ENDPOINT)
    reason, logged = "", []
    with library_logs_captured(logged):
        for name in WEIGHT_FILES:
            try:
                return Path(hf_hub_download(repo, name))
            except LocalEntryNotFoundError as exc:  # the hub could not be asked (a subclass)
                reason = " ".join(str(exc).split())[:200]
                break
            except EntryNotFoundError:
                continue  # the repository has the other format
            except (HfHubHTTPError, OSError) as exc:
                reason = " ".join(str(exc).split())[:200]
                break
    raise PullError(f"cannot download {spec} from {repo}: {reason or 'no weights file there'}")


def check_reachable(endpoint: str) -> None:
    """Fail in seconds, in one line, where there is no network (huggingface_hub would retry
    for half a minute per file). Behind a proxy the proxy decides: no probe."""
    if any(os.environ.get(name) for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY")):
        return
    parts = urlsplit(endpoint)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname or "", port), timeout=5).close()
    except OSError as exc:
        raise PullError(
            f"no network: cannot reach {parts.hostname}:{port} ({exc.strerror or exc})"
        ) from None
