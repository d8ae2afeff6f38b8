"""Implicit-feedback ALS (Hu, Koren, Volinsky 2008) on confidences derived from ratings.

Every rated movie is a positive (``p_ui = 1``) with confidence
``c_ui = 1 + alpha * r_ui / r_max`` (``r_max`` the top of the rating scale, so a
5 counts five times as much extra confidence as a 1); every unrated movie is a
negative of confidence 1. Minimised::

    sum_(u,i) c_ui (p_ui - x_u . y_i)^2 + regularization (sum_u |x_u|^2 + sum_i |y_i|^2)

One half-step solves every user exactly (Cholesky, float64)::

    x_u = (Y^T Y + Y^T (C_u - I) Y + regularization I)^-1 Y^T C_u p_u

with ``Y^T Y`` computed once per half-step and cached after fitting. The same solve
is the fold-in of a user's ratings, and training ends with one such user half-step,
so a training user's stored factors are exactly what :meth:`ImplicitALS.user_states`
gives for their training ratings. The epochs before it run on the ``implicit``
package (default; conjugate gradient, multi-threaded) or on our numpy solves:
docs/models.md ("iALS: implicit or numpy") gives the comparison and the choice.

Explanation (as in ``implicit``'s ``explain``): with ``W = (Y^T C_u Y + reg I)^-1``,
``x_u . y_i = sum_j c_uj (y_i^T W y_j)`` over the rated movies ``j``: one exactly
additive term per rated movie.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from ._frames import encode_ratings
from ._ranker import RankingModel
from .params import IALSParams
from .persistence import ModelFileError
from .recommender import Callback, EpochReport, Explanation, Term, UserProfile, check_n, top_n_indices

__all__ = ["ImplicitALS", "NonFiniteFactorsError", "confidence", "solve_rows", "solve_rows_reference"]

_CHUNK_FLOATS = 4_000_000  # padded (rows x ratings x factors) floats gathered at once


class NonFiniteFactorsError(FloatingPointError):
    """Factors became NaN or infinite during fitting."""


def confidence(ratings: np.ndarray, rating_scale: tuple[float, float], alpha: float) -> np.ndarray:
    """``c = 1 + alpha * r / r_max`` (``r / r_max`` clipped at 0 for scales below zero)."""
    return 1.0 + alpha * np.clip(np.asarray(ratings, dtype=np.float64) / rating_scale[1], 0.0, None)


def _regularized_gram(other: np.ndarray, regularization: float) -> np.ndarray:
    gram = other.T @ other
    gram[np.diag_indices_from(gram)] += regularization
    return gram


def solve_rows(conf: sp.csr_matrix, other: np.ndarray, gram: np.ndarray) -> np.ndarray:
    """Exact solves of every row of ``conf`` (confidences of its positives) against the
    other side's factors: ``(gram + O^T (C - I) O)^-1 O^T C 1`` with
    ``gram = O^T O + reg I``. Rows are sorted by length and solved in padded batches
    (one batched matmul and one batched solve per batch)."""
    n_rows, f = conf.shape[0], other.shape[1]
    out = np.zeros((n_rows, f))
    counts = np.diff(conf.indptr)
    order = np.argsort(counts, kind="stable")
    order = order[counts[order] > 0]  # a row without positives solves to zero
    lengths = counts[order]
    start = 0
    while start < len(order):
        # lengths only grow along `order`: take the most rows whose padded batch fits
        padded = np.arange(1, len(order) - start + 1) * lengths[start:] * f
        stop = start + max(1, int(np.searchsorted(padded, _CHUNK_FLOATS, side="right")))
        rows = order[start:stop]
        longest = int(counts[rows[-1]])
        mask = np.arange(longest)[None, :] < counts[rows][:, None]
        pos = np.where(mask, conf.indptr[rows][:, None] + np.arange(longest)[None, :], 0)
        cols = np.where(mask, conf.indices[pos], 0)
        c = np.where(mask, conf.data[pos], 0.0)
        factors = other[cols]  # (batch, longest, f)
        a = np.matmul(factors.transpose(0, 2, 1) * (c - mask)[:, None, :], factors)
        a += gram
        rhs = np.einsum("bl,blf->bf", c, factors)
        out[rows] = np.linalg.solve(a, rhs[..., None])[..., 0]
        start = stop
    return out


def solve_rows_reference(conf: sp.csr_matrix, other: np.ndarray, gram: np.ndarray) -> np.ndarray:
    """:func:`solve_rows` one row at a time, written as the formula reads."""
    out = np.zeros((conf.shape[0], other.shape[1]))
    for u in range(conf.shape[0]):
        lo, hi = conf.indptr[u], conf.indptr[u + 1]
        if hi == lo:
            continue
        y, c = other[conf.indices[lo:hi]], conf.data[lo:hi]
        a = gram + y.T @ np.diag(c - 1.0) @ y
        out[u] = np.linalg.solve(a, y.T @ c)
    return out


class ImplicitALS(RankingModel):
    """Implicit-feedback ALS ranker (see the module docstring).

    The user state is the factor vector ``x_u`` (``n_factors`` long); scores are
    ``Y x_u``. A state of zeros (no catalogue item rated) gets the most popular
    items instead (``item_appeal`` term: rating count over the largest count).
    Similar items are the largest cosines of item factors.
    """

    model_type: ClassVar[str] = "ials"
    params_class: ClassVar[type[IALSParams]] = IALSParams
    params: IALSParams

    def fit(
        self,
        ratings: Any,
        *,
        validation: Any = None,
        rating_scale: tuple[float, float] | None = None,
        callback: Callback | None = None,
        item_tags: Mapping[Any, Sequence[str]] | None = None,  # not used by this type
    ) -> ImplicitALS:
        """Train ``epochs`` ALS epochs, then one exact user half-step; ``validation`` is
        not used. ``callback(report)`` runs after each epoch; ``False`` stops."""
        p = self.params
        data = encode_ratings(ratings, rating_scale)
        by_user = data.by_user
        conf_user = by_user.copy()
        conf_user.data = confidence(by_user.data, data.rating_scale, p.alpha)
        epochs = self._implicit_epochs if p.solver == "implicit" else self._numpy_epochs
        epoch_step = epochs(conf_user, p)
        history: list[EpochReport] = []
        reason = "completed"
        users = items = np.zeros((0, p.n_factors))
        for epoch in range(1, p.epochs + 1):
            t0 = time.perf_counter()
            users, items = next(epoch_step)
            if not (np.isfinite(items).all() and np.isfinite(users).all()):
                raise NonFiniteFactorsError(f"factors became NaN/inf at epoch {epoch}; increase regularization")
            report = EpochReport(
                epoch=epoch, epochs=p.epochs, train_loss=self._loss(conf_user, users, items) / by_user.nnz,
                train_rmse=None, validation_rmse=None, seconds=time.perf_counter() - t0,
            )
            history.append(report)
            if callback is not None and callback(report) is False:
                reason = "callback"
                break
        # the final user half-step is ours and exact: trained states equal user_states
        solve = solve_rows_reference if p.solver == "reference" else solve_rows
        users = solve(conf_user, items, _regularized_gram(items, p.regularization))
        self._install_data(data, by_user.nnz, self._data_fingerprint(data))
        self._user_factors, self._item_factors = users, items
        self._reset_caches()
        self.history = history
        self.fit_info = {"epochs_run": len(history), "stopped": reason}
        self._fitted = True
        return self

    @staticmethod
    def _numpy_epochs(conf_user: sp.csr_matrix, p: IALSParams) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Exact ALS epochs (items given users, then users given items): ``(users, items)``."""
        conf_item = conf_user.T.tocsr()
        conf_item.sort_indices()
        solve = solve_rows_reference if p.solver == "reference" else solve_rows
        rng = np.random.default_rng(p.seed)
        users = rng.normal(0.0, 0.01, (conf_user.shape[0], p.n_factors))
        while True:
            items = solve(conf_item, users, _regularized_gram(users, p.regularization))
            users = solve(conf_user, items, _regularized_gram(items, p.regularization))
            yield users, items

    @staticmethod
    def _implicit_epochs(conf_user: sp.csr_matrix, p: IALSParams) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Epochs of ``implicit``'s conjugate-gradient ALS (users, then items), one ``fit``
        call per epoch: a later call continues from the factors it holds."""
        from implicit.cpu.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        conf = conf_user.astype(np.float32)  # implicit reads the values as confidences
        with threadpool_limits(1, "blas"):  # implicit's threads, not BLAS's, do the work
            als = AlternatingLeastSquares(
                factors=p.n_factors, regularization=p.regularization, alpha=1.0, iterations=1, random_state=p.seed
            )
            while True:
                als.fit(conf, show_progress=False)
                yield np.asarray(als.user_factors, dtype=np.float64), np.asarray(als.item_factors, dtype=np.float64)

    def _loss(self, conf: sp.csr_matrix, users: np.ndarray, items: np.ndarray) -> float:
        """The objective: the negatives' part via Gram matrices, positives corrected sparsely."""
        reg = self.params.regularization
        total = float(np.einsum("ij,ij->", users @ (items.T @ items), users))  # sum_ui (x.y)^2
        u = np.repeat(np.arange(conf.shape[0]), np.diff(conf.indptr))
        pred = np.einsum("ij,ij->i", users[u], items[conf.indices])
        total += float((conf.data * (1.0 - pred) ** 2 - pred**2).sum())
        return total + reg * float((users**2).sum() + (items**2).sum())

    def _reset_caches(self) -> None:
        self._gram: np.ndarray | None = None
        self._item_unit: np.ndarray | None = None

    def _item_gram(self) -> np.ndarray:
        """``Y^T Y + reg I``, computed once per fitted or loaded model."""
        if self._gram is None:
            self._gram = _regularized_gram(self._item_factors, self.params.regularization)
        return self._gram

    # ---------------------------------------------------------- user states
    @property
    def state_size(self) -> int:
        return self.params.n_factors

    def user_states(self, rows: Any, item_ids: Any, ratings: Any, n_rows: int) -> np.ndarray:
        conf = self._known_ratings(rows, item_ids, ratings, n_rows)
        conf.data = confidence(conf.data, self.rating_scale, self.params.alpha)
        solve = solve_rows_reference if self.params.solver == "reference" else solve_rows
        return solve(conf, self._item_factors, self._item_gram())

    def trained_state(self, user_id: Any) -> np.ndarray | None:
        self._require_fitted()
        u = self._users.get(user_id)
        return None if u < 0 else self._user_factors[u].copy()

    # -------------------------------------------------------------- scoring
    def _state(self, profile: UserProfile) -> np.ndarray:
        state = np.asarray(profile.state, dtype=np.float64)
        if state.shape != (self.params.n_factors,):
            raise ValueError(f"an iALS state has {self.params.n_factors} values, got shape {state.shape}")
        return state

    def scores(self, profile: UserProfile) -> np.ndarray:
        self._require_fitted()
        state = self._state(profile)
        if not state.any():
            return self._popularity_scores()
        return self._item_factors @ state

    def scores_batch(self, profiles: Any) -> np.ndarray:
        self._require_fitted()
        if not profiles:
            return np.zeros((0, self.n_items))
        return self._scores_of(np.stack([self._state(p) for p in profiles]))

    def _scores_of(self, states: np.ndarray) -> np.ndarray:
        out = states @ self._item_factors.T
        empty = ~states.any(axis=1)
        if empty.any():
            out[empty] = self._popularity_scores()
        return out

    def _training_scores(self, user_codes: np.ndarray) -> np.ndarray:
        return self._scores_of(self._user_factors[user_codes])

    def similar_items(self, item_id: Any, n: int = 10) -> tuple[np.ndarray, np.ndarray]:
        self._require_fitted()
        n = check_n(n)
        code = self._item_code(item_id)
        if self._item_unit is None:
            norms = np.linalg.norm(self._item_factors, axis=1, keepdims=True)
            self._item_unit = np.divide(self._item_factors, norms, out=np.zeros_like(self._item_factors), where=norms > 0)
        sims = self._item_unit @ self._item_unit[code]
        sims[code] = -np.inf
        top = top_n_indices(sims, n)
        return self._items.ids[top], sims[top]

    def explain(self, profile: UserProfile, item_id: Any) -> Explanation:
        """One ``rated_item`` term per rated catalogue movie ``j``: ``c_uj * y_i^T W y_j``;
        a ``residual`` term if the profile's state is not the solve of its ratings."""
        self._require_fitted()
        code = self._item_code(item_id)
        state = self._state(profile)
        if not state.any():
            return self._popularity_explanation(item_id, code)
        codes = self._item_codes(profile.item_ids)
        known = codes >= 0
        codes, values = codes[known], np.asarray(profile.ratings, dtype=np.float64)[known]
        c = confidence(values, self.rating_scale, self.params.alpha)
        y = self._item_factors[codes]
        a = self._item_gram() + (y.T * (c - 1.0)) @ y
        weighted_item = np.linalg.solve(a, self._item_factors[code])  # W y_i (W is symmetric)
        shares = c * (y @ weighted_item)
        unit = self._item_factors / np.maximum(np.linalg.norm(self._item_factors, axis=1, keepdims=True), 1e-12)
        cosines = unit[codes] @ unit[code]
        ids = self._items.ids[codes]
        terms = [
            Term("rated_item", float(s), item_id=ids[k].item() if hasattr(ids[k], "item") else ids[k],
                 rating=float(values[k]), similarity=float(cosines[k]))
            for k, s in enumerate(shares)
        ]
        score = float(self._item_factors[code] @ state)
        residual = score - float(shares.sum())
        if abs(residual) > 1e-9 * max(1.0, abs(score)):
            terms.append(Term("residual", residual))
        return Explanation(item_id, self.model_type, score, None, tuple(terms))

    # ---------------------------------------------------------- persistence
    def _to_arrays(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        self._require_fitted()
        arrays, meta = self._common_arrays()
        arrays["user_factors"] = self._user_factors
        arrays["item_factors"] = self._item_factors
        return arrays, meta

    @classmethod
    def _from_arrays(cls, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> ImplicitALS:
        model = cls._from_common(arrays, meta)
        assert isinstance(model, ImplicitALS)
        f = model.params.n_factors
        users, items = arrays.get("user_factors"), arrays.get("item_factors")
        if users is None or items is None or users.shape != (len(model._users), f) or items.shape != (len(model._items), f):
            raise ModelFileError("model file content is inconsistent: factor shapes do not match ids and n_factors")
        model._user_factors = np.ascontiguousarray(users, dtype=np.float64)
        model._item_factors = np.ascontiguousarray(items, dtype=np.float64)
        model._reset_caches()
        model._fitted = True
        return model
