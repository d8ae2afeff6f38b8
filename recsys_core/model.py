"""Biased matrix factorization for explicit ratings, trained by alternating least squares.

Prediction: ``mu + b_u + b_i + x_u . y_i`` clipped to the rating scale. Training
alternates vectorized half-steps (:mod:`recsys_core._als`): items given users,
then users given items, so after every epoch each stored user vector is the
exact regularized least-squares solve against the current item side. That is
what makes :meth:`MatrixFactorization.fold_in` of a user's own training ratings
reproduce the stored vector, and :meth:`MatrixFactorization.explain_vector`'s
per-item contributions sum exactly to the interaction term.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from . import _als, persistence
from ._vocab import IdVocabulary
from .params import MFParams
from .persistence import ModelFileError, PathOrFile

__all__ = [
    "EpochReport",
    "Explanation",
    "MFParams",
    "MatrixFactorization",
    "ModelFileError",
    "NonFiniteFactorsError",
    "NotFittedError",
    "UnknownIdError",
    "UserVector",
]

_REQUIRED_COLUMNS = ("user_id", "item_id", "rating")
_BATCH_CELLS = 4_000_000  # score-matrix cells per recommend_batch chunk
# Gram matrices are accumulated in float32 (about 2x faster, same RMSE to 1e-4);
# solves and stored factors are float64.
_GRAM_DTYPE = np.float32


class NonFiniteFactorsError(ArithmeticError):
    """Training produced NaN or infinite factors (diverged or bad input)."""


class NotFittedError(RuntimeError):
    """The model is used before ``fit`` or ``load``."""


class UnknownIdError(KeyError, ValueError):
    """An id the model has never seen was given where a known one is required."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class EpochReport:
    """Progress of one training epoch, passed to the ``fit`` callback."""

    epoch: int  # 1-based
    epochs: int
    train_loss: float  # regularized objective / number of ratings
    train_rmse: float  # unclipped, on the training ratings
    validation_rmse: float | None
    seconds: float  # wall time of this epoch


@dataclass(frozen=True)
class UserVector:
    """One user's learned (or folded-in) bias and factors."""

    bias: float
    factors: np.ndarray


@dataclass(frozen=True)
class Explanation:
    """Decomposition of one prediction.

    ``raw_score = global_mean + user_bias + item_bias + interaction`` and
    ``prediction`` is it clipped to the rating scale. ``contributions[j]`` is
    rated item ``j``'s share of ``interaction`` (item-based decomposition of
    the user's least-squares solve, as in implicit's ALS ``explain``); they sum
    to ``interaction`` up to ``residual`` (zero up to rounding when the user
    vector is the exact solve of the given ratings). ``similarities[j]`` is the
    cosine between the explained item's and item ``j``'s factors.
    """

    item_id: Any
    global_mean: float
    user_bias: float
    item_bias: float
    interaction: float
    raw_score: float
    prediction: float
    rated_item_ids: np.ndarray
    rated_ratings: np.ndarray
    contributions: np.ndarray
    similarities: np.ndarray
    residual: float

    def top(self, n: int = 5) -> list[dict[str, Any]]:
        """The ``n`` rated items with the largest absolute contribution."""
        order = np.argsort(-np.abs(self.contributions), kind="stable")[:n]
        return [
            {
                "item_id": self.rated_item_ids[j].item()
                if hasattr(self.rated_item_ids[j], "item")
                else self.rated_item_ids[j],
                "rating": float(self.rated_ratings[j]),
                "contribution": float(self.contributions[j]),
                "similarity": float(self.similarities[j]),
            }
            for j in order
        ]


