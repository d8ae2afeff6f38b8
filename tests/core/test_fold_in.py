import time

import numpy as np
import pytest

from recsys_core.model import MatrixFactorization, UserVector
from tests.core._helpers import ml100k_fold, tiny_ratings


@pytest.fixture(scope="module")
def fitted():
    train, _ = ml100k_fold(1)
    return MatrixFactorization().fit(train), train


def test_fold_in_own_ratings_reproduces_stored_vector(fitted):
    model, train = fitted
    for user in (1, 13, 405):
        rows = train[train.user_id == user]
        stored = model.user_vector(user)
        vec = model.solve_user(rows.item_id, rows.rating)
        assert vec.bias == pytest.approx(stored.bias, abs=1e-9)
        np.testing.assert_allclose(vec.factors, stored.factors, atol=1e-9)
        # order of the ratings does not matter
        shuffled = rows.sample(frac=1.0, random_state=1)
        np.testing.assert_allclose(
            model.solve_user(shuffled.item_id, shuffled.rating).factors, stored.factors, atol=1e-9
        )


def test_fold_in_is_the_regularized_least_squares_solution(fitted):
    model, _ = fitted
    items = np.array([1, 50, 100, 181, 258, 7])
    ratings = np.array([5.0, 5, 4, 5, 3, 2])
    vec = model.solve_user(items, ratings)
    idx = model._items.lookup(items)
    y = model.item_factors[idx]
    resid = ratings - model.global_mean - model.item_bias[idx] - vec.bias - y @ vec.factors
    p = model.params
    n = len(items)
    grad_b = -2 * resid.sum() + 2 * p.bias_regularization * vec.bias
    grad_x = -2 * y.T @ resid + 2 * p.regularization * n**p.regularization_exponent * vec.factors
    assert abs(grad_b) < 1e-9
    np.testing.assert_allclose(grad_x, 0, atol=1e-9)


def test_fold_in_new_user_is_stored_and_recommendable(fitted):
    train, _ = ml100k_fold(1)
    model = MatrixFactorization(epochs=3).fit(train)
    n_before = model.n_users
    vec = model.fold_in(999001, [1, 50, 172, 999999], [5, 5, 4, 3])  # last item unknown
    assert isinstance(vec, UserVector)
    assert model.n_users == n_before + 1 and model.user_ids[-1] == 999001
    np.testing.assert_allclose(model.user_vector(999001).factors, vec.factors)
    pred = model.predict([999001], [181])[0]
    assert pred == pytest.approx(model.predict_vector(vec, [181])[0])
    ids, _ = model.recommend(999001, n=10)
    assert not {1, 50, 172} & set(ids.tolist())
    batch_ids, _ = model.recommend_batch([999001, 1], n=10)
    assert list(batch_ids[0]) == list(ids)
    assert list(model.seen_items(999001)[0]) == [1, 50, 172]
    e = model.explain(999001, 181)
    assert abs(e.contributions.sum() - e.interaction) < 1e-8


def test_fold_in_known_user_replaces_vector_and_seen(fitted):
    train, _ = ml100k_fold(1)
    model = MatrixFactorization(epochs=3).fit(train)
    before = model.user_vector(1)
    model.fold_in(1, [2, 3], [1.0, 1.0])
    after = model.user_vector(1)
    assert not np.allclose(before.factors, after.factors)
    assert list(model.seen_items(1)[0]) == [2, 3]
    ids, _ = model.recommend(1, n=model.n_items)
    assert 2 not in ids.tolist() and 1 in ids.tolist()  # item 1 no longer "seen"
    batch, batch_scores = model.recommend_batch([1], n=model.n_items)
    valid = batch[0][np.array([x is not None for x in batch[0]])]
    assert len(valid) == len(ids) == model.n_items - 2
    assert set(valid.tolist()) == set(ids.tolist())  # near-ties may swap order
    np.testing.assert_allclose(batch_scores[0, : len(ids)], model.recommend(1, n=len(ids))[1])


def test_solve_user_does_not_store(fitted):
    model, _ = fitted
    n = model.n_users
    model.solve_user([1, 2], [4, 5])
    assert model.n_users == n and model.user_vector("ghost") is None


