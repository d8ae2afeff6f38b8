"""The compiled ALS half-step (numba): the ``"compiled"`` solver of :mod:`._als`.

It solves the same normal equations as the numpy solver, row by row, straight from
the CSR arrays, with no Python per row and no ``nnz x k`` temporaries:

* **Gram matrix.** A row's other-side vectors are copied feature-major (one
  contiguous line per feature, zero-padded to a multiple of 16 ratings), so every
  Gram entry is a dot product of two lines, which the compiler vectorizes across
  ratings; a 4 x 4 tile of entries reuses each loaded line four times. Accumulated
  in the other side's dtype (float32 during the epochs, as the numpy solver does).
* **Solve.** Blocks of 16 rows are factorized together, lane-major, by Cholesky in
  float64, which hides the latency of each row's chain of square roots and
  divisions (2x faster than one row at a time at k = 16).
* **Loss terms.** The targets ``r - mu - b_col`` and their squares are formed in the
  same pass; the numpy solver spends several ``O(nnz)`` passes on them.

Rows are split into chunks of about equal work, solved on a kept thread pool: the
kernel releases the GIL (``nogil``), so the threads run on separate cores. Numba's own
``prange`` is not used on purpose: its default threading layer aborts the process
when two Python threads launch parallel kernels at once, which a service that folds
in ratings while a worker thread trains would do.

Importing this module imports numba (about 0.3 s): :mod:`._als` imports it at the
first compiled half-step, so ``import recsys_core`` does not pay for it, and
``cache=True`` keeps the machine code on disk (in ``__pycache__``, or
``NUMBA_CACHE_DIR``) so only the very first process compiles (a few seconds).
"""

from __future__ import annotations

import itertools
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

__all__ = ["solve_rows_compiled", "warm_up"]


# Reassociation lets the compiler vectorize the dot products; "nnan" and "ninf" are
# left out so NaN or inf factors propagate to the finiteness check after each epoch.
_FASTMATH = {"reassoc", "contract", "arcp", "nsz"}
_LANES = 16  # float32 lanes of an AVX-512 register: the padding of a row's ratings
_TILE = 4  # Gram entries are accumulated in 4 x 4 tiles
_BLOCK = 16  # rows whose systems are solved together


@numba.njit(nogil=True, cache=True, fastmath=_FASTMATH, boundscheck=False, error_model="numpy")
def _solve_range(
    indptr: np.ndarray,
    indices: np.ndarray,
    ratings_minus_mean: np.ndarray,
    other_bias: np.ndarray,
    other_aug: np.ndarray,
    penalty: np.ndarray,
    start: int,
    stop: int,
    out: np.ndarray,
    xb: np.ndarray,
    tsq: np.ndarray,
) -> None:
    k = other_aug.shape[1]
    kp = (k + _TILE - 1) // _TILE * _TILE
    longest = 0
    for row in range(start, stop):
        longest = max(longest, indptr[row + 1] - indptr[row])
    # The row's other-side vectors, feature-major (one contiguous line per feature), so
    # every Gram entry is a dot product of two lines: the compiler vectorizes those
    # across ratings, and a 4 x 4 tile reuses each loaded line four times. Features
    # past k and ratings past the row's count stay zero.
    lines = np.zeros((kp, longest + _LANES), dtype=other_aug.dtype)
    weights = np.zeros(longest + _LANES, dtype=other_aug.dtype)
    gram = np.zeros((kp, kp), dtype=np.float64)
    rhs = np.empty(k, dtype=np.float64)
    # A block of rows' systems, lane-major (entry (a, b) of every row side by side):
    # the Cholesky steps then run on all the block's rows at once, which hides the
    # latency of each row's chain of square roots and divisions (2x faster at k = 16).
    lanes = np.uint64(_BLOCK)
    factor = np.empty(k * k * _BLOCK, dtype=np.float64)
    solution = np.empty(k * _BLOCK, dtype=np.float64)
    right = np.empty(k * _BLOCK, dtype=np.float64)
    for block in range(start, stop, _BLOCK):
        filled = min(_BLOCK, stop - block)
        for lane in range(filled):
            row = block + lane
            first, n = indptr[row], indptr[row + 1] - indptr[row]
            t_sq = 0.0
            for r in range(n):
                col = indices[first + r]
                t = ratings_minus_mean[first + r] - other_bias[col]
                t_sq += t * t
                weights[r] = t
                for a in range(k):
                    lines[a, r] = other_aug[col, a]
            padded = (n + _LANES - 1) // _LANES * _LANES
            for r in range(n, padded):
                weights[r] = 0.0
                for a in range(k):
                    lines[a, r] = 0.0
            tsq[row] = t_sq
            for a in range(k):
                acc = other_aug.dtype.type(0.0)
                for r in range(padded):
                    acc += weights[r] * lines[a, r]
                rhs[a] = acc
            for a0 in range(0, kp, _TILE):
                for b0 in range(0, a0 + 1, _TILE):
                    _tile(lines, padded, a0, b0, gram)
            for a in range(k):
                for b in range(a + 1):
                    factor[(a * k + b) * _BLOCK + lane] = gram[a, b]
                factor[(a * k + a) * _BLOCK + lane] += penalty[row, a]
                solution[a * _BLOCK + lane] = rhs[a]
                right[a * _BLOCK + lane] = rhs[a]
        for lane in range(filled, _BLOCK):  # unused lanes solve I x = 0
            for a in range(k):
                for b in range(a + 1):
                    factor[(a * k + b) * _BLOCK + lane] = 1.0 if a == b else 0.0
                solution[a * _BLOCK + lane] = 0.0
        _cholesky_solve(factor, solution, np.uint64(k), lanes)
        for lane in range(filled):
            row = block + lane
            dot = 0.0
            for a in range(k):
                out[row, a] = solution[a * _BLOCK + lane]
                dot += solution[a * _BLOCK + lane] * right[a * _BLOCK + lane]
            xb[row] = dot


