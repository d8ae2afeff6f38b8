"""EASE (Steck 2019): a closed-form item-item model for ranking.

``B = argmin |X - X B|^2 + lambda |B|^2`` subject to ``diag(B) = 0``, with ``X`` the
user x item matrix of weighted training ratings (``w(r)``, see below). With ``P = (X^T X + lambda I)^-1``
the solution is ``B_ij = -P_ij / P_jj`` (``B_jj = 0``), and the objective at the
optimum is ``sum_j 1 / P_jj - lambda * n_items`` (reported as the training loss).

A user's score of item ``i`` is ``sum_j w(r_j) * B[j, i]`` over the movies ``j`` they
rated, with ``w`` the rating weight of :class:`EASEParams` (0.1 for one star up to 1
for five on 1-5). Learning B from the weighted matrix rather than the binarized one
lifted NDCG@10 on ml-100k u1..u5 from 0.404 to 0.420 (with lambda 200; binarized
lambda 500: 0.385). The same sum is the explanation: one exactly additive term per
rated movie.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
from scipy.linalg import lapack
from threadpoolctl import threadpool_limits

from ._frames import EncodedRatings, encode_ratings
from ._vocab import IdVocabulary
from ._ranker import RankingModel, scale_fraction
from .params import EASEParams
from .persistence import ModelFileError
from .recommender import Callback, EpochReport, Explanation, Term, UserProfile, check_n, top_n_indices

__all__ = ["EASE", "ease_weights", "solve_ease", "solve_ease_reference"]

_BLOCK = 1024  # rows of the Gram / B matrices handled at once
_THREADED_LIMIT = 12_000  # largest catalogue inverted with multi-threaded LAPACK


_ANCHORS = np.linspace(0.0, 1.0, 5)  # where rating_weights sit on the scale


def ease_weights(ratings: np.ndarray, rating_scale: tuple[float, float], params: EASEParams) -> np.ndarray:
    """``w(r)``: ``rating_weights`` interpolated at the rating's fraction of the scale."""
    return np.interp(scale_fraction(ratings, rating_scale), _ANCHORS, params.rating_weights)


def _gram(x: sp.csr_matrix, regularization: float) -> np.ndarray:
    """Dense ``X^T X + lambda I`` (float64), built a block of item rows at a time so the
    sparse product never holds more than one block."""
    n = x.shape[1]
    by_item = x.T.tocsr()
    gram = np.empty((n, n), dtype=np.float64)
    for start in range(0, n, _BLOCK):
        stop = min(start + _BLOCK, n)
        gram[start:stop] = (by_item[start:stop] @ x).toarray()
    gram[np.diag_indices(n)] += regularization
    return gram


def solve_ease(x: sp.csr_matrix, regularization: float) -> tuple[np.ndarray, float]:
    """``(B as float32, EASE objective)``. Peak memory is one float64 ``n x n`` matrix
    (the Gram matrix, inverted in place by Cholesky) plus ``B``: ``12 n^2`` bytes."""
    gram = _gram(x, regularization)
    n = gram.shape[0]
    # gram is symmetric, so its transpose is the same matrix in Fortran order: LAPACK
    # factors and inverts it in place, leaving P's upper triangle in the C-order array.
    # OpenBLAS 0.3.31's multi-threaded dpotrf segfaults from about 17,000 rows (measured:
    # 12,000 fine, 17,000 crashes); above _THREADED_LIMIT LAPACK runs on one thread.
    with threadpool_limits(1 if n > _THREADED_LIMIT else None, "blas"):
        factor, info = lapack.dpotrf(gram.T, lower=1, overwrite_a=1, clean=0)
        if info == 0:
            _, info = lapack.dpotri(factor, lower=1, overwrite_c=1)
    if info != 0:
        raise ValueError(f"X^T X + lambda I is not positive definite (LAPACK info {info}); raise regularization")
    diag = gram.diagonal().copy()
    b = np.empty((n, n), dtype=np.float32)
    cols = np.arange(n)
    for start in range(0, n, _BLOCK):
        stop = min(start + _BLOCK, n)
        upper = gram[start:stop]  # valid where column >= row
        lower = gram[:, start:stop].T  # P[j, i] for column < row, by symmetry
        rows = np.where(cols[None, :] >= np.arange(start, stop)[:, None], upper, lower)
        b[start:stop] = -rows / diag[None, :]
        b[np.arange(start, stop), np.arange(start, stop)] = 0.0
    loss = float(np.sum(1.0 / diag) - regularization * n)
    return b, loss


