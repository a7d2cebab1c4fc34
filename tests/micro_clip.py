"""A micro CLIP, trained in seconds on generated captioned images, saved as a local open_clip
model folder: the tests load it through the same code path as real weights."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

# What each class looks like, and the captions the micro model learns for it.
CLASSES: dict[str, list[str]] = {
    "red": ["a red square", "a red picture", "something red"],
    "blue": ["a blue circle", "a blue picture", "something blue"],
    "text": ["black text on white paper", "a page of writing", "a document with lines of text"],
}
_SIDE = 32
_CONFIG = {
    "model_cfg": {
        "embed_dim": 32,
        "vision_cfg": {
            "image_size": _SIDE,
            "layers": 2,
            "width": 64,
            "patch_size": 8,
            "head_width": 32,
        },
        "text_cfg": {
            "context_length": 16,
            "vocab_size": 49408,
            "width": 64,
            "heads": 2,
            "layers": 2,
        },
    },
    "preprocess_cfg": {"mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]},
}


def draw(kind: str, rng: np.random.Generator, side: int = 96) -> Image.Image:
    if kind == "text":
        image = Image.new("RGB", (side, side), tuple(int(v) for v in rng.integers(235, 256, 3)))
        pen = ImageDraw.Draw(image)
        for y in range(8, side - 8, 12):
            pen.line(
                [(8, y), (int(rng.integers(side // 2, side - 8)), y)], fill=(20, 20, 20), width=3
            )
        return image
    background = tuple(int(v) for v in rng.integers(90, 170, 3))
    image = Image.new("RGB", (side, side), background)
    pen = ImageDraw.Draw(image)
    colour = (
        (int(rng.integers(190, 256)), 20, 20)
        if kind == "red"
        else (20, 40, int(rng.integers(190, 256)))
    )
    x0, y0 = int(rng.integers(0, side // 3)), int(rng.integers(0, side // 3))
    box = [x0, y0, x0 + side // 2 + 10, y0 + side // 2 + 10]
    (pen.rectangle if kind == "red" else pen.ellipse)(box, fill=colour)
    return image


def train(folder: Path, *, steps: int = 250, seed: int = 0) -> Path:
    """Train and save the micro model into `folder` (open_clip local-dir layout)."""
    import open_clip
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "open_clip_config.json").write_text(json.dumps(_CONFIG))
    name = f"local-dir:{folder}"
    model, _, preprocess = open_clip.create_model_and_transforms(name, pretrained=None)
    tokenizer = open_clip.get_tokenizer(name)
    optimiser = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.0)
    kinds = list(CLASSES)
    model.train()
    for _ in range(steps):
        batch = [kinds[i % len(kinds)] for i in rng.permutation(48)]
        images = torch.stack([preprocess(draw(k, rng)) for k in batch])
        texts = tokenizer([CLASSES[k][int(rng.integers(0, len(CLASSES[k])))] for k in batch])
        image_features = model.encode_image(images, normalize=True)
        text_features = model.encode_text(texts, normalize=True)
        loss = _soft_clip_loss(image_features, text_features, model.logit_scale.exp(), batch)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    torch.save(model.state_dict(), folder / "open_clip_pytorch_model.bin")
    return folder


def _soft_clip_loss(image_features, text_features, scale, kinds):
    """Contrastive loss where every caption of the same class counts as a match."""
    import torch

    same = torch.tensor([[a == b for b in kinds] for a in kinds], dtype=torch.float32)
    targets = same / same.sum(dim=1, keepdim=True)
    logits = scale * image_features @ text_features.T
    image_loss = -(targets * logits.log_softmax(dim=1)).sum(dim=1).mean()
    text_loss = -(targets * logits.T.log_softmax(dim=1)).sum(dim=1).mean()
    return (image_loss + text_loss) / 2


def write_archive(root: Path, per_class: int, seed: int) -> dict[str, str]:
    """PNG files of every class under `root`; returns file name -> class."""
    from hygiene.demo import samples

    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    truth = {}
    for kind in CLASSES:
        for i in range(per_class):
            name = f"{kind}_{i}.png"
            (root / name).write_bytes(samples.encoded(draw(kind, rng), "PNG"))
            truth[name] = kind
    return truth


def untrained(folder: Path, *, image_size: int, seed: int = 0) -> Path:
    """An open_clip model folder with random weights whose image tower takes `image_size` px
    (as a 336-px model would): for what a model's input size changes, not for its labels."""
    import open_clip
    import torch

    torch.manual_seed(seed)
    config = json.loads(json.dumps(_CONFIG))
    config["model_cfg"]["vision_cfg"].update(image_size=image_size, patch_size=image_size // 4)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "open_clip_config.json").write_text(json.dumps(config))
    model = open_clip.create_model(f"local-dir:{folder}", pretrained=None)
    torch.save(model.state_dict(), folder / "open_clip_pytorch_model.bin")
    return folder