@numba.njit(nogil=True, cache=True, fastmath=_FASTMATH, boundscheck=False, error_model="numpy")
def _cholesky_solve(factor: np.ndarray, solution: np.ndarray, k: np.uint64, lanes: np.uint64) -> None:
    """Solve ``lanes`` systems at once, lane-major: ``factor[(a * k + b) * lanes + l]``
    holds the lower triangle of system ``l`` (overwritten by its Cholesky factor),
    ``solution[a * lanes + l]`` its right-hand side (overwritten by the solution). A
    matrix that is not positive definite (only NaN or inf input) gives NaN.

    Indices are unsigned on purpose: numba then skips the negative-index wraparound
    check on every access, which otherwise keeps the lane loops from vectorizing."""
    one = np.uint64(1)
    inverse = np.empty(lanes, dtype=np.float64)
    for j in range(k):
        jj = (j * k + j) * lanes
        for lane in range(lanes):
            d = np.sqrt(factor[jj + lane])
            factor[jj + lane] = d
            inverse[lane] = 1.0 / d
        for i in range(j + one, k):
            ij = (i * k + j) * lanes
            for lane in range(lanes):
                factor[ij + lane] *= inverse[lane]
        for i in range(j + one, k):
            ij = (i * k + j) * lanes
            for m in range(j + one, i + one):
                im, mj = (i * k + m) * lanes, (m * k + j) * lanes
                for lane in range(lanes):
                    factor[im + lane] -= factor[ij + lane] * factor[mj + lane]
    for i in range(k):  # L z = b
        ii, zi = (i * k + i) * lanes, i * lanes
        for lane in range(lanes):
            solution[zi + lane] /= factor[ii + lane]
        for m in range(i + one, k):
            mi, zm = (m * k + i) * lanes, m * lanes
            for lane in range(lanes):
                solution[zm + lane] -= factor[mi + lane] * solution[zi + lane]
    for step in range(k):  # L^T x = z
        i = k - one - step
        ii, zi = (i * k + i) * lanes, i * lanes
        for lane in range(lanes):
            solution[zi + lane] /= factor[ii + lane]
        for m in range(i):
            im, zm = (i * k + m) * lanes, m * lanes
            for lane in range(lanes):
                solution[zm + lane] -= factor[im + lane] * solution[zi + lane]


@numba.njit(nogil=True, cache=True, fastmath=_FASTMATH, boundscheck=False, error_model="numpy", inline="always")
def _tile(lines: np.ndarray, n: int, a0: int, b0: int, gram: np.ndarray) -> None:
    """``gram[a0:a0+4, b0:b0+4]`` = dot products of lines ``a0..a0+3`` and ``b0..b0+3``."""
    zero = lines.dtype.type(0.0)
    c00 = c01 = c02 = c03 = c10 = c11 = c12 = c13 = zero
    c20 = c21 = c22 = c23 = c30 = c31 = c32 = c33 = zero
    for r in range(n):
        x0, x1, x2, x3 = lines[a0, r], lines[a0 + 1, r], lines[a0 + 2, r], lines[a0 + 3, r]
        y0, y1, y2, y3 = lines[b0, r], lines[b0 + 1, r], lines[b0 + 2, r], lines[b0 + 3, r]
        c00 += x0 * y0
        c01 += x0 * y1
        c02 += x0 * y2
        c03 += x0 * y3
        c10 += x1 * y0
        c11 += x1 * y1
        c12 += x1 * y2
        c13 += x1 * y3
        c20 += x2 * y0
        c21 += x2 * y1
        c22 += x2 * y2
        c23 += x2 * y3
        c30 += x3 * y0
        c31 += x3 * y1
        c32 += x3 * y2
        c33 += x3 * y3
    gram[a0, b0], gram[a0, b0 + 1], gram[a0, b0 + 2], gram[a0, b0 + 3] = c00, c01, c02, c03
    gram[a0 + 1, b0], gram[a0 + 1, b0 + 1], gram[a0 + 1, b0 + 2], gram[a0 + 1, b0 + 3] = c10, c11, c12, c13
    gram[a0 + 2, b0], gram[a0 + 2, b0 + 1], gram[a0 + 2, b0 + 2], gram[a0 + 2, b0 + 3] = c20, c21, c22, c23
    gram[a0 + 3, b0], gram[a0 + 3, b0 + 1], gram[a0 + 3, b0 + 2], gram[a0 + 3, b0 + 3] = c30, c31, c32, c33