def solve_ease_reference(x_sparse: sp.csr_matrix, regularization: float) -> tuple[np.ndarray, float]:
    """The textbook formula with ``np.linalg.inv`` and the objective computed directly."""
    x = x_sparse.toarray().astype(np.float64)
    p = np.linalg.inv(x.T @ x + regularization * np.eye(x.shape[1]))
    b = -p / np.diag(p)[None, :]
    np.fill_diagonal(b, 0.0)
    loss = float(((x - x @ b) ** 2).sum() + regularization * (b**2).sum())
    return b, loss


class EASE(RankingModel):
    """EASE, the closed-form item-item ranker (see the module docstring).

    Real time is immediate: the state is empty (``state_size`` 0), a user's scores are
    their weighted rated vector times ``B``, so a new rating counts at the next call.

    **Catalogue limit.** ``B`` is a dense ``items x items`` float32 matrix: ``4 n^2``
    bytes in the model file and in memory (10,000 items: 0.4 GB; 20,000: 1.6 GB),
    and fitting peaks at about ``12 n^2`` bytes (a float64 Gram matrix inverted in
    place, plus ``B``). Only the ``max_items`` most-rated items are kept (ties: the
    lower id). The rest are dropped from the model: their ratings do not enter ``X``,
    they are never recommended, never explained and not in ``seen_items``; as inputs
    to a user's profile they are ignored like any unknown item. ``fit_info`` records
    how many items and ratings were dropped.

    **Similar items** of ``i`` are the items with the largest ``B[i, :]``: what a user
    who rated only ``i`` (liked) would be recommended, with ``B[i, j]`` as similarity.
    Explanation terms carry the cosine of the two movies' rating columns in ``X``.

    A profile with no catalogue item gets the most popular items (``item_appeal``
    term: the item's rating count over the largest count).
    """

    model_type: ClassVar[str] = "ease"
    params_class: ClassVar[type[EASEParams]] = EASEParams
    params: EASEParams

    def fit(
        self,
        ratings: Any,
        *,
        validation: Any = None,
        rating_scale: tuple[float, float] | None = None,
        callback: Callback | None = None,
        item_tags: Mapping[Any, Sequence[str]] | None = None,  # not used by this type
    ) -> EASE:
        """Solve ``B`` on ``ratings``; ``validation`` is not used (EASE has no epochs)."""
        t0 = time.perf_counter()
        p = self.params
        data = encode_ratings(ratings, rating_scale)
        kept = self._kept_items(data.by_user, p.max_items)
        seen = data.by_user[:, kept].tocsr()
        seen.sort_indices()
        weighted = sp.csr_matrix(
            (ease_weights(seen.data, data.rating_scale, p), seen.indices, seen.indptr), shape=seen.shape
        )
        b, loss = solve_ease(weighted, p.regularization)
        n_ratings = data.by_user.nnz
        self._install_data(
            EncodedRatings(data.users, IdVocabulary(data.items.ids[kept]), seen, data.rating_scale),
            n_ratings,
            self._data_fingerprint(data),
        )
        self._b = b
        self._reset_caches()
        report = EpochReport(
            epoch=1, epochs=1, train_loss=loss / n_ratings, train_rmse=None, validation_rmse=None,
            seconds=time.perf_counter() - t0,
        )
        self.history = [report]
        self.fit_info = {
            "epochs_run": 1,
            "items_kept": int(len(kept)),
            "items_dropped": int(data.by_user.shape[1] - len(kept)),
            "ratings_dropped": int(n_ratings - seen.nnz),
            "stopped": "completed",
        }
        self._fitted = True
        if callback is not None:
            callback(report)
        return self

    @staticmethod
    def _kept_items(by_user: sp.csr_matrix, max_items: int) -> np.ndarray:
        """Indices (sorted) of the ``max_items`` most-rated items; ties keep the lower id."""
        counts = np.diff(by_user.tocsc().indptr)
        if len(counts) <= max_items:
            return np.arange(len(counts))
        order = np.argsort(-counts, kind="stable")
        return np.sort(order[:max_items])

    def _reset_caches(self) -> None:
        self._binary_by_item: sp.csr_matrix | None = None

    # ---------------------------------------------------------- user states
    @property
    def state_size(self) -> int:
        return 0

    def user_states(self, rows: Any, item_ids: Any, ratings: Any, n_rows: int) -> np.ndarray:
        self._known_ratings(rows, item_ids, ratings, n_rows)  # validates the input
        return np.zeros((n_rows, 0))

    def trained_state(self, user_id: Any) -> np.ndarray | None:
        self._require_fitted()
        return np.zeros(0) if self._users.get(user_id) >= 0 else None

    # -------------------------------------------------------------- scoring
    def _weighted(self, profile: UserProfile) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Catalogue codes, ratings and weights of the profile's known items."""
        codes = self._item_codes(profile.item_ids)
        known = codes >= 0
        values = np.asarray(profile.ratings, dtype=np.float64)[known]
        return codes[known], values, ease_weights(values, self.rating_scale, self.params)

    def scores(self, profile: UserProfile) -> np.ndarray:
        self._require_fitted()
        codes, _, weights = self._weighted(profile)
        if len(codes) == 0:
            return self._popularity_scores()
        # float64 accumulation: explanation terms (float64) sum to exactly this score
        return np.einsum("r,rn->n", weights, self._b[codes], dtype=np.float64)

    def scores_batch(self, profiles: Any) -> np.ndarray:
        self._require_fitted()
        if not profiles:
            return np.zeros((0, self.n_items))
        rows = np.repeat(np.arange(len(profiles)), [len(p.item_ids) for p in profiles])
        items = np.concatenate([np.asarray(p.item_ids) for p in profiles])
        values = np.concatenate([np.asarray(p.ratings, dtype=np.float64) for p in profiles])
        return self._scores_of(self._known_ratings(rows, items, values, len(profiles)))

    def _scores_of(self, ratings: sp.csr_matrix) -> np.ndarray:
        """Scores of users given as CSR ratings over the catalogue (popularity if empty)."""
        weighted = ratings.copy()
        weighted.data = ease_weights(ratings.data, self.rating_scale, self.params).astype(np.float32)
        out = np.asarray(weighted @ self._b, dtype=np.float64)
        empty = np.diff(ratings.indptr) == 0
        if empty.any():
            out[empty] = self._popularity_scores()
        return out

    def _training_scores(self, user_codes: np.ndarray) -> np.ndarray:
        return self._scores_of(self._seen[user_codes])

    def similar_items(self, item_id: Any, n: int = 10) -> tuple[np.ndarray, np.ndarray]:
        self._require_fitted()
        n = check_n(n)
        code = self._item_code(item_id)
        sims = self._b[code].astype(np.float64)
        sims[code] = -np.inf
        top = top_n_indices(sims, n)
        return self._items.ids[top], sims[top]

    def _cosines(self, codes: np.ndarray, code: int) -> np.ndarray:
        """Cosine of item ``code``'s binarized rating column with each of ``codes``'."""
        if self._binary_by_item is None:
            by_item = self._seen.T.tocsr()
            by_item.data = np.ones_like(by_item.data)
            self._binary_by_item = by_item
        by_item = self._binary_by_item
        both = np.asarray((by_item[codes] @ by_item[code].T).todense()).ravel()
        counts = self._popularity[codes].astype(np.float64) * float(self._popularity[code])
        return np.divide(both, np.sqrt(counts), out=np.zeros(len(codes)), where=counts > 0)

    def explain(self, profile: UserProfile, item_id: Any) -> Explanation:
        """One ``rated_item`` term per rated catalogue movie ``j``: ``w(r_j) * B[j, i]``."""
        self._require_fitted()
        code = self._item_code(item_id)
        codes, values, weights = self._weighted(profile)
        if len(codes) == 0:
            return self._popularity_explanation(item_id, code)
        shares = weights * self._b[codes, code].astype(np.float64)
        cosines = self._cosines(codes, code)
        ids = self._items.ids[codes]
        terms = tuple(
            Term("rated_item", float(s), item_id=ids[k].item() if hasattr(ids[k], "item") else ids[k],
                 rating=float(values[k]), similarity=float(cosines[k]))
            for k, s in enumerate(shares)
        )
        return Explanation(item_id, self.model_type, float(shares.sum()), None, terms)

    # ---------------------------------------------------------- persistence
    def _to_arrays(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        self._require_fitted()
        arrays, meta = self._common_arrays()
        arrays["b"] = self._b
        return arrays, meta

    @classmethod
    def _from_arrays(cls, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> EASE:
        model = cls._from_common(arrays, meta)
        assert isinstance(model, EASE)
        b = arrays.get("b")
        if b is None or b.shape != (len(model._items), len(model._items)):
            raise ModelFileError("model file content is inconsistent: B does not match the catalogue")
        model._b = np.ascontiguousarray(b, dtype=np.float32)
        model._reset_caches()
        model._fitted = True
        return model
