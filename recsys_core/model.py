"""Biased matrix factorization for explicit ratings: the ``matrix_factorization`` type.

Prediction: ``mu + b_u + b_i + x_u . y_i`` clipped to the rating scale. A user's
state is ``[b_u, x_u...]``: for a training user the vector training ended with, for
anyone else the regularized least-squares solve of their ratings against the fixed
item side (:meth:`MatrixFactorization.user_states`). Training is
:class:`~.mf_training.ALSTrainer`; the file layout is :mod:`.mf_persistence`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, NamedTuple

import numpy as np
import pandas as pd
import scipy.sparse as sp

from . import _als
from ._catalogue import TrainedCatalogue
from ._frames import check_frame, encode_ratings, fingerprint
from ._vocab import IdVocabulary, as_1d
from .mf_persistence import mf_from_arrays, mf_to_arrays
from .mf_training import ALSTrainer, Factors, NonFiniteFactorsError, penalties
from .params import MFParams
from .persistence import ModelFileError
from .recommender import (
    Callback,
    EpochReport,
    Explanation,
    NotFittedError,
    Recommender,
    Term,
    UnknownIdError,
    UserProfile,
    check_n,
    ids_of,
    top_n_indices,
    top_n_rows,
)

__all__ = [
    "EpochReport",
    "Explanation",
    "MFParams",
    "MatrixFactorization",
    "ModelFileError",
    "NonFiniteFactorsError",
    "NotFittedError",
    "UnknownIdError",
]

_BATCH_CELLS = 4_000_000  # score-matrix cells per recommend_batch chunk
_FEW_ROWS = 16  # below this, user_states solves row by row


class Decomposition(NamedTuple):
    """One score split the item-based way (see :meth:`MatrixFactorization.explain`)."""

    raw: float  # mu + b_u + b_i + interaction
    interaction: float  # y_i . x_u of the given state
    contributions: np.ndarray  # per known rated item; sum = interaction of the re-solve
    similarities: np.ndarray  # factor cosine of the explained and each rated item
    rated: np.ndarray  # indices of the known rated items
    ratings: np.ndarray


class MatrixFactorization(TrainedCatalogue, Recommender):
    """Biased matrix factorization trained by ALS.

    Construct with hyperparameters (see :class:`MFParams`), e.g.
    ``MatrixFactorization(n_factors=20, epochs=10)``; call :meth:`fit` with a
    ratings frame (``user_id``, ``item_id``, ``rating``[, ``timestamp``]).
    """

    model_type: ClassVar[str] = "matrix_factorization"
    predicts_ratings: ClassVar[bool] = True

    def __init__(self, params: MFParams | None = None, **hyperparams: Any) -> None:
        if params is not None and hyperparams:
            raise ValueError("pass either params= or keyword hyperparameters, not both")
        self.params: MFParams = params if params is not None else MFParams(**hyperparams)
        self._fitted = False
        self.history: list[EpochReport] = []
        self.fit_info: dict[str, Any] = {}

    # -------------------------------------------------------------- training
    def fit(
        self,
        ratings: pd.DataFrame,
        *,
        validation: pd.DataFrame | None = None,
        rating_scale: tuple[float, float] | None = None,
        callback: Callback | None = None,
        item_tags: Mapping[Any, Sequence[str]] | None = None,  # not used by this type
    ) -> MatrixFactorization:
        """Train on a ratings frame; returns ``self``.

        ``callback(report)`` runs after every epoch; returning ``False`` stops
        training (the factors of the last completed epoch, or of the best one
        under early stopping, are kept). With ``validation`` and
        ``early_stopping_patience`` set, training stops once validation RMSE has
        not improved for that many epochs and the best epoch's factors are kept.
        """
        data = encode_ratings(ratings, rating_scale)
        if validation is not None and len(validation):
            check_frame(validation, "validation")
        mu = float(ratings["rating"].to_numpy(dtype=np.float64).mean())  # in frame order: same bits as ever
        trainer = ALSTrainer(self.params, data, mu, validation)
        result = trainer.run(callback)
        self._install(
            data.users,
            data.items,
            result.factors,
            data.by_user,
            user_counts=trainer.user_counts,
            item_popularity=trainer.item_counts,
            global_mean=mu,
            rating_scale=data.rating_scale,
            n_ratings=data.by_user.nnz,
            fingerprint=fingerprint(data.users, data.items, data.by_user),
        )
        self.history = result.history
        self.fit_info = {"epochs_run": len(result.history), "best_epoch": result.best_epoch, "stopped": result.stopped}
        return self

    def _install(
        self,
        users: IdVocabulary,
        items: IdVocabulary,
        factors: Factors,
        seen: sp.csr_matrix,
        *,
        user_counts: np.ndarray,
        item_popularity: np.ndarray,
        global_mean: float,
        rating_scale: tuple[float, float],
        n_ratings: int,
        fingerprint: str,
    ) -> None:
        """Set the fitted state (from ``fit`` or a model file)."""
        self._users, self._items, self._factors, self._seen = users, items, factors, seen
        self._user_counts, self._item_popularity = user_counts, item_popularity
        self.global_mean, self.rating_scale = global_mean, rating_scale
        self.n_ratings, self.fingerprint = n_ratings, fingerprint
        self._item_aug: np.ndarray | None = None
        self._item_unit: np.ndarray | None = None
        self._fitted = True

    # ------------------------------------------------------------- catalogue
    @property
    def item_popularity(self) -> np.ndarray:
        return self._item_popularity

    @property
    def user_factors(self) -> np.ndarray:
        return self._factors.user_factors

    @property
    def user_bias(self) -> np.ndarray:
        return self._factors.user_bias

    @property
    def item_factors(self) -> np.ndarray:
        return self._factors.item_factors

    @property
    def item_bias(self) -> np.ndarray:
        return self._factors.item_bias

    @property
    def user_counts(self) -> np.ndarray:
        """Training ratings per user."""
        return self._user_counts

    @property
    def user_item_counts(self) -> tuple[np.ndarray, np.ndarray]:
        """``(ratings per user, ratings per item)`` in index order."""
        return self.user_counts, self.item_popularity

    # ----------------------------------------------------------- user states
    @property
    def state_size(self) -> int:
        return self.params.n_factors + 1

    def trained_state(self, user_id: Any) -> np.ndarray | None:
        """``[b_u, x_u...]`` as training left it, or ``None`` for an unknown user."""
        self._require_fitted()
        u = self._users.get(user_id)
        if u < 0:
            return None
        return np.concatenate(([self._factors.user_bias[u]], self._factors.user_factors[u]))

    def _item_augmented(self) -> np.ndarray:
        if self._item_aug is None:
            self._item_aug = _als.augmented(self._factors.item_factors)
        return self._item_aug

    def user_states(self, rows: Any, item_ids: Any, ratings: Any, n_rows: int) -> np.ndarray:
        """Least-squares ``[bias, factors...]`` of many users' ratings, items fixed.

        ``rows[k]`` (``0 <= rows[k] < n_rows``) says whose rating ``(item_ids[k],
        ratings[k])`` is; each row's items must be distinct; unknown items are
        ignored. Returns ``(n_rows, n_factors + 1)``, zero for a row with no known
        item (the bias-only estimate). Nothing is stored.
        """
        self._require_fitted()
        rows = as_1d(rows, "rows").astype(np.int64)
        idx = self._item_codes(item_ids)
        vals = as_1d(ratings, "ratings").astype(np.float64)
        if not (len(rows) == len(idx) == len(vals)):
            raise ValueError("rows, item_ids and ratings must have the same length")
        if len(rows) and (rows.min() < 0 or rows.max() >= n_rows):
            raise ValueError(f"rows must lie in [0, {n_rows})")
        if not np.isfinite(vals).all():
            raise ValueError("ratings contain NaN or infinite values")
        known = idx >= 0
        rows, idx, vals = rows[known], idx[known], vals[known]
        targets = vals - self.global_mean - self._factors.item_bias[idx]
        matrix = sp.csr_matrix((targets, (rows, idx)), shape=(n_rows, self.n_items))
        if matrix.nnz != len(rows):
            raise ValueError("a row rates the same item twice (duplicates); give one rating per item")
        penalty = penalties(self.params, np.diff(matrix.indptr))
        aug = self._item_augmented()
        if n_rows > _FEW_ROWS:
            return _als.solve_rows(matrix, matrix.data, aug, penalty)[0]
        # The batched solver first forms an outer product per catalogue item, which costs
        # more than a few one-row solves (ml-100k, one user: 6.4 ms against 0.3 ms).
        solved = np.zeros((n_rows, self.state_size))
        for row in range(n_rows):
            span = slice(matrix.indptr[row], matrix.indptr[row + 1])
            if span.stop > span.start:
                solved[row] = _als.solve_one(aug[matrix.indices[span]], matrix.data[span], penalty[row])
        return solved

    def _check_state(self, state: Any) -> np.ndarray:
        state = np.asarray(state, dtype=np.float64)
        if state.shape != (self.state_size,):
            raise ValueError(
                f"a user state has shape {state.shape}; this model's is ({self.state_size},): "
                f"[bias, {self.params.n_factors} factors] from user_states()"
            )
        return state

    # --------------------------------------------------------------- scoring
    def scores(self, profile: UserProfile) -> np.ndarray:
        """Unclipped ``mu + b_u + b_i + x_u . y_i`` of every catalogue item."""
        self._require_fitted()
        state = self._check_state(profile.state)
        f = self._factors
        return f.item_factors @ state[1:] + (f.item_bias + (self.global_mean + state[0]))

    def scores_batch(self, profiles: Sequence[UserProfile]) -> np.ndarray:
        """:meth:`scores` of many profiles in one matrix product."""
        self._require_fitted()
        if not profiles:
            return np.zeros((0, self.n_items))
        states = np.stack([self._check_state(p.state) for p in profiles])
        f = self._factors
        return states[:, 1:] @ f.item_factors.T + (f.item_bias + self.global_mean)[None, :] + states[:, :1]

    def display_scores(self, scores: np.ndarray) -> np.ndarray:
        return np.clip(scores, *self.rating_scale)

    def predict(self, user_ids: Sequence[Any], item_ids: Sequence[Any]) -> np.ndarray:
        """Predicted ratings for aligned ``(user_ids[k], item_ids[k])`` pairs.

        Unknown users or items get the bias-only estimate; always clipped.
        """
        self._require_fitted()
        users = as_1d(user_ids, "user_ids")
        items = as_1d(item_ids, "item_ids")
        if len(users) != len(items):
            raise ValueError(f"user_ids and item_ids must have the same length ({len(users)} != {len(items)})")
        pred = self._factors.predict_codes(self.global_mean, self._users.lookup(users), self._items.lookup(items))
        return np.clip(pred, *self.rating_scale)

    def predict_profiles(self, profiles: Sequence[UserProfile], rows: Any, item_ids: Any) -> np.ndarray:
        """Predicted rating of ``profiles[rows[k]]`` for ``item_ids[k]``, clipped
        (unknown items: ``mu + b_u``)."""
        self._require_fitted()
        states = np.stack([self._check_state(p.state) for p in profiles]) if profiles else np.zeros((0, self.state_size))
        return self._predict_states(states, rows, item_ids)

    def _predict_states(self, states: np.ndarray, rows: Any, item_ids: Any) -> np.ndarray:
        rows = as_1d(rows, "rows").astype(np.int64)
        idx = self._item_codes(item_ids)
        if len(rows) != len(idx):
            raise ValueError("rows and item_ids must have the same length")
        f = self._factors
        pred = self.global_mean + states[rows, 0]
        known = idx >= 0
        pred[known] += f.item_bias[idx[known]] + np.einsum(
            "ij,ij->i", states[rows[known], 1:], f.item_factors[idx[known]]
        )
        return np.clip(pred, *self.rating_scale)

    def recommend_batch(
        self, user_ids: Sequence[Any], n: int = 10, exclude_seen: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``n`` for many training users: 2-D ``(item ids, clipped scores)``.

        Unknown users get the bias-only (``mu + b_i``) ranking. Rows with fewer
        than ``n`` candidates are padded with ``None`` ids (dtype ``object``) and NaN.
        """
        self._require_fitted()
        n = check_n(n)
        codes = self._users.lookup(as_1d(user_ids, "user_ids"))
        f = self._factors
        top = np.zeros((len(codes), n), dtype=np.int64)
        top_scores = np.zeros((len(codes), n))
        chunk = max(1, _BATCH_CELLS // max(self.n_items, 1))
        base = self.global_mean + f.item_bias
        for start in range(0, len(codes), chunk):
            c = codes[start : start + chunk]
            known = c >= 0
            cs = np.maximum(c, 0)
            scores = f.user_factors[cs] @ f.item_factors.T
            scores += f.user_bias[cs][:, None]
            scores[~known] = 0.0
            scores += base[None, :]
            if exclude_seen and known.any():
                rows = np.flatnonzero(known)
                sub = self._seen[cs[rows]]
                scores[np.repeat(rows, np.diff(sub.indptr)), sub.indices] = -np.inf
            top[start : start + len(c)], top_scores[start : start + len(c)] = top_n_rows(scores, n)
        return ids_of(self._items.ids, top), self.display_scores(top_scores)

    def similar_items(self, item_id: Any, n: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The ``n`` items with the highest factor cosine to ``item_id`` (itself excluded)."""
        self._require_fitted()
        n = check_n(n)
        i = self._item_code(item_id)
        if self._item_unit is None:
            factors = self._factors.item_factors
            norms = np.linalg.norm(factors, axis=1, keepdims=True)
            self._item_unit = factors / np.where(norms > 0, norms, 1.0)
        sims = self._item_unit @ self._item_unit[i]
        sims[i] = -np.inf
        order = top_n_indices(sims, n)
        return self._items.ids[order], sims[order]

    # ------------------------------------------------------------ explaining
    def explain(self, profile: UserProfile, item_id: Any) -> Explanation:
        """``scores(profile)`` of ``item_id`` as global mean + user bias + the movie's
        bias + one share per rated movie (+ a residual when the state is not the
        re-solve of the profile's ratings, e.g. a trained user's stored vector after
        the item side moved). With ``W = (Y~^T Y~ + P)^-1`` over the rated movies,
        ``y_i . x_u = sum_j ([0, y_i]^T W y~_j)(r_j - mu - b_j)``, as in implicit's
        ALS ``explain``. Unknown rated movies are ignored."""
        self._require_fitted()
        i = self._item_code(item_id)
        state = self._check_state(profile.state)
        parts = self._decompose(i, *self._known_ratings(profile.item_ids, profile.ratings), state)
        b_i = float(self._factors.item_bias[i])
        terms = [Term("global_mean", self.global_mean), Term("user_bias", float(state[0])), Term("item_appeal", b_i)]
        rated_ids = self._items.ids[parts.rated].tolist()
        terms += [
            Term("rated_item", float(c), item_id=rid, rating=float(r), similarity=float(s))
            for rid, r, c, s in zip(rated_ids, parts.ratings, parts.contributions, parts.similarities, strict=True)
        ]
        residual = parts.interaction - float(parts.contributions.sum())
        if abs(residual) > 1e-9 * max(1.0, abs(parts.interaction)):
            terms.append(Term("residual", residual))
        return Explanation(
            item_id=item_id,
            model_type=self.model_type,
            score=parts.raw,
            prediction=float(np.clip(parts.raw, *self.rating_scale)),
            terms=tuple(terms),
        )

    def _known_ratings(self, item_ids: Any, ratings: Any) -> tuple[np.ndarray, np.ndarray]:
        """Indices and ratings of the rated items the model knows."""
        idx = self._item_codes(item_ids)
        vals = np.asarray(ratings, dtype=np.float64)
        if len(vals) != len(idx):
            raise ValueError(f"item_ids and ratings must have the same length ({len(idx)} != {len(vals)})")
        return idx[idx >= 0], vals[idx >= 0]

    def _decompose(self, i: int, idx: np.ndarray, vals: np.ndarray, state: np.ndarray) -> Decomposition:
        """Item ``i``'s score for ``state``, split over the known rated items ``idx``."""
        f = self._factors
        y_i = f.item_factors[i]
        if len(idx):
            aug = self._item_augmented()[idx]
            a = aug.T @ aug
            a.flat[:: a.shape[0] + 1] += penalties(self.params, np.array([len(idx)]))[0]
            z = np.linalg.solve(a, np.concatenate(([0.0], y_i)))  # W [0, y_i] (W symmetric)
            contributions = (aug @ z) * (vals - self.global_mean - f.item_bias[idx])
        else:
            contributions = np.zeros(0)
        interaction = float(y_i @ state[1:])
        raw = self.global_mean + float(state[0]) + float(f.item_bias[i]) + interaction
        rated = f.item_factors[idx]
        norms = np.linalg.norm(rated, axis=1) * np.linalg.norm(y_i)
        dots = rated @ y_i
        sims = np.divide(dots, norms, out=np.zeros_like(dots), where=norms > 0)
        return Decomposition(raw, interaction, contributions, sims, idx, vals)

    # ----------------------------------------------------------- persistence
    def _to_arrays(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        self._require_fitted()
        return mf_to_arrays(self)

    @classmethod
    def _from_arrays(cls, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> MatrixFactorization:
        return mf_from_arrays(cls, arrays, meta)

    def __repr__(self) -> str:
        state = f"{len(self._users)} users x {len(self._items)} items" if self._fitted else "unfitted"
        return f"MatrixFactorization({self.params!r}, {state})"
