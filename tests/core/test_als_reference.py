"""The compiled (numba) and vectorized (numpy) ALS half-steps must agree with the slow
reference solver."""

import subprocess
import sys
import threading

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


@pytest.mark.parametrize("solver", ["compiled", "vectorized"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fast_solvers_match_reference_half_step(seed, solver):
    m, res, ob, of, pen = _problem(seed)
    fast = _als.solve_side(m, res, ob, of, pen, solver=solver)
    slow = _als.solve_side(m, res, ob, of, pen, solver="reference")
    np.testing.assert_allclose(fast.bias, slow.bias, atol=1e-10)
    np.testing.assert_allclose(fast.factors, slow.factors, atol=1e-10)
    np.testing.assert_allclose(fast.sse, slow.sse, atol=1e-8)
    np.testing.assert_allclose(fast.penalty, slow.penalty, atol=1e-10)
    # the empty row solves to zero
    assert np.all(fast.factors[3] == 0) and fast.bias[3] == 0


@pytest.mark.parametrize("f", [1, 3, 8, 15, 21])  # tiles of 4 features: all remainders
def test_compiled_matches_reference_at_every_factor_count(f):
    m, res, ob, of, pen = _problem(7, n_rows=60, n_cols=40, density=0.4, f=f)
    fast = _als.solve_side(m, res, ob, of, pen, solver="compiled")
    slow = _als.solve_side(m, res, ob, of, pen, solver="reference")
    np.testing.assert_allclose(fast.factors, slow.factors, atol=1e-9)
    np.testing.assert_allclose(fast.bias, slow.bias, atol=1e-9)
    np.testing.assert_allclose(fast.sse, slow.sse, atol=1e-7)


def test_compiled_float32_gram_stays_close_to_reference():
    m, res, ob, of, pen = _problem(8, n_rows=80, n_cols=50, density=0.5, f=15)
    fast = _als.solve_side(m, res, ob, of, pen, solver="compiled", dtype=np.float32)
    slow = _als.solve_side(m, res, ob, of, pen, solver="reference")
    np.testing.assert_allclose(fast.factors, slow.factors, atol=1e-4)
    # and float32 is really used: the answer is not bit-for-bit the float64 one
    exact = _als.solve_side(m, res, ob, of, pen, solver="compiled")
    assert not np.array_equal(fast.factors, exact.factors)


def test_compiled_threads_give_the_same_answer(monkeypatch):
    m, res, ob, of, pen = _problem(9, n_rows=301, n_cols=50, density=0.3, f=6)
    monkeypatch.setenv("RECSYS_THREADS", "1")
    one = _als.solve_side(m, res, ob, of, pen, solver="compiled")
    monkeypatch.setenv("RECSYS_THREADS", "4")  # 16 chunks of rows
    many = _als.solve_side(m, res, ob, of, pen, solver="compiled")
    np.testing.assert_array_equal(one.factors, many.factors)
    np.testing.assert_array_equal(one.sse, many.sse)


def test_compiled_is_safe_from_several_threads_at_once(monkeypatch):
    """A service folds in ratings while a worker thread trains: concurrent half-steps
    share the kernel and its thread pool and must not disturb each other."""
    monkeypatch.setenv("RECSYS_THREADS", "2")
    problems = [_problem(seed, n_rows=400, n_cols=60, density=0.3, f=5) for seed in range(6)]
    expected = [_als.solve_side(*p, solver="reference").factors for p in problems]
    got: dict[int, np.ndarray] = {}
    errors: list[BaseException] = []

    def solve(i: int) -> None:
        try:
            for _ in range(5):
                got[i] = _als.solve_side(*problems[i], solver="compiled").factors
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=solve, args=(i,)) for i in range(len(problems))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for i, want in enumerate(expected):
        np.testing.assert_allclose(got[i], want, atol=1e-9)


def test_importing_recsys_core_does_not_import_numba():
    """numba costs ~0.3 s to import: only the first compiled half-step pays it."""
    code = "import sys, recsys_core; print('numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


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


@pytest.mark.parametrize("solver", ["compiled", "vectorized"])
def test_whole_fit_agrees_between_solvers(solver):
    ratings = random_ratings(n_users=25, n_items=15, seed=3)
    kw = {"n_factors": 3, "epochs": 4, "seed": 1}
    fast = MatrixFactorization(**kw, solver=solver).fit(ratings)
    slow = MatrixFactorization(**kw, solver="reference").fit(ratings)
    # the fast paths accumulate Gram matrices in float32
    np.testing.assert_allclose(fast.user_factors, slow.user_factors, atol=1e-4)
    np.testing.assert_allclose(fast.item_bias, slow.item_bias, atol=1e-4)
    assert abs(fast.history[-1].train_rmse - slow.history[-1].train_rmse) < 1e-5


def test_default_solver_is_the_compiled_one():
    assert MatrixFactorization().params.solver == "compiled"


def test_unknown_solver_is_refused():
    m, res, ob, of, pen = _problem()
    with pytest.raises(ValueError, match="solver"):
        _als.solve_side(m, res, ob, of, pen, solver="magic")


def test_warm_up_compiles_what_training_uses():
    from recsys_core import _als_kernel

    _als_kernel.warm_up()
    dtypes = {str(sig[4].dtype) for sig in _als_kernel._solve_range.signatures}
    assert {"float32", "float64"} <= dtypes