def _chunks(indptr: np.ndarray, k: int, n_chunks: int) -> list[tuple[int, int]]:
    """Row ranges of about equal work: ``k^2 / 2`` per rating plus ``k^3 / 6`` per row."""
    n_rows = len(indptr) - 1
    if n_chunks <= 1 or n_rows <= 1:
        return [(0, n_rows)]
    work = indptr.astype(np.float64) * (k * k / 2) + np.arange(n_rows + 1) * (k**3 / 6 + k * k)
    bounds = np.searchsorted(work, np.linspace(0.0, work[-1], n_chunks + 1))
    bounds[0], bounds[-1] = 0, n_rows
    bounds = np.unique(bounds)
    return [(int(a), int(b)) for a, b in itertools.pairwise(bounds) if b > a]


def solve_rows_compiled(
    indptr: np.ndarray,
    indices: np.ndarray,
    ratings_minus_mean: np.ndarray,
    other_bias: np.ndarray,
    other_aug: np.ndarray,
    penalty: np.ndarray,
    threads: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Solve every row's ``[bias, factors]``; returns the solutions, ``x . b`` and the
    sum of squared targets per row (see :func:`._als.solve_side`)."""
    n_rows, k = len(indptr) - 1, other_aug.shape[1]
    out = np.empty((n_rows, k), dtype=np.float64)
    xb = np.empty(n_rows, dtype=np.float64)
    tsq = np.empty(n_rows, dtype=np.float64)
    # No conversion of the O(nnz) arrays: scipy's int32 (or int64) indices are used as
    # they are, each index dtype compiling its own specialization once.
    args = (
        np.ascontiguousarray(indptr),
        np.ascontiguousarray(indices),
        np.ascontiguousarray(ratings_minus_mean, dtype=np.float64),
        np.ascontiguousarray(other_bias, dtype=np.float64),
        np.ascontiguousarray(other_aug),
        np.ascontiguousarray(penalty, dtype=np.float64),
    )
    # Several chunks per thread, so one heavy chunk (a very popular item) does not idle
    # the others.
    ranges = _chunks(args[0], k, 1 if threads == 1 else 4 * threads)
    if len(ranges) == 1:
        _solve_range(*args, 0, n_rows, out, xb, tsq)
    else:
        pool = _pool(threads)
        for future in [pool.submit(_solve_range, *args, a, b, out, xb, tsq) for a, b in ranges]:
            future.result()
    return out, xb, tsq


_pools: dict[int, ThreadPoolExecutor] = {}
_pools_lock = threading.Lock()
# A forked child (a Celery prefork worker) has none of its parent's threads.
os.register_at_fork(after_in_child=_pools.clear)


def _pool(threads: int) -> ThreadPoolExecutor:
    """One pool per thread count, kept: starting the threads anew every half-step cost
    several ms each. Callers on several threads share it safely."""
    with _pools_lock:
        pool = _pools.get(threads)
        if pool is None:
            pool = _pools[threads] = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="recsys-als")
        return pool


def warm_up() -> None:
    """Compile (or load from the cache) the kernel for what training uses: float32 and
    float64 vectors, int32 indices. The Docker image runs this at build time so its
    containers start with the machine code on disk."""
    indptr = np.array([0, 2, 3], dtype=np.int32)
    indices = np.array([0, 1, 1], dtype=np.int32)
    values = np.array([1.0, -1.0, 0.5])
    for dtype in (np.float32, np.float64):
        other = np.ones((2, 3), dtype=dtype)
        solve_rows_compiled(indptr, indices, values, np.zeros(2), other, np.ones((2, 3)), 1)
