"""The one interface every model type implements.

A model is fitted once on a ratings frame and then serves any user from a
:class:`UserProfile`: the user's ratings plus a small per-type ``state`` vector
solved from them (matrix factorization: ``[bias, factors...]``; iALS: factors;
EASE: nothing, its scores are the rated vector times B). States are built in
batches by :meth:`Recommender.user_states`, so a service can re-solve a user
after every rating, store the vector, and score from it on any process.

Scores are *ranking* scores: higher is better, on a scale of the type's own.
Only types with ``predicts_ratings`` answer :meth:`Recommender.predict` with a
rating on the rating scale. Every type explains a score as additive
:class:`Term` s that sum to it exactly.

Model files are the versioned, pickle-free format of :mod:`.persistence`,
tagged with ``model_type``; :func:`load_model` reads any of them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np

from .persistence import ModelFileError, PathOrFile

__all__ = [
    "EpochReport",
    "Explanation",
    "NotFittedError",
    "Recommender",
    "Term",
    "TermKind",
    "UnknownIdError",
    "UserProfile",
]


class NotFittedError(RuntimeError):
    """The model is used before ``fit`` or ``load``."""


class UnknownIdError(KeyError, ValueError):
    """An id the model has never seen was given where a known one is required."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class EpochReport:
    """Progress of one training epoch (or stage), passed to the ``fit`` callback."""

    epoch: int  # 1-based
    epochs: int
    train_loss: float  # the type's training objective / number of ratings
    train_rmse: float | None  # None for types that do not predict ratings
    validation_rmse: float | None
    seconds: float  # wall time of this epoch
    validation_ndcg: float | None = None  # ranking types: NDCG on the validation part


@dataclass(frozen=True)
class UserProfile:
    """What a model scores a user from: their ratings and the state solved from them.

    ``item_ids``/``ratings`` are raw ids and values (items the model does not know
    are allowed and ignored); ``state`` is the row :meth:`Recommender.user_states`
    returned for exactly these ratings, or a trained user's stored state.
    """

    item_ids: np.ndarray
    ratings: np.ndarray
    state: np.ndarray = field(default_factory=lambda: np.zeros(0))


TermKind = Literal[
    "global_mean",  # the rating every prediction starts from
    "user_bias",  # how this user rates relative to everyone
    "item_appeal",  # the explained movie's own appeal: bias or popularity, same for everyone
    "tags",  # the user's taste for the movie's tags (genres)
    "rated_item",  # the share of one movie the user rated
    "baseline",  # per-user normalisation constants of a blend (z-scores)
    "residual",  # what the per-item shares do not account for (stored vs re-solved state)
]


@dataclass(frozen=True)
class Term:
    """One additive part of a score. ``item_id``/``rating`` are set for ``rated_item``."""

    kind: TermKind
    value: float
    item_id: Any = None
    rating: float | None = None
    similarity: float | None = None  # rated_item: how alike the two movies are (cosine)


@dataclass(frozen=True)
class Explanation:
    """``score == sum(t.value for t in terms)`` (to rounding), always.

    ``prediction`` is the predicted rating where the type has one (clipped to the
    scale, so it may differ from a raw score); ``None`` for ranking-only types.
    """

    item_id: Any
    model_type: str
    score: float
    prediction: float | None
    terms: tuple[Term, ...]

    def rated_items(self, n: int | None = None) -> list[Term]:
        """The rated-movie terms, largest absolute share first."""
        rated = sorted((t for t in self.terms if t.kind == "rated_item"), key=lambda t: -abs(t.value))
        return rated if n is None else rated[:n]

    def total(self) -> float:
        return float(sum(t.value for t in self.terms))


Callback = Callable[[EpochReport], "bool | None"]


