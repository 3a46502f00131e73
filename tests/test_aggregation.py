import jax
import jax.numpy as jnp
import numpy as np
import pytest

from racer_jax._src import aggregation
from racer_jax._src.aggregation import NO_ANSWER

A, B, C, D, X = 0, 1, 2, 3, -1  # X: unparseable


def test_majority_picks_plurality():
    choices = jnp.array([[A, B, B, C]])
    members = jnp.array([[True, True, True, True]])
    scores = jnp.array([[0.9, 0.1, 0.2, 0.3]])
    vote = aggregation.majority_vote(choices, members, scores)
    assert int(vote.answer[0]) == B
    assert not bool(vote.abstained[0])


def test_majority_tie_broken_by_router_score():
    choices = jnp.array([[A, B, A, B], [A, B, A, B]])
    members = jnp.ones((2, 4), dtype=bool)
    # Query 0: B's best voter (0.8) outranks A's best (0.7); query 1: A's best (0.9) wins.
    scores = jnp.array([[0.7, 0.8, 0.1, 0.2], [0.9, 0.8, 0.1, 0.2]])
    vote = aggregation.majority_vote(choices, members, scores)
    np.testing.assert_array_equal(vote.answer, [B, A])


def test_majority_exact_tie_goes_to_lowest_choice():
    vote = aggregation.majority_vote(jnp.array([[C, B]]), jnp.array([[True, True]]), jnp.array([[0.5, 0.5]]))
    assert int(vote.answer[0]) == B


def test_majority_counts_only_members():
    choices = jnp.array([[A, A, A, D]])
    members = jnp.array([[False, False, True, True]])
    scores = jnp.array([[0.9, 0.9, 0.1, 0.6]])
    # A and D tie 1-1 inside the set; D's voter has the higher router score.
    assert int(aggregation.majority_vote(choices, members, scores).answer[0]) == D


def test_empty_set_abstains():
    vote = aggregation.majority_vote(jnp.array([[A, B]]), jnp.array([[False, False]]), jnp.array([[0.5, 0.4]]))
    assert bool(vote.abstained[0])
    assert int(vote.answer[0]) == NO_ANSWER


def test_unparseable_answers_cast_no_vote():
    choices = jnp.array([[X, X, C], [X, X, X]])
    members = jnp.array([[True, True, True], [True, True, False]])
    scores = jnp.array([[0.9, 0.8, 0.1], [0.9, 0.8, 0.1]])
    vote = aggregation.majority_vote(choices, members, scores)
    assert int(vote.answer[0]) == C
    # Members were called but none parsed: no answer, yet not an abstention.
    assert int(vote.answer[1]) == NO_ANSWER
    assert not bool(vote.abstained[1])


def test_weighted_vote_uses_router_scores_by_default():
    choices = jnp.array([[A, B, B]])
    members = jnp.ones((1, 3), dtype=bool)
    scores = jnp.array([[0.9, 0.3, 0.4]])  # A: 0.9 beats B: 0.7
    assert int(aggregation.weighted_vote(choices, members, scores).answer[0]) == A
    assert int(aggregation.majority_vote(choices, members, scores).answer[0]) == B


def test_weighted_vote_uses_confidence_when_given():
    choices = jnp.array([[A, B, B]])
    members = jnp.ones((1, 3), dtype=bool)
    scores = jnp.array([[0.9, 0.3, 0.4]])
    confidence = jnp.array([[0.2, 0.5, 0.5]])  # B: 1.0 beats A: 0.2
    assert int(aggregation.weighted_vote(choices, members, scores, confidence).answer[0]) == B


def test_weighted_tie_broken_by_router_score():
    choices = jnp.array([[A, B]])
    members = jnp.ones((1, 2), dtype=bool)
    confidence = jnp.array([[0.5, 0.5]])
    scores = jnp.array([[0.2, 0.6]])
    assert int(aggregation.weighted_vote(choices, members, scores, confidence).answer[0]) == B


def test_baselines():
    choices = jnp.array([[A, B, B], [C, C, D], [X, D, D]])
    scores = jnp.array([[0.9, 0.1, 0.2], [0.1, 0.2, 0.8], [0.7, 0.1, 0.2]])
    np.testing.assert_array_equal(aggregation.top1_models(scores), [0, 2, 0])
    np.testing.assert_array_equal(aggregation.top1_answer(choices, scores).answer, [A, D, X])
    np.testing.assert_array_equal(aggregation.full_ensemble_vote(choices, scores).answer, [B, C, D])
    correct = jnp.array([[False, True, True], [True, True, False], [False, True, True]])
    calibration = jnp.array([True, True, False])
    # On the two calibration queries model 1 is right twice, models 0 and 2 once.
    assert int(aggregation.best_single_model(correct, calibration)) == 1


def test_is_correct_treats_missing_as_wrong():
    right = aggregation.is_correct(jnp.array([A, NO_ANSWER, B, C]), jnp.array([A, NO_ANSWER, C, -1]))
    np.testing.assert_array_equal(right, [True, False, False, False])


def test_vote_under_jit_and_vmap():
    key = jax.random.key(3)
    k1, k2, k3 = jax.random.split(key, 3)
    choices = jax.random.randint(k1, (5, 6, 4), -1, 4)
    members = jax.random.bernoulli(k2, 0.5, (5, 6, 4))
    scores = jax.random.uniform(k3, (5, 6, 4))
    batched = jax.jit(jax.vmap(aggregation.majority_vote))(choices, members, scores)
    single_vote = jax.jit(aggregation.majority_vote)
    for b in range(5):
        single = single_vote(choices[b], members[b], scores[b])
        np.testing.assert_array_equal(batched.answer[b], single.answer)
        np.testing.assert_array_equal(batched.abstained[b], single.abstained)


def test_majority_matches_brute_force():
    rng = np.random.default_rng(7)
    choices = rng.integers(-1, 4, size=(300, 5))
    members = rng.random((300, 5)) < 0.6
    scores = rng.random((300, 5))
    vote = aggregation.majority_vote(choices, members, scores)
    for i in range(300):
        voters = [m for m in range(5) if members[i, m] and choices[i, m] >= 0]
        if not voters:
            assert int(vote.answer[i]) == NO_ANSWER
            continue
        counts = {c: sum(choices[i, m] == c for m in voters) for c in range(4)}
        top = max(counts.values())
        tied = [c for c in range(4) if counts[c] == top]
        best = max(tied, key=lambda c: (max(scores[i, m] for m in voters if choices[i, m] == c), -c))
        assert int(vote.answer[i]) == best


def test_shape_mismatch_is_rejected():
    with pytest.raises(ValueError, match="members"):
        aggregation.majority_vote(jnp.zeros((2, 3), int), jnp.ones((2, 4), bool), jnp.zeros((2, 3)))
