"""The real-time path: a user's state solved from their ratings (``user_states``),
scored through a ``UserProfile``. Nothing is stored in the model."""

import numpy as np
import pytest

from recsys_core.model import MatrixFactorization
from tests.core._helpers import ml100k_fold, tiny_ratings


@pytest.fixture(scope="module")
def fitted():
    train, _ = ml100k_fold(1)
    return MatrixFactorization().fit(train), train


def test_user_state_of_own_ratings_reproduces_trained_state(fitted):
    model, train = fitted
    for user in (1, 13, 405):
        rows = train[train.user_id == user]
        stored = model.trained_state(user)
        np.testing.assert_allclose(model.profile(rows.item_id, rows.rating).state, stored, atol=1e-9)
        # order of the ratings does not matter
        shuffled = rows.sample(frac=1.0, random_state=1)
        np.testing.assert_allclose(model.profile(shuffled.item_id, shuffled.rating).state, stored, atol=1e-9)


def test_user_state_is_the_regularized_least_squares_solution(fitted):
    model, _ = fitted
    items = np.array([1, 50, 100, 181, 258, 7])
    ratings = np.array([5.0, 5, 4, 5, 3, 2])
    state = model.profile(items, ratings).state
    bias, factors = state[0], state[1:]
    idx = model._items.lookup(items)
    y = model.item_factors[idx]
    resid = ratings - model.global_mean - model.item_bias[idx] - bias - y @ factors
    p = model.params
    n = len(items)
    grad_b = -2 * resid.sum() + 2 * p.bias_regularization * bias
    grad_x = -2 * y.T @ resid + 2 * p.regularization * n**p.regularization_exponent * factors
    assert abs(grad_b) < 1e-9
    np.testing.assert_allclose(grad_x, 0, atol=1e-9)


def test_new_user_profile_is_recommendable_and_not_stored(fitted):
    model, _ = fitted
    n_before = model.n_users
    profile = model.profile([1, 50, 172, 999999], [5, 5, 4, 3])  # last item unknown
    assert model.n_users == n_before and model.trained_state(999001) is None
    solved = model.user_states(np.zeros(4, dtype=np.int64), [1, 50, 172, 999999], [5, 5, 4, 3], 1)[0]
    np.testing.assert_allclose(profile.state, solved)
    pred = model.predict_profiles([profile], [0], [181])[0]
    assert pred == pytest.approx(np.clip(model.scores(profile)[model._items.get(181)], 1, 5))
    ids, scores = model.recommend(profile, n=10)
    assert not {1, 50, 172} & set(ids.tolist())
    np.testing.assert_allclose(scores, model.predict_profiles([profile], np.zeros(10, dtype=int), ids))
    e = model.explain(profile, 181)
    assert e.total() == pytest.approx(e.score, abs=1e-9)
    assert {t.item_id for t in e.terms if t.kind == "rated_item"} == {1, 50, 172}
    assert not [t for t in e.terms if t.kind == "residual"]  # the state is the exact re-solve


def test_a_known_users_new_ratings_make_a_new_profile(fitted):
    model, _ = fitted
    trained = model.trained_profile(1)
    profile = model.profile([2, 3], [1.0, 1.0])
    assert not np.allclose(trained.state, profile.state)
    np.testing.assert_array_equal(model.trained_state(1), trained.state)  # the model is unchanged
    ids, scores = model.recommend(profile, n=model.n_items)
    assert 2 not in ids.tolist() and 1 in ids.tolist()  # item 1 is not rated in this profile
    assert len(ids) == model.n_items - 2
    expected = model.scores(profile)
    np.testing.assert_allclose(scores, np.clip(expected[model._items.lookup(ids)], 1, 5))
    assert np.all(np.diff(expected[model._items.lookup(ids)]) <= 1e-12)


def test_user_states_do_not_store(fitted):
    model, _ = fitted
    n = model.n_users
    model.user_states([0, 0], [1, 2], [4, 5], 1)
    model.profile([1, 2], [4, 5])
    assert model.n_users == n and model.trained_profile("ghost") is None and model.trained_state("ghost") is None


