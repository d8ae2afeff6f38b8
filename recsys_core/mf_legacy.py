"""GOING AWAY: matrix factorization's vector API from before the Recommender interface.

The web service still calls these methods; they are thin wrappers over the
interface (``user_states``, ``trained_state``, ``predict_profiles``, ``recommend``,
``explain``'s decomposition). Delete this module, and ``LegacyVectorMethods`` from
:class:`~.model.MatrixFactorization`'s bases, once the service uses
:class:`~.recommender.UserProfile` everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ._vocab import as_1d
from .recommender import UserProfile, check_n, top_n_indices

if TYPE_CHECKING:
    from .model import MatrixFactorization

__all__ = ["LegacyExplanation", "LegacyVectorMethods", "UserVector"]

_EMPTY = np.zeros(0)


@dataclass(frozen=True)
class UserVector:
    """GOING AWAY (use a state from ``user_states``): one user's bias and factors."""

    bias: float
    factors: np.ndarray

    @property
    def state(self) -> np.ndarray:
        return np.concatenate(([float(self.bias)], np.asarray(self.factors, dtype=np.float64)))

    @classmethod
    def of(cls, state: np.ndarray) -> UserVector:
        return cls(float(state[0]), state[1:].copy())


@dataclass(frozen=True)
class LegacyExplanation:
    """GOING AWAY (use ``explain(profile, item_id)``): one prediction decomposed.

    ``raw_score = global_mean + user_bias + item_bias + interaction``, ``prediction``
    is it clipped; ``contributions[j]`` is rated item ``j``'s share of the
    interaction, summing to it up to ``residual``; ``similarities[j]`` the cosine
    of the two items' factors.
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
        ids = self.rated_item_ids.tolist()
        return [
            {
                "item_id": ids[j],
                "rating": float(self.rated_ratings[j]),
                "contribution": float(self.contributions[j]),
                "similarity": float(self.similarities[j]),
            }
            for j in order
        ]


class LegacyVectorMethods:
    """GOING AWAY: the ``*_vector`` methods, mixed into MatrixFactorization."""

    def user_vector(self: MatrixFactorization, user_id: Any) -> UserVector | None:
        """The stored vector of a training user, or ``None`` if unknown."""
        state = self.trained_state(user_id)
        return None if state is None else UserVector.of(state)

    def solve_user(self: MatrixFactorization, item_ids: Any, ratings: Any) -> UserVector:
        """``user_states`` of one user's ratings, as a vector."""
        n = len(item_ids)
        return UserVector.of(self.user_states(np.zeros(n, dtype=np.int64), item_ids, ratings, 1)[0])

    def solve_users(self: MatrixFactorization, rows: Any, item_ids: Any, ratings: Any, n_rows: int) -> np.ndarray:
        """The old name of ``user_states``."""
        return self.user_states(rows, item_ids, ratings, n_rows)

    def predict_vector(self: MatrixFactorization, vec: UserVector, item_ids: Sequence[Any]) -> np.ndarray:
        """Predicted ratings of a user vector for items (unknown items: mu + b_u)."""
        self._require_fitted()
        state = self._check_state(vec.state)
        return self._predict_states(state[None, :], np.zeros(len(item_ids), dtype=np.int64), item_ids)

    def predict_vectors(self: MatrixFactorization, biases: Any, factors: Any, rows: Any, item_ids: Any) -> np.ndarray:
        """The prediction of vector ``(biases[rows[k]], factors[rows[k]])`` for ``item_ids[k]``."""
        self._require_fitted()
        biases = np.asarray(biases, dtype=np.float64)
        factors = np.asarray(factors, dtype=np.float64)
        if factors.shape != (len(biases), self.params.n_factors):
            raise ValueError(f"factors must have shape ({len(biases)}, {self.params.n_factors})")
        return self._predict_states(np.column_stack([biases, factors]), rows, item_ids)

    def recommend_vector(
        self: MatrixFactorization, vec: UserVector, n: int = 10, exclude_item_ids: Iterable[Any] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``n`` items for a user vector (e.g. from :meth:`solve_user`)."""
        self._require_fitted()
        profile = UserProfile(_EMPTY, _EMPTY, self._check_state(vec.state))
        return self.recommend(profile, n, [] if exclude_item_ids is None else exclude_item_ids)

    def explain_vector(
        self: MatrixFactorization,
        item_id: Any,
        rated_item_ids: Sequence[Any],
        rated_ratings: Sequence[float],
        vec: UserVector | None = None,
    ) -> LegacyExplanation:
        """Explain the prediction for ``item_id`` from a user's ratings; the vector is
        their re-solve unless ``vec`` is given (``residual``: its mismatch)."""
        self._require_fitted()
        i = self._item_code(item_id)
        n = len(rated_item_ids)
        solved = self.user_states(np.zeros(n, dtype=np.int64), rated_item_ids, rated_ratings, 1)[0]  # checks input
        state = solved if vec is None else self._check_state(vec.state)
        idx, vals = self._known_ratings(rated_item_ids, rated_ratings)
        parts = self._decompose(i, idx, vals, state)
        return LegacyExplanation(
            item_id=item_id,
            global_mean=self.global_mean,
            user_bias=float(state[0]),
            item_bias=float(self._factors.item_bias[i]),
            interaction=parts.interaction,
            raw_score=parts.raw,
            prediction=float(np.clip(parts.raw, *self.rating_scale)),
            rated_item_ids=self._items.ids[idx],
            rated_ratings=vals,
            contributions=parts.contributions,
            similarities=parts.similarities,
            residual=parts.interaction - float(parts.contributions.sum()),
        )

    def similar_users(
        self: MatrixFactorization, vec: UserVector, among_user_ids: Sequence[Any], n: int = 5
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``n`` users of ``among_user_ids`` whose factors have the highest cosine
        with ``vec`` (unknown ids are skipped): ``(raw user ids, similarities)``."""
        self._require_fitted()
        n = check_n(n)
        candidates = as_1d(list(among_user_ids), "among_user_ids")
        codes = self._users.lookup(candidates) if len(candidates) else np.zeros(0, dtype=np.int64)
        candidates, codes = candidates[codes >= 0], codes[codes >= 0]
        factors = self._factors.user_factors[codes]
        target = self._check_state(vec.state)[1:]
        norms = np.linalg.norm(factors, axis=1) * max(float(np.linalg.norm(target)), 1e-12)
        sims = (factors @ target) / np.where(norms > 0, norms, 1.0)
        order = top_n_indices(sims, n)
        return candidates[order], sims[order]
