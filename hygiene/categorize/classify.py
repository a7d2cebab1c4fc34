"""Zero-shot categories from CLIP embeddings: prompt ensembles in, labels with evidence out. Pure.

For each category the text embeddings of its prompts are normalised, averaged and normalised
again (the ensemble). An image's cosine similarity to every ensemble is scaled by the model's
learned logit scale and turned into probabilities with a softmax. The image goes to `_Review`
instead of its best category when:
- the image is closer to that category's negative ensemble than to the category itself,
- the best probability is below the category's own threshold,
- the best category fits no better than the neutral prompts ("a photo"), or
- the margin over the runner-up is below `uncertain_margin` and `review_uncertain` is on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from hygiene.records import Category

REVIEW = "_Review"


@dataclass(frozen=True, slots=True)
class CategorySet:
    categories: tuple[Category, ...]
    neutral_prompts: tuple[str, ...] = ()
    uncertain_margin: float = 0.10
    review_uncertain: bool = True


@dataclass(frozen=True, slots=True)
class TextMatrix:
    """Unit-length ensembles, one row per category (negatives: zero rows where none given)."""

    positive: np.ndarray  # (C, D)
    negative: np.ndarray  # (C, D)
    neutral: np.ndarray | None  # (D,)


@dataclass(frozen=True, slots=True)
class Verdict:
    category: str  # a category name or REVIEW
    best: str  # the most probable category, even when the verdict is REVIEW
    confidence: float  # probability of `best`
    margin: float  # probability of `best` minus the runner-up's
    uncertain: bool
    reason: str  # why REVIEW, empty otherwise


def ensemble(embeddings: np.ndarray) -> np.ndarray:
    """Mean of the unit-length rows, itself made unit length."""
    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    mean = unit.mean(axis=0)
    return mean / np.linalg.norm(mean)


def all_prompts(categories: CategorySet) -> list[str]:
    """Every prompt text_matrix encodes, each once."""
    prompts = [p for c in categories.categories for p in (*c.prompts, *c.negative_prompts)]
    return list(dict.fromkeys([*prompts, *categories.neutral_prompts]))


def text_matrix(categories: CategorySet, encode: Callable[[list[str]], np.ndarray]) -> TextMatrix:
    """Ensembles for every category, through `encode` (prompts -> one embedding per prompt)."""
    positive = np.stack([ensemble(encode(list(c.prompts))) for c in categories.categories])
    negative = np.zeros_like(positive)
    for row, category in enumerate(categories.categories):
        if category.negative_prompts:
            negative[row] = ensemble(encode(list(category.negative_prompts)))
    neutral = (
        ensemble(encode(list(categories.neutral_prompts))) if categories.neutral_prompts else None
    )
    return TextMatrix(positive, negative, neutral)


def probabilities(images: np.ndarray, texts: TextMatrix, logit_scale: float) -> np.ndarray:
    """Softmax over categories of logit_scale x cosine similarity, for unit-length image rows."""
    logits = logit_scale * (images @ texts.positive.T)
    logits -= logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    return exp / exp.sum(axis=1, keepdims=True)


def decide(
    images: np.ndarray, texts: TextMatrix, logit_scale: float, categories: CategorySet
) -> list[Verdict]:
    probs = probabilities(images, texts, logit_scale)
    similarity = images @ texts.positive.T
    negative = images @ texts.negative.T
    neutral = images @ texts.neutral if texts.neutral is not None else None
    verdicts = []
    for row in range(len(images)):
        order = np.argsort(-probs[row])
        best = int(order[0])
        runner_up = float(probs[row, order[1]]) if len(order) > 1 else 0.0
        confidence = float(probs[row, best])
        margin = confidence - runner_up
        uncertain = margin < categories.uncertain_margin
        category = categories.categories[best]
        reason = _review_reason(
            category,
            confidence,
            float(similarity[row, best]),
            float(negative[row, best]),
            None if neutral is None else float(neutral[row]),
            uncertain and categories.review_uncertain,
        )
        verdicts.append(
            Verdict(
                REVIEW if reason else category.name,
                category.name,
                confidence,
                margin,
                uncertain,
                reason,
            )
        )
    return verdicts


def _review_reason(
    category: Category,
    confidence: float,
    similarity: float,
    negative: float,
    neutral: float | None,
    unsure: bool,
) -> str:
    if category.negative_prompts and negative > similarity:
        return "closer to the category's negative prompts"
    if category.threshold is not None and confidence < category.threshold:
        return f"confidence {confidence:.2f} below the category threshold {category.threshold:.2f}"
    if neutral is not None and similarity <= neutral:
        return "fits no better than the neutral prompts"
    if unsure:
        return "too close to the runner-up"
    return ""
