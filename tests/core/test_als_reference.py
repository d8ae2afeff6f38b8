"""The vectorized ALS half-step must agree with the slow reference solver."""

import numpy as np
import pytest
import scipy.sparse as sp

from recsys_core import _als
from recsys_core.model import MatrixFactorization
from tests.core._helpers import random_ratings


def _problem(seed=0, n_rows=37, n_cols=23, density=0.3, f=4):
    rng = np.random.default_rng(seed)
    dense = (rng.random((n_rows, n_cols)) < density) * rng.integers(1, 6, (n_rows, n_cols))
    dense[3] = 0  # a row without ratings
    m = sp.csr_matrix(dense.astype(float))
    counts = np.diff(m.indptr)
    other_f = rng.normal(size=(n_cols, f))
    other_b = rng.normal(size=n_cols)
    pen = _als.penalty_diagonal(counts, f, 0.7, 2.0, 0.6)
    return m, m.data - 3.0, other_b, other_f, pen


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_vectorized_matches_reference_half_step(seed):
    m, res, ob, of, pen = _problem(seed)
    fast = _als.solve_side(m, res, ob, of, pen, solver="vectorized")
    slow = _als.solve_side(m, res, ob, of, pen, solver="reference")
    np.testing.assert_allclose(fast.bias, slow.bias, atol=1e-10)
    np.testing.assert_allclose(fast.factors, slow.factors, atol=1e-10)
    np.testing.assert_allclose(fast.sse, slow.sse, atol=1e-8)
    np.testing.assert_allclose(fast.penalty, slow.penalty, atol=1e-10)
    # the empty row solves to zero
    assert np.all(fast.factors[3] == 0) and fast.bias[3] == 0


def test_small_chunks_match_one_chunk():
    m, res, ob, of, pen = _problem(5)
    aug = _als.augmented(of)
    targets = res - ob[m.indices]
    one, xb1 = _als.solve_rows(m, targets, aug, pen)
    many, xb2 = _als.solve_rows(m, targets, aug, pen, chunk_rows=4)
    np.testing.assert_allclose(one, many, atol=1e-12)
    np.testing.assert_allclose(xb1, xb2, atol=1e-12)


def test_sse_is_the_true_squared_error():
    m, res, ob, of, pen = _problem(3)
    step = _als.solve_side(m, res, ob, of, pen)
    rows = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
    pred = step.bias[rows] + (step.factors[rows] * of[m.indices]).sum(1)
    err = np.bincount(rows, (res - ob[m.indices] - pred) ** 2, minlength=m.shape[0])
    np.testing.assert_allclose(step.sse, err, atol=1e-8)


def test_solution_is_the_regularized_least_squares_minimum():
    m, res, ob, of, pen = _problem(4)
    step = _als.solve_side(m, res, ob, of, pen)
    row = 7
    cols = m.indices[m.indptr[row] : m.indptr[row + 1]]
    t = res[m.indptr[row] : m.indptr[row + 1]] - ob[cols]
    aug = _als.augmented(of[cols])
    x = np.concatenate(([step.bias[row]], step.factors[row]))
    grad = -2 * aug.T @ (t - aug @ x) + 2 * pen[row] * x
    np.testing.assert_allclose(grad, 0, atol=1e-9)
    np.testing.assert_allclose(_als.solve_one(aug, t, pen[row]), x, atol=1e-10)


def test_whole_fit_agrees_between_solvers():
    ratings = random_ratings(n_users=25, n_items=15, seed=3)
    kw = {"n_factors": 3, "epochs": 4, "seed": 1}
    fast = MatrixFactorization(**kw).fit(ratings)
    slow = MatrixFactorization(**kw, solver="reference").fit(ratings)
    # the fast path accumulates Gram matrices in float32
    np.testing.assert_allclose(fast.user_factors, slow.user_factors, atol=1e-4)
    np.testing.assert_allclose(fast.item_bias, slow.item_bias, atol=1e-4)
    assert abs(fast.history[-1].train_rmse - slow.history[-1].train_rmse) < 1e-5


def test_unknown_solver_is_refused():
    m, res, ob, of, pen = _problem()
    with pytest.raises(ValueError, match="solver"):
        _als.solve_side(m, res, ob, of, pen, solver="magic")