def _as_1d(values: Any, name: str) -> np.ndarray:
    if isinstance(values, (str, bytes)) or np.ndim(values) == 0:
        raise ValueError(f"{name} must be a sequence, got a scalar {values!r}")
    if isinstance(values, (pd.Series, pd.Index)):
        arr = values.to_numpy()
    else:
        arr = np.asarray(values)
        # numpy turns [1, "a"] into strings; keep the elements' own types
        if (
            arr.dtype.kind in "US"
            and not isinstance(values, np.ndarray)
            and not all(isinstance(v, str) for v in values)
        ):
            arr = np.empty(len(values), dtype=object)
            arr[:] = list(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    return arr


def _check_frame(ratings: Any, what: str) -> pd.DataFrame:
    if not isinstance(ratings, pd.DataFrame):
        raise ValueError(
            f"{what} must be a pandas DataFrame with columns user_id, item_id, rating; "
            f"got {type(ratings).__name__}"
        )
    missing = [c for c in _REQUIRED_COLUMNS if c not in ratings.columns]
    if missing:
        raise ValueError(
            f"{what} is missing column(s) {missing}; expected user_id, item_id, rating "
            f"(and optionally timestamp), got {list(ratings.columns)}"
        )
    if not pd.api.types.is_numeric_dtype(ratings["rating"]) or pd.api.types.is_bool_dtype(
        ratings["rating"]
    ):
        raise ValueError(f"{what}.rating must be numeric, got dtype {ratings['rating'].dtype}")
    if not np.isfinite(ratings["rating"].to_numpy(dtype=np.float64)).all():
        raise ValueError(f"{what}.rating contains NaN or infinite values; drop or fix those rows")
    return ratings


_FEW_ROWS = 16  # below this, solve_users solves row by row


class MatrixFactorization:
    """Biased matrix factorization trained by ALS.

    Construct with hyperparameters (see :class:`MFParams`), e.g.
    ``MatrixFactorization(n_factors=20, epochs=10)``; call :meth:`fit` with a
    ratings frame (``user_id``, ``item_id``, ``rating``[, ``timestamp``]).
    """

    def __init__(self, params: MFParams | None = None, **hyperparams: Any) -> None:
        if params is not None and hyperparams:
            raise ValueError("pass either params= or keyword hyperparameters, not both")
        self.params: MFParams = params if params is not None else MFParams(**hyperparams)
        self._fitted = False
        self.history: list[EpochReport] = []
        self.fit_info: dict[str, Any] = {}

    # ------------------------------------------------------------------ state
    def _reset_caches(self) -> None:
        self._item_aug: np.ndarray | None = None
        self._item_unit: np.ndarray | None = None
        self._seen_override: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def _require_fitted(self) -> None:
        if not self._fitted:
            raise NotFittedError("model is not fitted; call fit() or load() first")

    @property
    def n_users(self) -> int:
        self._require_fitted()
        return self._n_users

    @property
    def n_items(self) -> int:
        self._require_fitted()
        return len(self._items)

    @property
    def user_ids(self) -> np.ndarray:
        """Raw user ids in index order."""
        self._require_fitted()
        return self._users.ids

    @property
    def item_ids(self) -> np.ndarray:
        """Raw item ids in index order."""
        self._require_fitted()
        return self._items.ids

    @property
    def user_factors(self) -> np.ndarray:
        return self._user_factors[: self._n_users]

    @property
    def user_bias(self) -> np.ndarray:
        return self._user_bias[: self._n_users]

    @property
    def item_factors(self) -> np.ndarray:
        return self._item_factors

    @property
    def item_bias(self) -> np.ndarray:
        return self._item_bias

    @property
    def user_counts(self) -> np.ndarray:
        """Training ratings per user (folded-in users: ratings given to fold_in)."""
        return self._user_counts[: self._n_users]

    @property
    def user_item_counts(self) -> tuple[np.ndarray, np.ndarray]:
        """``(ratings per user, ratings per item)`` in index order."""
        return self.user_counts, self.item_popularity

    # -------------------------------------------------------------- training
    def fit(
        self,
        ratings: pd.DataFrame,
        *,
        validation: pd.DataFrame | None = None,
        rating_scale: tuple[float, float] | None = None,
        callback: Callable[[EpochReport], bool | None] | None = None,
    ) -> MatrixFactorization:
        """Train on a ratings frame; returns ``self``.

        ``callback(report)`` runs after every epoch; returning ``False`` stops
        training (the factors of the last completed epoch, or of the best one
        under early stopping, are kept). With ``validation`` and
        ``early_stopping_patience`` set, training stops once validation RMSE has
        not improved for that many epochs and the best epoch's factors are kept.
        """
        p = self.params
        _check_frame(ratings, "ratings")
        if len(ratings) == 0:
            raise ValueError("ratings is empty; fit needs at least one rating")
        if validation is not None:
            _check_frame(validation, "validation")
        r = ratings["rating"].to_numpy(dtype=np.float64)
        scale = self._resolve_scale(r, rating_scale)

        users, u_codes = IdVocabulary.encode(ratings["user_id"])
        items, i_codes = IdVocabulary.encode(ratings["item_id"])
        n_u, n_i = len(users), len(items)
        by_user = sp.csr_matrix((r, (u_codes, i_codes)), shape=(n_u, n_i))
        by_user.sum_duplicates()
        if by_user.nnz != len(r):
            raise ValueError(
                f"ratings contains {len(r) - by_user.nnz} duplicate (user_id, item_id) pairs; "
                "keep one rating per pair (e.g. the latest by timestamp) before fitting"
            )
        by_item = by_user.T.tocsr()
        by_item.sort_indices()
        mu = float(r.mean())
        user_counts = np.diff(by_user.indptr).astype(np.int64)
        item_counts = np.diff(by_item.indptr).astype(np.int64)
        res_user = by_user.data - mu
        res_item = by_item.data - mu

        f = p.n_factors
        pen_user = _als.penalty_diagonal(
            user_counts, f, p.regularization, p.bias_regularization, p.regularization_exponent
        )
        pen_item = _als.penalty_diagonal(
            item_counts, f, p.regularization, p.bias_regularization, p.regularization_exponent
        )
        rng = np.random.default_rng(p.seed)
        user_factors = rng.normal(0.0, p.init_std, (n_u, f))
        item_factors = rng.normal(0.0, p.init_std, (n_i, f))
        user_bias = np.zeros(n_u)
        item_bias = np.zeros(n_i)

        val = None
        if validation is not None and len(validation):
            val = (
                users.lookup(validation["user_id"]),
                items.lookup(validation["item_id"]),
                validation["rating"].to_numpy(dtype=np.float64),
            )
        early = p.early_stopping and val is not None
        best: tuple[float, int, tuple[np.ndarray, ...]] | None = None
        stale = 0
        history: list[EpochReport] = []
        reason = "completed"
        n = float(len(r))
        for epoch in range(1, p.epochs + 1):
            t0 = time.perf_counter()
            with np.errstate(over="ignore", invalid="ignore"):  # checked just below
                step_i = _als.solve_side(
                    by_item,
                    res_item,
                    user_bias,
                    user_factors,
                    pen_item,
                    solver=p.solver,
                    dtype=_GRAM_DTYPE,
                )
                item_bias, item_factors = step_i.bias, step_i.factors
                step_u = _als.solve_side(
                    by_user,
                    res_user,
                    item_bias,
                    item_factors,
                    pen_user,
                    solver=p.solver,
                    dtype=_GRAM_DTYPE,
                )
            user_bias, user_factors = step_u.bias, step_u.factors
            for name, arr in (
                ("user factors", user_factors),
                ("item factors", item_factors),
                ("user biases", user_bias),
                ("item biases", item_bias),
            ):
                if not np.isfinite(arr).all():
                    raise NonFiniteFactorsError(
                        f"{name} became NaN/inf at epoch {epoch}; increase regularization "
                        "or check the ratings for extreme values"
                    )
            sse = float(step_u.sse.sum())
            item_pen = float(np.einsum("ij,ij->", pen_item[:, 1:], item_factors**2))
            item_pen += p.bias_regularization * float(item_bias @ item_bias)
            loss = (sse + float(step_u.penalty.sum()) + item_pen) / n
            val_rmse = None
            if val is not None:
                pred = self._predict_codes(
                    val[0], val[1], mu, scale, user_bias, user_factors, item_bias, item_factors
                )
                val_rmse = float(np.sqrt(np.mean((pred - val[2]) ** 2)))
            report = EpochReport(
                epoch=epoch,
                epochs=p.epochs,
                train_loss=loss,
                train_rmse=float(np.sqrt(sse / n)),
                validation_rmse=val_rmse,
                seconds=time.perf_counter() - t0,
            )
            history.append(report)
            if early:
                assert val_rmse is not None
                if best is None or val_rmse < best[0] - p.early_stopping_tol:
                    best = (
                        val_rmse,
                        epoch,
                        (
                            user_bias.copy(),
                            user_factors.copy(),
                            item_bias.copy(),
                            item_factors.copy(),
                        ),
                    )
                    stale = 0
                else:
                    stale += 1
            if callback is not None and callback(report) is False:
                reason = "callback"
                break
            if early and stale >= (p.early_stopping_patience or 0):
                reason = "early_stopping"
                break
        best_epoch = len(history)
        if best is not None:
            user_bias, user_factors, item_bias, item_factors = best[2]
            best_epoch = best[1]
        # Final user half-step in float64: stored user vectors are then exact
        # solves against the final item side (fold_in reproduces them, explain sums exactly).
        final = _als.solve_side(
            by_user, res_user, item_bias, item_factors, pen_user, solver=p.solver, dtype=np.float64
        )
        user_bias, user_factors = final.bias, final.factors

        self._users, self._items = users, items
        self._n_users = n_u
        self._user_factors = np.ascontiguousarray(user_factors)
        self._user_bias = user_bias
        self._item_factors = np.ascontiguousarray(item_factors)
        self._item_bias = item_bias
        self._user_counts = user_counts
        self.item_popularity = item_counts
        self._seen = by_user
        self.global_mean = mu
        self.rating_scale = scale
        self.n_ratings = len(r)
        self.fingerprint = self._fingerprint(users, items, by_user)
        self.history = history
        self.fit_info = {"epochs_run": len(history), "best_epoch": best_epoch, "stopped": reason}
        self._reset_caches()
        self._fitted = True
        return self

    @staticmethod
    def _resolve_scale(r: np.ndarray, rating_scale: Any) -> tuple[float, float]:
        if rating_scale is None:
            lo, hi = float(r.min()), float(r.max())
            if lo == hi:
                raise ValueError(f"all ratings equal {lo}; pass rating_scale=(min, max) explicitly")
            return lo, hi
        try:
            lo, hi = (float(v) for v in rating_scale)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"rating_scale must be a (min, max) pair, got {rating_scale!r}"
            ) from exc
        if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
            raise ValueError(f"rating_scale must be finite with min < max, got {rating_scale!r}")
        if r.min() < lo or r.max() > hi:
            raise ValueError(
                f"ratings span [{r.min()}, {r.max()}], outside rating_scale ({lo}, {hi}); "
                "fix the scale or the data"
            )
        return lo, hi

    @staticmethod
    def _fingerprint(users: IdVocabulary, items: IdVocabulary, by_user: sp.csr_matrix) -> str:
        """SHA-256 of the sorted (user, item, rating) triples of the training data."""
        h = hashlib.sha256()
        for vocab in (users, items):
            if vocab.kind == "int":
                h.update(b"int:" + vocab.ids.astype("<i8").tobytes())
            else:
                h.update(b"str:" + "\x1f".join(vocab.ids.tolist()).encode())
        h.update(by_user.indptr.astype("<i8").tobytes())
        h.update(by_user.indices.astype("<i8").tobytes())
        h.update(by_user.data.astype("<f8").tobytes())
        return h.hexdigest()

    # ------------------------------------------------------------- predicting
    @staticmethod
    def _predict_codes(
        u: np.ndarray,
        i: np.ndarray,
        mu: float,
        scale: tuple[float, float],
        user_bias: np.ndarray,
        user_factors: np.ndarray,
        item_bias: np.ndarray,
        item_factors: np.ndarray,
    ) -> np.ndarray:
        ku, ki = u >= 0, i >= 0
        pred = np.full(len(u), mu)
        pred[ku] += user_bias[u[ku]]
        pred[ki] += item_bias[i[ki]]
        both = ku & ki
        if both.any():
            pred[both] += np.einsum("ij,ij->i", user_factors[u[both]], item_factors[i[both]])
        return np.clip(pred, scale[0], scale[1])

    def predict(self, user_ids: Sequence[Any], item_ids: Sequence[Any]) -> np.ndarray:
        """Predicted ratings for aligned ``(user_ids[k], item_ids[k])`` pairs.

        Unknown users or items get the bias-only estimate; always clipped.
        """
        self._require_fitted()
        users = _as_1d(user_ids, "user_ids")
        items = _as_1d(item_ids, "item_ids")
        if len(users) != len(items):
            raise ValueError(
                f"user_ids and item_ids must have the same length ({len(users)} != {len(items)})"
            )
        return self._predict_codes(
            self._users.lookup(users),
            self._items.lookup(items),
            self.global_mean,
            self.rating_scale,
            self.user_bias,
            self.user_factors,
            self._item_bias,
            self._item_factors,
        )

    def has_item(self, item_id: Any) -> bool:
        """Whether the model learned factors for this item."""
        self._require_fitted()
        return self._items.get(item_id) >= 0

    # ------------------------------------------------------------ user vectors
    def user_vector(self, user_id: Any) -> UserVector | None:
        """The stored vector of a user, or ``None`` if unknown."""
        self._require_fitted()
        u = self._users.get(user_id)
        if u < 0:
            return None
        return UserVector(float(self._user_bias[u]), self._user_factors[u].copy())

    def _item_augmented(self) -> np.ndarray:
        if self._item_aug is None:
            self._item_aug = _als.augmented(self._item_factors)
        return self._item_aug

    def _encode_user_ratings(
        self, item_ids: Any, ratings: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Known item indices, their ratings and the mask of known input rows."""
        items = _as_1d(item_ids, "item_ids")
        vals = _as_1d(ratings, "ratings")
        if len(items) != len(vals):
            raise ValueError(
                f"item_ids and ratings must have the same length ({len(items)} != {len(vals)})"
            )
        try:
            vals = vals.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError("ratings must be numbers") from exc
        if not np.isfinite(vals).all():
            raise ValueError("ratings contain NaN or infinite values")
        idx = self._items.lookup(items) if len(items) else np.zeros(0, dtype=np.int64)
        known = idx >= 0
        idx, vals = idx[known], vals[known]
        if len(idx) > 1:
            srt = np.sort(idx)
            if (srt[1:] == srt[:-1]).any():
                raise ValueError("item_ids contains duplicates; give one rating per item")
        return idx, vals, known

    def _solve_codes(self, idx: np.ndarray, vals: np.ndarray) -> np.ndarray:
        p = self.params
        penalty = _als.penalty_diagonal(
            np.array([len(idx)]),
            p.n_factors,
            p.regularization,
            p.bias_regularization,
            p.regularization_exponent,
        )[0]
        if len(idx) == 0:
            return np.zeros(p.n_factors + 1)
        aug = self._item_augmented()[idx]
        return _als.solve_one(aug, vals - self.global_mean - self._item_bias[idx], penalty)

    def solve_user(self, item_ids: Any, ratings: Any) -> UserVector:
        """Least-squares ``[bias, factors]`` for these ratings (items fixed); not stored.

        Unknown item ids are ignored; with no known item the result is zero
        (the bias-only estimate).
        """
        self._require_fitted()
        idx, vals, _ = self._encode_user_ratings(item_ids, ratings)
        sol = self._solve_codes(idx, vals)
        return UserVector(float(sol[0]), sol[1:].copy())

    def solve_users(self, rows: Any, item_ids: Any, ratings: Any, n_rows: int) -> np.ndarray:
        """:meth:`solve_user` for many users at once, vectorized.

        ``rows[k]`` (``0 <= rows[k] < n_rows``) says whose rating ``(item_ids[k],
        ratings[k])`` is; each row's items must be distinct. Returns ``(n_rows,
        n_factors + 1)``: row ``r`` is ``[bias, factors...]`` of the ratings in row ``r``,
        zero for a row with no known item, exactly as :meth:`solve_user` solves it.
        """
        self._require_fitted()
        rows = _as_1d(rows, "rows").astype(np.int64)
        idx = self._items.lookup(_as_1d(item_ids, "item_ids"))
        vals = _as_1d(ratings, "ratings").astype(np.float64)
        if not (len(rows) == len(idx) == len(vals)):
            raise ValueError("rows, item_ids and ratings must have the same length")
        if len(rows) and (rows.min() < 0 or rows.max() >= n_rows):
            raise ValueError(f"rows must lie in [0, {n_rows})")
        if not np.isfinite(vals).all():
            raise ValueError("ratings contain NaN or infinite values")
        known = idx >= 0
        rows, idx, vals = rows[known], idx[known], vals[known]
        targets = vals - self.global_mean - self._item_bias[idx]
        matrix = sp.csr_matrix((targets, (rows, idx)), shape=(n_rows, self.n_items))
        if matrix.nnz != len(rows):
            raise ValueError("a row rates the same item twice; give one rating per item")
        p = self.params
        penalty = _als.penalty_diagonal(
            np.diff(matrix.indptr), p.n_factors, p.regularization, p.bias_regularization, p.regularization_exponent
        )
        if n_rows > _FEW_ROWS:
            return _als.solve_rows(matrix, matrix.data, self._item_augmented(), penalty)[0]
        # The batched solver first forms an outer product per catalogue item, which costs
        # more than a few one-row solves (ml-100k, one user: 6.4 ms against 0.3 ms).
        solved = np.zeros((n_rows, p.n_factors + 1))
        for row in range(n_rows):
            span = slice(matrix.indptr[row], matrix.indptr[row + 1])
            if span.stop > span.start:
                solved[row] = _als.solve_one(self._item_augmented()[matrix.indices[span]], matrix.data[span], penalty[row])
        return solved

    def predict_vectors(self, biases: Any, factors: Any, rows: Any, item_ids: Any) -> np.ndarray:
        """:meth:`predict_vector` for many vectors at once: the prediction of vector
        ``(biases[rows[k]], factors[rows[k]])`` for ``item_ids[k]``, clipped."""
        self._require_fitted()
        biases = np.asarray(biases, dtype=np.float64)
        factors = np.asarray(factors, dtype=np.float64)
        rows = _as_1d(rows, "rows").astype(np.int64)
        idx = self._items.lookup(_as_1d(item_ids, "item_ids"))
        if factors.shape != (len(biases), self.params.n_factors):
            raise ValueError(f"factors must have shape ({len(biases)}, {self.params.n_factors})")
        pred = self.global_mean + biases[rows]
        known = idx >= 0
        pred[known] += self._item_bias[idx[known]] + np.einsum(
            "ij,ij->i", factors[rows[known]], self._item_factors[idx[known]]
        )
        return np.clip(pred, *self.rating_scale)

    def fold_in(self, user_id: Any, item_ids: Any, ratings: Any) -> UserVector:
        """Solve a user's vector from all their ratings and store it (adding new users).

        ``item_ids``/``ratings`` are the user's complete ratings; they replace
        the user's seen items for ``recommend(exclude_seen=True)`` and ``explain``.
        """
        self._require_fitted()
        idx, vals, _ = self._encode_user_ratings(item_ids, ratings)
        sol = self._solve_codes(idx, vals)
        u = self._users.get(user_id)
        if u < 0:
            u = self._users.add(user_id)
            self._grow_users(u + 1)
        self._user_bias[u] = sol[0]
        self._user_factors[u] = sol[1:]
        self._user_counts[u] = len(idx)
        order = np.argsort(idx)
        self._seen_override[u] = (idx[order], vals[order])
        return UserVector(float(sol[0]), sol[1:].copy())

    def _grow_users(self, n: int) -> None:
        cap = len(self._user_bias)
        if n > cap:
            new_cap = max(n, 2 * cap, 16)
            f = self._user_factors.shape[1]
            factors = np.zeros((new_cap, f))
            factors[:cap] = self._user_factors
            bias = np.zeros(new_cap)
            bias[:cap] = self._user_bias
            counts = np.zeros(new_cap, dtype=np.int64)
            counts[:cap] = self._user_counts
            self._user_factors, self._user_bias, self._user_counts = factors, bias, counts
        self._n_users = max(self._n_users, n)

    def _seen_of(self, u: int) -> tuple[np.ndarray, np.ndarray]:
        """Item indices (sorted) and ratings a known user has rated."""
        if u in self._seen_override:
            return self._seen_override[u]
        if u >= self._seen.shape[0]:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        lo, hi = self._seen.indptr[u], self._seen.indptr[u + 1]
        return self._seen.indices[lo:hi], self._seen.data[lo:hi]

    def seen_items(self, user_id: Any) -> tuple[np.ndarray, np.ndarray]:
        """Raw ids and ratings of the items a user rated (empty if unknown)."""
        self._require_fitted()
        u = self._users.get(user_id)
        if u < 0:
            return self._items.ids[:0], np.zeros(0)
        idx, vals = self._seen_of(u)
        return self._items.ids[idx], vals.copy()

    # ----------------------------------------------------------- recommending
    @staticmethod
    def _check_n(n: Any) -> int:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        return int(n)

    def _top_n(self, scores: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-n of a 1-D score vector (``-inf`` = excluded): raw ids, clipped scores."""
        n_valid = int(np.isfinite(scores).sum())
        k = min(n, n_valid)
        if k == 0:
            return self._items.ids[:0], np.zeros(0)
        if k < len(scores):
            part = np.argpartition(-scores, k - 1)[:k]
        else:
            part = np.arange(len(scores))
        top = part[np.argsort(-scores[part], kind="stable")][:k]
        return self._items.ids[top], np.clip(scores[top], *self.rating_scale)

    def _vector_scores(self, bias: float, factors: np.ndarray) -> np.ndarray:
        return self._item_factors @ factors + (self._item_bias + (self.global_mean + bias))

    def recommend(
        self, user_id: Any, n: int = 10, exclude_seen: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``n`` items for a user: ``(raw item ids, predicted ratings)``.

        Items are ranked by the unclipped score; returned scores are clipped to
        the rating scale. Unknown users get the bias-only (mu + b_i) ranking.
        """
        self._require_fitted()
        n = self._check_n(n)
        u = self._users.get(user_id)
        if u < 0:
            return self._top_n(self.global_mean + self._item_bias, n)
        scores = self._vector_scores(self._user_bias[u], self._user_factors[u])
        if exclude_seen:
            scores[self._seen_of(u)[0]] = -np.inf
        return self._top_n(scores, n)

    def recommend_vector(
        self, vec: UserVector, n: int = 10, exclude_item_ids: Iterable[Any] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``n`` items for a user vector (e.g. from :meth:`solve_user`)."""
        self._require_fitted()
        n = self._check_n(n)
        scores = self._vector_scores(float(vec.bias), self._check_vec(vec))
        if exclude_item_ids is not None:
            ex = self._items.lookup(_as_1d(list(exclude_item_ids), "exclude_item_ids"))
            scores[ex[ex >= 0]] = -np.inf
        return self._top_n(scores, n)

    def recommend_batch(
        self, user_ids: Sequence[Any], n: int = 10, exclude_seen: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``n`` for many users: 2-D ``(item ids, scores)``, one row per user.

        Rows with fewer than ``n`` candidates are padded with ``None`` ids and
        NaN scores; the id array then has dtype ``object``.
        """
        self._require_fitted()
        n = self._check_n(n)
        users = _as_1d(user_ids, "user_ids")
        codes = self._users.lookup(users)
        n_items = self.n_items
        k = min(n, n_items)
        top_idx = np.zeros((len(codes), k), dtype=np.int64)
        top_scores = np.full((len(codes), k), np.nan)
        chunk = max(1, _BATCH_CELLS // max(n_items, 1))
        base = self.global_mean + self._item_bias
        for start in range(0, len(codes), chunk):
            c = codes[start : start + chunk]
            known = c >= 0
            cs = np.maximum(c, 0)
            scores = self._user_factors[cs] @ self._item_factors.T
            scores += self._user_bias[cs][:, None]
            scores[~known] = 0.0
            scores += base[None, :]
            if exclude_seen and known.any():
                rows = np.flatnonzero(known)
                if self._seen_override:
                    ovr = np.isin(cs[rows], np.fromiter(self._seen_override, dtype=np.int64))
                else:
                    ovr = np.zeros(len(rows), dtype=bool)
                from_csr = rows[~ovr & (cs[rows] < self._seen.shape[0])]
                sub = self._seen[cs[from_csr]]
                scores[np.repeat(from_csr, np.diff(sub.indptr)), sub.indices] = -np.inf
                for row in rows[ovr]:  # folded-in users only
                    scores[row, self._seen_override[int(cs[row])][0]] = -np.inf
            if k < n_items:
                part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
            else:
                part = np.broadcast_to(np.arange(n_items), scores.shape).copy()
            part_scores = np.take_along_axis(scores, part, axis=1)
            order = np.argsort(-part_scores, axis=1, kind="stable")
            top_idx[start : start + len(c)] = np.take_along_axis(part, order, axis=1)
            top_scores[start : start + len(c)] = np.take_along_axis(part_scores, order, axis=1)
        valid = np.isfinite(top_scores)
        ids = self._items.ids[top_idx]
        out_scores = np.where(valid, np.clip(top_scores, *self.rating_scale), np.nan)
        if k < n or not valid.all():
            padded = np.full((len(codes), n), None, dtype=object)
            padded[:, :k] = np.where(valid, ids, None)
            scores_p = np.full((len(codes), n), np.nan)
            scores_p[:, :k] = out_scores
            return padded, scores_p
        return ids, out_scores

    def similar_items(self, item_id: Any, n: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The ``n`` items with the highest factor cosine to ``item_id`` (itself excluded)."""
        self._require_fitted()
        n = self._check_n(n)
        i = self._items.get(item_id)
        if i < 0:
            raise UnknownIdError(f"unknown item_id {item_id!r}")
        if self._item_unit is None:
            norms = np.linalg.norm(self._item_factors, axis=1, keepdims=True)
            self._item_unit = self._item_factors / np.where(norms > 0, norms, 1.0)
        sims = self._item_unit @ self._item_unit[i]
        sims[i] = -np.inf
        order_ids, _ = self._top_n_raw(sims, n)
        return self._items.ids[order_ids], sims[order_ids]

    def similar_users(
        self, vec: UserVector, among_user_ids: Sequence[Any], n: int = 5
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``n`` users of ``among_user_ids`` whose factors have the highest cosine
        with ``vec`` (unknown ids are skipped): ``(raw user ids, similarities)``."""
        self._require_fitted()
        n = self._check_n(n)
        candidates = _as_1d(list(among_user_ids), "among_user_ids")
        codes = self._users.lookup(candidates) if len(candidates) else np.zeros(0, dtype=np.int64)
        known = codes >= 0
        candidates, codes = candidates[known], codes[known]
        factors = self._user_factors[codes]
        target = self._check_vec(vec)
        norms = np.linalg.norm(factors, axis=1) * max(float(np.linalg.norm(target)), 1e-12)
        sims = (factors @ target) / np.where(norms > 0, norms, 1.0)
        order, _ = self._top_n_raw(sims, n)
        return candidates[order], sims[order]

    @staticmethod
    def _top_n_raw(scores: np.ndarray, n: int) -> tuple[np.ndarray, int]:
        k = min(n, int(np.isfinite(scores).sum()))
        if k == 0:
            return np.zeros(0, dtype=np.int64), 0
        part = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
        return part[np.argsort(-scores[part], kind="stable")][:k], k

    # --------------------------------------------------------- vector helpers
    def _check_vec(self, vec: UserVector) -> np.ndarray:
        factors = np.asarray(vec.factors, dtype=np.float64)
        if factors.shape != (self.params.n_factors,):
            raise ValueError(
                f"vector has {factors.shape} factors, model has ({self.params.n_factors},)"
            )
        return factors

    def predict_vector(self, vec: UserVector, item_ids: Sequence[Any]) -> np.ndarray:
        """Predicted ratings of a user vector for items (unknown items: mu + b_u)."""
        self._require_fitted()
        factors = self._check_vec(vec)
        idx = self._items.lookup(_as_1d(item_ids, "item_ids"))
        pred = np.full(len(idx), self.global_mean + float(vec.bias))
        known = idx >= 0
        pred[known] += self._item_bias[idx[known]] + self._item_factors[idx[known]] @ factors
        return np.clip(pred, *self.rating_scale)

    # ------------------------------------------------------------- explaining
    def explain_vector(
        self,
        item_id: Any,
        rated_item_ids: Sequence[Any],
        rated_ratings: Sequence[float],
        vec: UserVector | None = None,
    ) -> Explanation:
        """Explain the prediction for ``item_id`` from a user's ratings.

        The user's vector is re-solved from the rated items (``vec`` given:
        it is used for the bias and interaction instead, and ``residual``
        shows any mismatch with the re-solve). With ``W = (Y~^T Y~ + P)^-1``,
        ``y_i . x_u = sum_j ([0, y_i]^T W y~_j)(r_j - mu - b_j)``, so the
        per-item contributions sum to the interaction. Unknown rated items are
        ignored.
        """
        self._require_fitted()
        i = self._items.get(item_id)
        if i < 0:
            raise UnknownIdError(f"unknown item_id {item_id!r}")
        idx, vals, _ = self._encode_user_ratings(rated_item_ids, rated_ratings)
        return self._explain_codes(item_id, i, idx, vals, vec)

    def explain(self, user_id: Any, item_id: Any) -> Explanation:
        """Explain a known user's prediction from their stored ratings and vector."""
        self._require_fitted()
        u = self._users.get(user_id)
        if u < 0:
            raise UnknownIdError(f"unknown user_id {user_id!r}")
        i = self._items.get(item_id)
        if i < 0:
            raise UnknownIdError(f"unknown item_id {item_id!r}")
        idx, vals = self._seen_of(u)
        vec = UserVector(float(self._user_bias[u]), self._user_factors[u])
        return self._explain_codes(item_id, i, np.asarray(idx), np.asarray(vals), vec)

    def _explain_codes(
        self, item_id: Any, i: int, idx: np.ndarray, vals: np.ndarray, vec: UserVector | None
    ) -> Explanation:
        p = self.params
        y_i = self._item_factors[i]
        aug = self._item_augmented()[idx]
        targets = vals - self.global_mean - self._item_bias[idx]
        if len(idx):
            penalty = _als.penalty_diagonal(
                np.array([len(idx)]),
                p.n_factors,
                p.regularization,
                p.bias_regularization,
                p.regularization_exponent,
            )[0]
            a = aug.T @ aug
            a.flat[:: a.shape[0] + 1] += penalty
            e_i = np.concatenate(([0.0], y_i))
            z = np.linalg.solve(a, e_i)  # W [0, y_i] (W symmetric)
            contributions = (aug @ z) * targets
        else:
            contributions = np.zeros(0)
        if vec is None:
            sol = self._solve_codes(idx, vals)
            vec = UserVector(float(sol[0]), sol[1:])
        factors = self._check_vec(vec)
        interaction = float(y_i @ factors)
        item_bias = float(self._item_bias[i])
        raw = self.global_mean + float(vec.bias) + item_bias + interaction
        norms = np.linalg.norm(self._item_factors[idx], axis=1) * np.linalg.norm(y_i)
        dots = self._item_factors[idx] @ y_i
        sims = np.divide(dots, norms, out=np.zeros_like(dots), where=norms > 0)
        return Explanation(
            item_id=item_id,
            global_mean=self.global_mean,
            user_bias=float(vec.bias),
            item_bias=item_bias,
            interaction=interaction,
            raw_score=raw,
            prediction=float(np.clip(raw, *self.rating_scale)),
            rated_item_ids=self._items.ids[idx],
            rated_ratings=np.asarray(vals, dtype=np.float64),
            contributions=contributions,
            similarities=sims,
            residual=interaction - float(contributions.sum()),
        )

    # ------------------------------------------------------------ persistence
    def _seen_merged(self) -> sp.csr_matrix:
        """Training CSR with folded-in users' ratings merged in (for saving)."""
        seen = self._seen
        if seen.shape[0] < self._n_users:
            seen = sp.vstack(
                [seen, sp.csr_matrix((self._n_users - seen.shape[0], seen.shape[1]))]
            ).tocsr()
        if not self._seen_override:
            return seen
        lil = seen.tolil()
        for u, (idx, vals) in self._seen_override.items():
            lil.rows[u] = list(idx.tolist())
            lil.data[u] = list(vals.tolist())
        out = lil.tocsr()
        out.sort_indices()
        return out

    def _to_arrays(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        self._require_fitted()
        seen = self._seen_merged()
        arrays = {
            "user_factors": self.user_factors,
            "user_bias": self.user_bias,
            "user_counts": self.user_counts,
            "item_factors": self._item_factors,
            "item_bias": self._item_bias,
            "item_popularity": self.item_popularity.astype(np.int64),
            "seen_indptr": seen.indptr.astype(np.int64),
            "seen_indices": seen.indices.astype(np.int64),
            "seen_ratings": seen.data.astype(np.float64),
            "user_ids": self._users.to_array(),
            "item_ids": self._items.to_array(),
        }
        meta = {
            "model": "MatrixFactorization",
            "params": self.params.model_dump(mode="json"),
            "global_mean": self.global_mean,
            "rating_scale": list(self.rating_scale),
            "n_ratings": self.n_ratings,
            "fingerprint": self.fingerprint,
            "user_id_kind": self._users.kind,
            "item_id_kind": self._items.kind,
            "fit_info": self.fit_info,
            "numpy_version": np.__version__,
        }
        return arrays, meta

    @classmethod
    def _from_arrays(
        cls, arrays: dict[str, np.ndarray], meta: dict[str, Any]
    ) -> MatrixFactorization:
        try:
            model = cls(MFParams(**meta["params"]))
            users = IdVocabulary.from_array(arrays["user_ids"])
            items = IdVocabulary.from_array(arrays["item_ids"])
            n_u, n_i = len(users), len(items)
            model._users, model._items = users, items
            model._n_users = n_u
            model._user_factors = np.array(arrays["user_factors"], dtype=np.float64)
            model._user_bias = np.array(arrays["user_bias"], dtype=np.float64)
            model._user_counts = np.array(arrays["user_counts"], dtype=np.int64)
            model._item_factors = np.ascontiguousarray(arrays["item_factors"], dtype=np.float64)
            model._item_bias = np.asarray(arrays["item_bias"], dtype=np.float64)
            model.item_popularity = np.asarray(arrays["item_popularity"], dtype=np.int64)
            model._seen = sp.csr_matrix(
                (arrays["seen_ratings"], arrays["seen_indices"], arrays["seen_indptr"]),
                shape=(n_u, n_i),
            )
            model.global_mean = float(meta["global_mean"])
            model.rating_scale = (float(meta["rating_scale"][0]), float(meta["rating_scale"][1]))
            model.n_ratings = int(meta["n_ratings"])
            model.fingerprint = str(meta["fingerprint"])
            model.fit_info = dict(meta.get("fit_info", {}))
            f = model.params.n_factors
            if model._user_factors.shape != (n_u, f) or model._item_factors.shape != (n_i, f):
                raise ValueError("factor shapes do not match ids and n_factors")
        except (KeyError, ValueError, TypeError, IndexError) as exc:
            raise ModelFileError(f"model file content is inconsistent: {exc}") from exc
        model._reset_caches()
        model._fitted = True
        return model

    def save(self, path_or_file: PathOrFile) -> None:
        """Write the model to a path or binary file object (format: :mod:`.persistence`)."""
        arrays, meta = self._to_arrays()
        persistence.write_model_file(path_or_file, arrays, meta)

    @classmethod
    def load(cls, path_or_file: PathOrFile) -> MatrixFactorization:
        """Read a model written by :meth:`save`; raises ModelFileError if damaged."""
        arrays, meta = persistence.read_model_file(path_or_file)
        return cls._from_arrays(arrays, meta)

    def to_bytes(self) -> bytes:
        arrays, meta = self._to_arrays()
        return persistence.to_bytes(arrays, meta)

    @classmethod
    def from_bytes(cls, data: bytes) -> MatrixFactorization:
        arrays, meta = persistence.from_bytes(data)
        return cls._from_arrays(arrays, meta)

    def __repr__(self) -> str:
        state = f"{self._n_users} users x {len(self._items)} items" if self._fitted else "unfitted"
        return f"MatrixFactorization({self.params!r}, {state})"