def test_no_known_items_gives_bias_only_state(fitted):
    model, _ = fitted
    assert np.all(model.profile([123456789], [5.0]).state == 0)
    assert np.all(model.profile([], []).state == 0)
    ids, _ = model.recommend(model.profile([], []), n=5)
    assert list(ids) == list(model.item_ids[np.argsort(-model.item_bias, kind="stable")[:5]])


def test_recommend_excludes_the_given_items(fitted):
    model, _ = fitted
    profile = model.profile([1, 50], [5, 5])
    ids, scores = model.recommend(profile, n=5, exclude_item_ids=[1, 50])
    assert len(ids) == 5 and not {1, 50} & set(ids.tolist())
    np.testing.assert_allclose(scores, model.predict_profiles([profile], np.zeros(5, dtype=np.int64), ids))
    with pytest.raises(ValueError, match="factors"):
        model.recommend(model.profile([], [], state=np.zeros(3)), n=5)


def test_user_state_bad_input(fitted):
    model, _ = fitted
    with pytest.raises(ValueError, match="same length"):
        model.profile([1, 2], [5.0])
    with pytest.raises(ValueError, match="duplicates"):
        model.profile([1, 1], [5.0, 4.0])
    with pytest.raises(ValueError, match="NaN"):
        model.profile([1], [np.nan])
    with pytest.raises(ValueError, match="same length"):
        model.user_states([0, 0], [1, 2], [5.0], 1)
    m = MatrixFactorization(n_factors=2, epochs=2).fit(tiny_ratings())
    assert np.all(m.profile([42], [3.0]).state == 0)  # an int id in a string catalogue is unknown
    with pytest.raises(ValueError, match="state"):
        m.scores(m.profile(["m1"], [3.0], state=np.zeros(5)))


@pytest.mark.parametrize("n_rows", [7, 40])  # row by row, and the vectorized solver
def test_user_states_agrees_with_one_solve_per_user(fitted, n_rows):
    """The batched solve used for rating batches against the one-user reference."""
    model, train = fitted
    rng = np.random.default_rng(3)
    users = [1, 13, 405, 7]
    picked = [train[train.user_id == u].sample(n=int(rng.integers(1, 40)), random_state=u) for u in users]
    rows = np.concatenate([np.full(len(p), r) for r, p in enumerate(picked)] + [[5]])
    items = np.concatenate([p.item_id.to_numpy() for p in picked] + [[999_999]])  # unknown item: ignored
    ratings = np.concatenate([p.rating.to_numpy() for p in picked] + [[4.0]])
    order = rng.permutation(len(rows))  # input order must not matter
    solved = model.user_states(rows[order], items[order], ratings[order], n_rows=n_rows)
    profiles = [model.profile(p.item_id, p.rating) for p in picked]  # one solve per user
    for r, one in enumerate(profiles):
        assert solved[r, 0] == pytest.approx(one.state[0], abs=1e-9)
        np.testing.assert_allclose(solved[r, 1:], one.state[1:], atol=1e-9)
    np.testing.assert_array_equal(solved[4:], 0.0)  # no ratings, or only unknown items

    batched_profiles = [model.profile(p.item_id, p.rating, state=s) for p, s in zip(picked, solved[:4])]
    query_rows = np.array([0, 0, 1, 2, 3, 3])
    query_items = np.array([50, 999_999, 181, 1, 258, 100])
    batched = model.predict_profiles(batched_profiles, query_rows, query_items)
    expected = [model.predict_profiles([profiles[r]], [0], [i])[0] for r, i in zip(query_rows, query_items)]
    np.testing.assert_allclose(batched, expected, atol=1e-12)


def test_user_states_refuses_a_row_that_rates_an_item_twice(fitted):
    model, _ = fitted
    with pytest.raises(ValueError, match="twice"):
        model.user_states([0, 0], [50, 50], [4.0, 5.0], n_rows=1)
