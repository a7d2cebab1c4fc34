"""The categorization stage: open_clip embeddings of the survivors, scored against prompt sets.

embed wraps the model (torch and open_clip are imported only when a model is loaded); classify
scores embeddings against prompt ensembles (pure); inputs picks the pixels a model sees (the
scan's thumbnail, or the file itself for a model wider than it); stage feeds the survivors
through them.
"""

from hygiene.categorize.classify import CategorySet
from hygiene.categorize.embed import (
    ModelSource,
    ModelUnavailable,
    default_batch_size,
    load_model,
    model_identity,
    pick_device,
)
from hygiene.categorize.inputs import Originals
from hygiene.categorize.stage import CategorizeReport, Labelled, categorize

__all__ = [
    "CategorizeReport",
    "CategorySet",
    "Labelled",
    "ModelSource",
    "ModelUnavailable",
    "Originals",
    "categorize",
    "default_batch_size",
    "load_model",
    "model_identity",
    "pick_device",
]