def test_no_known_items_gives_bias_only_vector(fitted):
    model, _ = fitted
    vec = model.solve_user([123456789], [5.0])
    assert vec.bias == 0 and np.all(vec.factors == 0)
    vec = model.solve_user([], [])
    assert vec.bias == 0


def test_recommend_vector_excludes(fitted):
    model, _ = fitted
    vec = model.solve_user([1, 50], [5, 5])
    ids, scores = model.recommend_vector(vec, n=5, exclude_item_ids=[1, 50])
    assert len(ids) == 5 and not {1, 50} & set(ids.tolist())
    np.testing.assert_allclose(scores, model.predict_vector(vec, ids))
    with pytest.raises(ValueError, match="factors"):
        model.recommend_vector(UserVector(0.0, np.zeros(3)), n=5)


def test_fold_in_bad_input(fitted):
    model, _ = fitted
    with pytest.raises(ValueError, match="same length"):
        model.solve_user([1, 2], [5.0])
    with pytest.raises(ValueError, match="duplicates"):
        model.solve_user([1, 1], [5.0, 4.0])
    with pytest.raises(ValueError, match="NaN"):
        model.solve_user([1], [np.nan])
    m = MatrixFactorization(n_factors=2, epochs=2).fit(tiny_ratings())
    with pytest.raises(ValueError, match="string ids"):
        m.fold_in(42, ["m1"], [3.0])


def test_fold_in_is_fast(fitted):
    model, _ = fitted
    rng = np.random.default_rng(0)
    items = rng.choice(model.item_ids, 200, replace=False)
    ratings = rng.integers(1, 6, 200).astype(float)
    model.fold_in(10**6, items, ratings)
    times = []
    for k in range(30):
        t = time.perf_counter()
        model.fold_in(10**6 + 1 + k, items, ratings)
        times.append(time.perf_counter() - t)
    assert np.median(times) < 0.005  # measured ~0.2 ms; generous for CI machines


@pytest.mark.parametrize("n_rows", [7, 40])  # row by row, and the vectorized solver
def test_solve_users_agrees_with_one_solve_per_user(fitted, n_rows):
    """The batched solve used for rating batches against the one-user reference."""
    model, train = fitted
    rng = np.random.default_rng(3)
    users = [1, 13, 405, 7]
    picked = [train[train.user_id == u].sample(n=int(rng.integers(1, 40)), random_state=u) for u in users]
    rows = np.concatenate([np.full(len(p), r) for r, p in enumerate(picked)] + [[5]])
    items = np.concatenate([p.item_id.to_numpy() for p in picked] + [[999_999]])  # unknown item: ignored
    ratings = np.concatenate([p.rating.to_numpy() for p in picked] + [[4.0]])
    order = rng.permutation(len(rows))  # input order must not matter
    solved = model.solve_users(rows[order], items[order], ratings[order], n_rows=n_rows)
    for r, p in enumerate(picked):
        one = model.solve_user(p.item_id, p.rating)
        assert solved[r, 0] == pytest.approx(one.bias, abs=1e-9)
        np.testing.assert_allclose(solved[r, 1:], one.factors, atol=1e-9)
    np.testing.assert_array_equal(solved[4:], 0.0)  # no ratings, or only unknown items

    vectors = [UserVector(float(s[0]), s[1:]) for s in solved[:4]]
    query_rows = np.array([0, 0, 1, 2, 3, 3])
    query_items = np.array([50, 999_999, 181, 1, 258, 100])
    batched = model.predict_vectors(solved[:4, 0], solved[:4, 1:], query_rows, query_items)
    expected = [model.predict_vector(vectors[r], [i])[0] for r, i in zip(query_rows, query_items)]
    np.testing.assert_allclose(batched, expected, atol=1e-12)


def test_solve_users_refuses_a_row_that_rates_an_item_twice(fitted):
    model, _ = fitted
    with pytest.raises(ValueError, match="twice"):
        model.solve_users([0, 0], [50, 50], [4.0, 5.0], n_rows=1)
