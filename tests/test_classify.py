"""Zero-shot scoring checked against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hygiene.categorize.classify import REVIEW, Category, CategorySet, decide, ensemble, text_matrix

VECTORS = {
    "cat a": [1.0, 0.0, 0.0],
    "cat b": [0.0, 1.0, 0.0],
    "dog": [0.0, 1.0, 0.0],
    "neutral": [0.8, 0.6, 0.0],
    "not a": [0.6, 0.0, 0.8],
}


def encode(prompts: list[str]) -> np.ndarray:
    return np.array([VECTORS[p] for p in prompts], dtype=np.float64)


def unit(*values: float) -> np.ndarray:
    vector = np.array(values, dtype=np.float64)
    return vector / np.linalg.norm(vector)


def test_ensemble_is_the_renormalised_mean_of_unit_vectors():
    result = ensemble(np.array([[2.0, 0.0], [0.0, 5.0]]))
    assert result == pytest.approx([math.sqrt(0.5), math.sqrt(0.5)])


def test_probabilities_use_the_logit_scale_and_margin_is_top1_minus_top2():
    categories = CategorySet((Category("A", ("cat a",)), Category("B", ("dog",))))
    texts = text_matrix(categories, encode)
    (verdict,) = decide(unit(1, 0, 0)[None, :], texts, 10.0, categories)
    expected = math.exp(10) / (math.exp(10) + 1)  # logits 10 x (1, 0)
    assert verdict.category == "A" and verdict.confidence == pytest.approx(expected)
    assert verdict.margin == pytest.approx(expected - (1 - expected))
    assert not verdict.uncertain


def test_small_margin_is_uncertain_and_goes_to_review_when_asked():
    categories = CategorySet(
        (Category("A", ("cat a",)), Category("B", ("dog",))), uncertain_margin=0.5
    )
    texts = text_matrix(categories, encode)
    (verdict,) = decide(unit(1, 0, 0)[None, :], texts, 1.0, categories)  # p = 0.731 / 0.269
    assert verdict.margin == pytest.approx(math.tanh(0.5))
    assert verdict.uncertain and verdict.category == REVIEW and verdict.best == "A"
    keep = CategorySet(categories.categories, uncertain_margin=0.5, review_uncertain=False)
    (kept,) = decide(unit(1, 0, 0)[None, :], texts, 1.0, keep)
    assert kept.uncertain and kept.category == "A"


def test_category_threshold_sends_low_confidence_to_review():
    categories = CategorySet(
        (Category("A", ("cat a",), threshold=0.99), Category("B", ("dog",))), uncertain_margin=0
    )
    (verdict,) = decide(unit(1, 0, 0)[None, :], text_matrix(categories, encode), 3.0, categories)
    assert verdict.confidence == pytest.approx(math.exp(3) / (math.exp(3) + 1))  # 0.953 < 0.99
    assert verdict.category == REVIEW and "threshold" in verdict.reason


def test_neutral_prompts_are_a_floor():
    categories = CategorySet(
        (Category("A", ("cat a",)), Category("B", ("dog",))),
        neutral_prompts=("neutral",),
        uncertain_margin=0,
    )
    texts = text_matrix(categories, encode)
    above, below = decide(np.stack([unit(1, 0, 0), unit(0.8, 0.6, 0)]), texts, 10.0, categories)
    assert above.category == "A"  # cos to A = 1.0 > cos to neutral = 0.8
    assert below.category == REVIEW and "neutral" in below.reason  # 0.8 <= 1.0


def test_negative_prompts_veto_their_category():
    categories = CategorySet(
        (Category("A", ("cat a",), negative_prompts=("not a",)), Category("B", ("dog",))),
        uncertain_margin=0,
    )
    texts = text_matrix(categories, encode)
    plain, vetoed = decide(np.stack([unit(1, 0, 0), unit(0.6, 0, 0.8)]), texts, 10.0, categories)
    assert plain.category == "A"  # cos to "not a" 0.6 < cos to A 1.0
    assert vetoed.category == REVIEW and "negative" in vetoed.reason  # 1.0 > 0.6
