"""The categorization stage: open_clip embeddings of the survivors, scored against prompt sets.

embed wraps the model (torch and open_clip are imported only when a model is loaded); classify
scores embeddings against prompt ensembles (pure); stage feeds the survivors through both.
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
from hygiene.categorize.stage import CategorizeReport, Labelled, categorize

__all__ = [
    "CategorizeReport",
    "CategorySet",
    "Labelled",
    "ModelSource",
    "ModelUnavailable",
    "categorize",
    "default_batch_size",
    "load_model",
    "model_identity",
    "pick_device",
]