class Recommender(ABC):
    """A fitted recommender of any type. See the module docstring for the contract."""

    model_type: ClassVar[str]
    predicts_ratings: ClassVar[bool]
    params: Any  # the type's pydantic parameters model
    history: list[EpochReport]
    fit_info: dict[str, Any]
    rating_scale: tuple[float, float]
    n_ratings: int
    fingerprint: str  # SHA-256 of the training triples

    # ----------------------------------------------------------- training
    @abstractmethod
    def fit(
        self,
        ratings: Any,
        *,
        validation: Any = None,
        rating_scale: tuple[float, float] | None = None,
        callback: Callback | None = None,
        item_tags: Mapping[Any, Sequence[str]] | None = None,
    ) -> Recommender:
        """Train on a frame with ``user_id``, ``item_id``, ``rating``; returns ``self``.
        ``callback(report)`` runs after every epoch (or stage); ``False`` stops.
        ``item_tags`` (item id -> tags such as genres) is side information that types
        which use it learn from and the others ignore."""

    # ---------------------------------------------------------- catalogue
    @property
    @abstractmethod
    def item_ids(self) -> np.ndarray:
        """Raw item ids in index order (the catalogue the model scores)."""

    @property
    @abstractmethod
    def user_ids(self) -> np.ndarray:
        """Raw ids of the users the model was trained on."""

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    @abstractmethod
    def item_popularity(self) -> np.ndarray:
        """Training ratings per item, in index order."""

    @abstractmethod
    def has_item(self, item_id: Any) -> bool: ...

    # -------------------------------------------------------- user states
    @property
    @abstractmethod
    def state_size(self) -> int:
        """Length of a user state vector (0: the type scores from ratings alone)."""

    @abstractmethod
    def user_states(self, rows: Any, item_ids: Any, ratings: Any, n_rows: int) -> np.ndarray:
        """States of ``n_rows`` users at once: ``(n_rows, state_size)``.

        Rating ``k`` is ``(item_ids[k], ratings[k])`` of user ``rows[k]``; each
        user's items are distinct; unknown items are ignored; a user with no
        known item gets the type's empty state."""

    @abstractmethod
    def trained_state(self, user_id: Any) -> np.ndarray | None:
        """The state a training user ended training with, or ``None`` if unknown."""

    @abstractmethod
    def seen_items(self, user_id: Any) -> tuple[np.ndarray, np.ndarray]:
        """Raw ids and ratings a training user rated (empty if unknown)."""

    def profile(self, item_ids: Any, ratings: Any, state: np.ndarray | None = None) -> UserProfile:
        """A profile of these ratings; the state is solved unless given."""
        items = np.asarray(item_ids)
        values = np.asarray(ratings, dtype=np.float64)
        if state is None:
            state = self.user_states(np.zeros(len(items), dtype=np.int64), items, values, 1)[0]
        return UserProfile(items, values, np.asarray(state, dtype=np.float64))

    def trained_profile(self, user_id: Any) -> UserProfile | None:
        """A training user's profile from the training data, or ``None`` if unknown."""
        state = self.trained_state(user_id)
        if state is None:
            return None
        items, values = self.seen_items(user_id)
        return UserProfile(items, values, state)

    # ------------------------------------------------------------ scoring
    @abstractmethod
    def scores(self, profile: UserProfile) -> np.ndarray:
        """Ranking scores of every catalogue item for this user, in index order."""

    def scores_batch(self, profiles: Sequence[UserProfile]) -> np.ndarray:
        """:meth:`scores` for many users: ``(len(profiles), n_items)``."""
        return np.stack([self.scores(p) for p in profiles]) if profiles else np.zeros((0, self.n_items))

    def recommend(
        self, profile: UserProfile, n: int = 10, exclude_item_ids: Iterable[Any] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``n`` ``(raw item ids, scores)`` for a profile, excluding the given
        items (``None``: exclude what the profile rated)."""
        n = check_n(n)
        scores = self.scores(profile)
        excluded = profile.item_ids if exclude_item_ids is None else list(exclude_item_ids)
        codes = self._item_codes(excluded)
        scores[codes[codes >= 0]] = -np.inf
        top = top_n_indices(scores, n)
        return self.item_ids[top], self.display_scores(scores[top])

    @abstractmethod
    def recommend_batch(
        self, user_ids: Sequence[Any], n: int = 10, exclude_seen: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``n`` for many *training* users: 2-D ``(ids, scores)``, padded with
        ``None`` ids and NaN scores (the shape :mod:`.evaluation` expects)."""

    def display_scores(self, scores: np.ndarray) -> np.ndarray:
        """Scores as returned to callers (rating types clip to the scale)."""
        return scores

    @abstractmethod
    def _item_codes(self, item_ids: Any) -> np.ndarray:
        """Catalogue indices of raw ids, -1 for unknown ones."""

    def predict(self, user_ids: Sequence[Any], item_ids: Sequence[Any]) -> np.ndarray:
        """Predicted ratings of aligned pairs (only types that predict ratings)."""
        raise NotImplementedError(f"{self.model_type} ranks movies; it does not predict ratings")

    def predict_profiles(self, profiles: Sequence[UserProfile], rows: Any, item_ids: Any) -> np.ndarray:
        """Predicted rating of ``profiles[rows[k]]`` for ``item_ids[k]``, clipped."""
        raise NotImplementedError(f"{self.model_type} ranks movies; it does not predict ratings")

    def scores_for_ratings(self, profile: UserProfile, ratings: Any) -> np.ndarray:
        """The scores movies the model has not learned would have, given a predicted
        rating for each (from their genres, say), so they can be ranked among the rest."""
        if not self.predicts_ratings:
            raise NotImplementedError(f"{self.model_type} ranks movies; it does not predict ratings")
        return np.asarray(ratings, dtype=np.float64)

    @abstractmethod
    def similar_items(self, item_id: Any, n: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The ``n`` items most like ``item_id`` (itself excluded): ids, similarities."""

    @abstractmethod
    def explain(self, profile: UserProfile, item_id: Any) -> Explanation:
        """Additive terms of ``scores(profile)`` for ``item_id``; they sum to it."""

    def explain_many(self, profile: UserProfile, item_ids: Sequence[Any]) -> list[Explanation]:
        """:meth:`explain` of several movies (types that can share work override this)."""
        return [self.explain(profile, item_id) for item_id in item_ids]

    # -------------------------------------------------------- persistence
    @abstractmethod
    def _to_arrays(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]: ...

    @classmethod
    @abstractmethod
    def _from_arrays(cls, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> Recommender: ...

    def save(self, path_or_file: PathOrFile) -> None:
        from . import persistence

        arrays, meta = self._to_arrays()
        persistence.write_model_file(path_or_file, arrays, {**meta, "model_type": self.model_type})

    def to_bytes(self) -> bytes:
        from . import persistence

        arrays, meta = self._to_arrays()
        return persistence.to_bytes(arrays, {**meta, "model_type": self.model_type})

    @classmethod
    def load(cls, path_or_file: PathOrFile) -> Recommender:
        from . import persistence

        return _checked(cls, *persistence.read_model_file(path_or_file))

    @classmethod
    def from_bytes(cls, data: bytes) -> Recommender:
        from . import persistence

        return _checked(cls, *persistence.from_bytes(data))


def _checked(cls: type[Recommender], arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> Recommender:
    from .types import model_class

    model_type = meta.get("model_type", "matrix_factorization")  # files before the tag were MF
    target = model_class(model_type) if cls is Recommender else cls
    if target.model_type != model_type:
        raise ModelFileError(f"the file holds a {model_type!r} model, not {target.model_type!r}")
    return target._from_arrays(arrays, meta)


def check_n(n: Any) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    return int(n)


def top_n_indices(scores: np.ndarray, n: int) -> np.ndarray:
    """Indices of the ``n`` largest finite scores, best first (ties: lower index)."""
    k = min(n, int(np.isfinite(scores).sum()))
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    part = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    finite = part[np.isfinite(scores[part])]
    return finite[np.argsort(-scores[finite], kind="stable")][:k]


def top_n_rows(scores: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise top-``n`` of a 2-D score matrix (``-inf``: excluded): ``(indices, scores)``
    best first, ``n`` columns at most; missing slots have index -1 and score NaN."""
    n_rows, n_cols = scores.shape
    k = min(n, n_cols)
    if k == 0:
        return np.full((n_rows, n), -1, dtype=np.int64), np.full((n_rows, n), np.nan)
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k] if k < n_cols else np.tile(np.arange(n_cols), (n_rows, 1))
    part_scores = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-part_scores, axis=1, kind="stable")
    idx = np.take_along_axis(part, order, axis=1)
    top = np.take_along_axis(part_scores, order, axis=1)
    out_idx = np.full((n_rows, n), -1, dtype=np.int64)
    out_scores = np.full((n_rows, n), np.nan)
    valid = np.isfinite(top)
    out_idx[:, :k] = np.where(valid, idx, -1)
    out_scores[:, :k] = np.where(valid, top, np.nan)
    return out_idx, out_scores


def ids_of(item_ids: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """Raw ids for a 2-D index matrix from :func:`top_n_rows`; ``None`` where -1 (then
    the result has dtype ``object``, as :mod:`.evaluation` expects for padding)."""
    if (indices >= 0).all():
        return item_ids[indices]
    out = np.full(indices.shape, None, dtype=object)
    valid = indices >= 0
    out[valid] = item_ids[indices[valid]]
    return out
