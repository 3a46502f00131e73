"""Augmented scoring, nonconformity scores, nested sets and the misrouting loss."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from racer_jax import (
    NONCONFORMITY_OPTIONS,
    NULL_SCORE_OPTIONS,
    SCORE_UPPER_LIMIT,
    abstains,
    augment_scores,
    augmented_truth,
    cover_scores,
    empirical_risk,
    misrouting_loss,
    nonconformity_scores,
    prediction_sets,
    set_sizes,
)

# A few fixed shapes (K = 1 and n = 1 among them) keep JAX from compiling per example.
probability_matrices = st.sampled_from([(1, 1), (1, 4), (5, 1), (9, 3), (12, 6)]).flatmap(
    lambda shape: hnp.arrays(np.float32, shape, elements=st.sampled_from([0.0, 0.5, 1.0]) | st.floats(0, 1, width=32))
)


def all_scores(probs, correct):
    null_head = np.clip(1.0 - probs.mean(axis=1), 0, 1)
    for null in NULL_SCORE_OPTIONS:
        augmented = augment_scores(probs, null, null_head)
        for score in NONCONFORMITY_OPTIONS:
            yield null, score, nonconformity_scores(augmented, score)


@settings(max_examples=150, deadline=None)
@given(probs=probability_matrices, data=st.data())
def test_sets_nested_and_loss_monotone(probs, data):
    correct = data.draw(hnp.arrays(bool, probs.shape))
    lams = np.sort(np.asarray(data.draw(st.lists(st.floats(-1.5, 1.5), min_size=2, max_size=6)), dtype=np.float32))
    for _, _, scores in all_scores(probs, correct):
        sets = [np.asarray(prediction_sets(scores, lam)) for lam in lams]
        for smaller, larger in zip(sets, sets[1:]):
            assert np.all(~smaller | larger)  # C_λ1 ⊆ C_λ2
        cover = cover_scores(scores, correct)
        losses = np.asarray(misrouting_loss(cover, jnp.asarray(lams)))
        assert np.all(np.diff(losses, axis=0) <= 0)
        assert np.all((losses == 0) | (losses == 1))
        # L(x, λ) = 1 exactly when the set misses G'(x).
        truth = np.asarray(augmented_truth(correct))
        for members, loss in zip(sets, losses):
            assert np.array_equal(loss == 1, ~np.any(members & truth, axis=1))
        assert np.all(np.asarray(misrouting_loss(cover, SCORE_UPPER_LIMIT)) == 0)


@settings(max_examples=100, deadline=None)
@given(probs=probability_matrices)
def test_gap_score_never_empty(probs):
    for null in ("one-minus-max", "product", "always"):
        scores = nonconformity_scores(augment_scores(probs, null), "gap")
        assert np.all(np.asarray(prediction_sets(scores, 0.0)).any(axis=1))


def test_null_scores_by_hand():
    probs = jnp.array([[0.2, 0.6], [0.0, 0.0]])
    assert np.allclose(augment_scores(probs, "one-minus-max")[:, -1], [0.4, 1.0])
    assert np.allclose(augment_scores(probs, "product")[:, -1], [0.8 * 0.4, 1.0])
    assert np.allclose(augment_scores(probs, "always")[:, -1], [1.0, 1.0])
    assert np.allclose(augment_scores(probs, "learned", jnp.array([0.3, 0.9]))[:, -1], [0.3, 0.9])


def test_cover_score_and_sizes_by_hand():
    probs = jnp.array([[0.9, 0.5, 0.1], [0.2, 0.3, 0.1]])
    correct = np.array([[False, True, True], [False, False, False]])
    scores = nonconformity_scores(augment_scores(probs, "one-minus-max"), "gap")
    # Row 0: augmented (0.9, 0.5, 0.1, 0.1); gap scores (0, 0.4, 0.8, 0.8); G' = {1, 2}.
    # Row 1: augmented (0.2, 0.3, 0.1, 0.7); gap scores (0.5, 0.4, 0.6, 0); G' = {null}.
    assert np.allclose(cover_scores(scores, correct), [0.4, 0.0])
    assert np.allclose(set_sizes(scores, 0.45), [2, 1])
    assert np.array_equal(abstains(scores, 0.0), [False, True])
    assert np.allclose(empirical_risk(cover_scores(scores, correct), jnp.array([0.0, 0.4])), [0.5, 0.0])


def test_always_null_never_misroutes_unanswerable_queries():
    probs = jax.random.uniform(jax.random.key(0), (50, 4))
    correct = np.zeros((50, 4), dtype=bool)
    for score in NONCONFORMITY_OPTIONS:
        cover = cover_scores(nonconformity_scores(augment_scores(probs, "always"), score), correct)
        assert np.all(np.asarray(cover) <= 0.0)


def test_scoring_under_jit_and_vmap():
    probs = jax.random.uniform(jax.random.key(1), (3, 10, 4))
    correct = jax.random.bernoulli(jax.random.key(2), 0.5, (3, 10, 4))
    fn = jax.jit(jax.vmap(lambda p, y: cover_scores(nonconformity_scores(augment_scores(p, "product"), "inverse"), y)))
    batched = fn(probs, correct)
    for i in range(3):
        single = cover_scores(nonconformity_scores(augment_scores(probs[i], "product"), "inverse"), correct[i])
        assert np.array_equal(np.asarray(batched[i]), np.asarray(single))


def test_options_are_validated():
    with pytest.raises(ValueError, match="invalid null score 'never'"):
        augment_scores(jnp.zeros((2, 2)), "never")
    with pytest.raises(ValueError, match="invalid nonconformity score 'gapp'"):
        nonconformity_scores(jnp.zeros((2, 3)), "gapp")
    with pytest.raises(ValueError, match="needs null_head"):
        augment_scores(jnp.zeros((2, 2)), "learned")
