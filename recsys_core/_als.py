"""Alternating-least-squares kernels for biased matrix factorization.

One half-step solves, for every row ``u`` of a ratings matrix (users when
solving the user side, items when solving the item side), the regularized
least-squares problem

    min_{b_u, x_u}  sum_j (t_uj - b_u - x_u . y_j)^2
                    + bias_reg * b_u^2 + reg * n_u^e * |x_u|^2

where ``t_uj = r_uj - mu - b_j`` is the rating minus the global mean and the
*other* side's bias, ``y_j`` are the other side's factors, ``n_u`` is the
number of ratings of ``u`` and ``e`` the regularization exponent (``e = 1`` is
the weighted-lambda regularization of ALS-WR). Writing ``y~_j = [1, y_j]`` and
``x~_u = [b_u, x_u]`` the normal equations are

    (Y~_u^T Y~_u + diag(bias_reg, reg n_u^e, ..., reg n_u^e)) x~_u = Y~_u^T t_u.

Two solvers are provided, selected by ``solver=``:

* ``"vectorized"`` (:func:`solve_rows`): builds every row's Gram matrix at once
  as ``indicator @ flat_outer_products`` (a sparse-dense product over the upper
  triangle only), chunked over rows to bound memory, and solves all the small
  systems with one batched ``np.linalg.solve``. No Python loop per row.
* ``"reference"`` (:func:`solve_rows_reference`): an obvious loop over rows and
  ratings with one explicit solve per row. Slow; the tests check the
  vectorized path against it.

Both also return each row's squared training error and penalty, obtained for
free from the normal equations: with ``A x = b`` (``A`` including the penalty
``P``), ``sum_j (t_j - x.y~_j)^2 = sum_j t_j^2 - x.b - x^T P x``.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Literal, NamedTuple

import numpy as np
import scipy.sparse as sp

Solver = Literal["compiled", "vectorized", "reference"]

__all__ = [
    "HalfStep",
    "Solver",
    "augmented",
    "penalty_diagonal",
    "solve_one",
    "solve_rows",
    "solve_rows_reference",
    "solve_side",
]

#: Number of float64 Gram-matrix cells held at once per chunk (~64 MB).
_CHUNK_CELLS = 8_000_000


def solver_threads() -> int:
    """Threads for the row chunks: scipy's sparse product and LAPACK release the GIL, so
    chunks run in parallel (1.8x on 2 cores). ``RECSYS_THREADS`` overrides the CPU count."""
    configured = os.environ.get("RECSYS_THREADS")
    if configured:
        if not configured.isdigit() or int(configured) < 1:
            raise ValueError(f"RECSYS_THREADS must be a positive integer, got {configured!r}")
        return int(configured)
    return max(1, min(len(os.sched_getaffinity(0)), 8))


class HalfStep(NamedTuple):
    """Result of solving one side: biases, factors, and loss terms per row."""

    bias: np.ndarray
    factors: np.ndarray
    sse: np.ndarray  # squared training error of each row at the solution
    penalty: np.ndarray  # regularization term of each row at the solution


def augmented(factors: np.ndarray) -> np.ndarray:
    """Return ``[1, factors]`` row-wise (the bias column first)."""
    out = np.empty((factors.shape[0], factors.shape[1] + 1), dtype=factors.dtype)
    out[:, 0] = 1.0
    out[:, 1:] = factors
    return out


def penalty_diagonal(
    counts: np.ndarray, n_factors: int, reg: float, bias_reg: float, exponent: float
) -> np.ndarray:
    """Per-row penalty diagonals, shape ``(len(counts), n_factors + 1)``.

    Column 0 (the bias) is ``bias_reg``; the factor columns are
    ``reg * max(n, 1) ** exponent``. Rows without ratings keep a positive
    penalty so their systems stay non-singular and solve to zero.
    """
    counts = np.maximum(np.asarray(counts, dtype=np.float64), 1.0)
    out = np.empty((counts.shape[0], n_factors + 1), dtype=np.float64)
    out[:, 1:] = (reg * counts**exponent)[:, None]
    out[:, 0] = bias_reg
    return out


def solve_one(other_aug: np.ndarray, targets: np.ndarray, penalty: np.ndarray) -> np.ndarray:
    """Solve one row's ``[bias, factors]`` against the augmented rows it rated.

    ``other_aug`` holds rows ``[1, y_j]``, ``targets`` the matching
    ``r - mu - b_j`` and ``penalty`` the diagonal from :func:`penalty_diagonal`.
    """
    a = other_aug.T @ other_aug
    a.flat[:: a.shape[0] + 1] += penalty
    return np.linalg.solve(a, other_aug.T @ targets)


def solve_rows(
    matrix: sp.csr_matrix,
    targets: np.ndarray,
    other_aug: np.ndarray,
    penalty: np.ndarray,
    *,
    chunk_rows: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Vectorized half-step: solve ``[bias, factors]`` for every row of ``matrix``.

    ``matrix`` is the CSR pattern of the ratings (rows being solved, columns
    fixed); ``targets`` holds, aligned with ``matrix.data``, the values
    ``r - mu - b_col``; ``penalty`` has one diagonal per row. Returns the
    solutions ``(n_rows, k)`` (bias in column 0) and ``x.b`` per row.
    """
    n_rows = matrix.shape[0]
    k = other_aug.shape[1]
    dtype = other_aug.dtype
    iu0, iu1 = np.triu_indices(k)
    outer = other_aug[:, iu0] * other_aug[:, iu1]
    indicator = sp.csr_matrix(
        (np.ones(matrix.nnz, dtype=dtype), matrix.indices, matrix.indptr), shape=matrix.shape
    )
    weighted = sp.csr_matrix(
        (targets.astype(dtype, copy=False), matrix.indices, matrix.indptr), shape=matrix.shape
    )
    rhs = np.empty((n_rows, k), dtype=np.float64)
    threads = solver_threads()
    if chunk_rows is None:
        # Small enough to bound memory, and several chunks per thread to balance them.
        chunk_rows = max(1, min(_CHUNK_CELLS // (k * k), -(-n_rows // (4 * threads))))
    # Column of the upper-triangle array holding each cell of a full k x k matrix.
    tri_col = np.empty((k, k), dtype=np.intp)
    tri_col[iu0, iu1] = np.arange(len(iu0))
    tri_col[iu1, iu0] = np.arange(len(iu0))
    tri_col = tri_col.ravel()
    out = np.empty((n_rows, k), dtype=np.float64)

    def solve_chunk(start: int) -> None:
        stop = min(n_rows, start + chunk_rows)
        rhs[start:stop] = weighted[start:stop] @ other_aug
        tri = np.asarray(indicator[start:stop] @ outer, dtype=np.float64)
        gram = np.take(tri, tri_col, axis=1)
        gram[:, :: k + 1] += penalty[start:stop]
        gram = gram.reshape(stop - start, k, k)
        out[start:stop] = np.linalg.solve(gram, rhs[start:stop, :, None])[:, :, 0]

    starts = range(0, n_rows, chunk_rows)
    if threads == 1 or len(starts) == 1:
        for start in starts:
            solve_chunk(start)
    else:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(solve_chunk, starts))
    return out, np.einsum("ij,ij->i", out, rhs)


def solve_rows_reference(
    matrix: sp.csr_matrix,
    targets: np.ndarray,
    other_aug: np.ndarray,
    penalty: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Slow, obvious version of :func:`solve_rows`: one explicit solve per row."""
    n_rows = matrix.shape[0]
    k = other_aug.shape[1]
    other = np.asarray(other_aug, dtype=np.float64)
    out = np.zeros((n_rows, k))
    xb = np.zeros(n_rows)
    for row in range(n_rows):
        a = np.diag(penalty[row]).astype(np.float64)
        b = np.zeros(k)
        for pos in range(matrix.indptr[row], matrix.indptr[row + 1]):
            y = other[matrix.indices[pos]]
            a += np.outer(y, y)
            b += float(targets[pos]) * y
        out[row] = np.linalg.solve(a, b)
        xb[row] = out[row] @ b
    return out, xb


def solve_side(
    matrix: sp.csr_matrix,
    ratings_minus_mean: np.ndarray,
    other_bias: np.ndarray,
    other_factors: np.ndarray,
    penalty: np.ndarray,
    *,
    solver: Solver = "compiled",
    dtype: type = np.float64,
) -> HalfStep:
    """Solve one side given the other.

    ``matrix`` is CSR with rows being the side to solve; ``ratings_minus_mean``
    is aligned with ``matrix.data`` (``r - mu``); ``penalty`` comes from
    :func:`penalty_diagonal` for the rows' counts.
    """
    other_aug = augmented(np.asarray(other_factors, dtype=dtype))
    if solver == "compiled":
        from ._als_kernel import solve_rows_compiled  # imports numba: only when used

        sol, xb, tsq = solve_rows_compiled(
            matrix.indptr, matrix.indices, ratings_minus_mean, other_bias, other_aug, penalty,
            solver_threads(),
        )
        return _half_step(sol, xb, tsq, penalty)
    targets = ratings_minus_mean - other_bias[matrix.indices]
    if solver == "vectorized":
        sol, xb = solve_rows(matrix, targets, other_aug, penalty)
    elif solver == "reference":
        sol, xb = solve_rows_reference(matrix, targets, other_aug, penalty)
    else:
        raise ValueError(f"solver must be 'compiled', 'vectorized' or 'reference', got {solver!r}")
    row_of = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    tsq = np.bincount(row_of, weights=targets * targets, minlength=matrix.shape[0])
    return _half_step(sol, xb, tsq, penalty)


def _half_step(sol: np.ndarray, xb: np.ndarray, tsq: np.ndarray, penalty: np.ndarray) -> HalfStep:
    pen = np.einsum("ij,ij->i", sol * sol, penalty)
    sse = np.maximum(tsq - xb - pen, 0.0)
    return HalfStep(sol[:, 0].copy(), np.ascontiguousarray(sol[:, 1:]), sse, pen)
