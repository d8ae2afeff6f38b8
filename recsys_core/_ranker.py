"""What the ranking-only types (EASE, iALS) share: the trained catalogue (vocabularies,
stored training ratings and their lookups, from :class:`~._catalogue.TrainedCatalogue`),
the popularity fallback, batched top-n for training users and persistence of those
common arrays.

A subclass implements the model itself: ``fit``, ``user_states``, ``scores``,
``_training_scores`` (scores of a block of training users), ``similar_items``,
``explain`` and its own arrays in ``_model_arrays``/``_load_model_arrays``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
from pydantic import BaseModel

from ._catalogue import TrainedCatalogue
from ._frames import EncodedRatings, fingerprint
from ._vocab import IdVocabulary
from .persistence import ModelFileError
from .recommender import (
    EpochReport,
    Explanation,
    Recommender,
    Term,
    check_n,
    ids_of,
    top_n_rows,
)

__all__ = ["RankingModel", "scale_fraction"]

_BATCH = 256  # training users scored at once by recommend_batch


def scale_fraction(ratings: np.ndarray, rating_scale: tuple[float, float]) -> np.ndarray:
    """Ratings as fractions of the scale: ``(r - min) / (max - min)``, 0 to 1."""
    lo, hi = rating_scale
    return (np.asarray(ratings, dtype=np.float64) - lo) / (hi - lo)


class RankingModel(TrainedCatalogue, Recommender):
    """Common state of a ranking-only type; see the module docstring."""

    predicts_ratings: ClassVar[bool] = False
    params_class: ClassVar[type[BaseModel]]

    def __init__(self, params: BaseModel | None = None, **hyperparams: Any) -> None:
        if params is not None and hyperparams:
            raise ValueError("pass either params= or keyword hyperparameters, not both")
        if params is None:
            params = self.params_class(**hyperparams)
        elif not isinstance(params, self.params_class):
            params = self.params_class.model_validate(params.model_dump())
        self.params = params
        self.history: list[EpochReport] = []
        self.fit_info: dict[str, Any] = {}
        self._fitted = False

    def _install_data(self, data: EncodedRatings, n_ratings: int, data_fingerprint: str) -> None:
        """Keep the users, the catalogue and the training ratings restricted to it."""
        self._users, self._items, self._seen = data.users, data.items, data.by_user
        self._popularity = np.diff(self._seen.tocsc().indptr).astype(np.int64)
        self.rating_scale = data.rating_scale
        self.n_ratings = int(n_ratings)
        self.fingerprint = data_fingerprint

    @staticmethod
    def _data_fingerprint(data: EncodedRatings) -> str:
        return fingerprint(data.users, data.items, data.by_user)

    # ----------------------------------------------------------- catalogue
    @property
    def item_popularity(self) -> np.ndarray:
        self._require_fitted()
        return self._popularity

    # ----------------------------------------------------------- fold-in input
    def _known_ratings(
        self, rows: Any, item_ids: Any, ratings: Any, n_rows: int
    ) -> sp.csr_matrix:
        """The ratings of ``n_rows`` users as CSR over the catalogue (unknown items dropped)."""
        self._require_fitted()
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        values = np.asarray(ratings, dtype=np.float64).reshape(-1)
        codes = self._item_codes(item_ids).reshape(-1)
        if not (len(rows) == len(values) == len(codes)):
            raise ValueError(
                f"rows, item_ids and ratings must have one entry per rating, got {len(rows)}, {len(codes)}, {len(values)}"
            )
        if len(rows) and (rows.min() < 0 or rows.max() >= n_rows):
            raise ValueError(f"rows must be in [0, {n_rows}), got {rows.min()}..{rows.max()}")
        if not np.isfinite(values).all():
            raise ValueError("ratings must be finite numbers")
        known = codes >= 0
        out = sp.csr_matrix((values[known], (rows[known], codes[known])), shape=(n_rows, self.n_items))
        out.sort_indices()
        return out

    # -------------------------------------------------------------- scoring
    def _popularity_scores(self) -> np.ndarray:
        """What a user the model knows nothing about gets: popularity / max popularity."""
        return self._popularity / max(int(self._popularity.max(initial=0)), 1)

    def _popularity_explanation(self, item_id: Any, code: int) -> Explanation:
        value = float(self._popularity_scores()[code])
        return Explanation(item_id, self.model_type, value, None, (Term("item_appeal", value),))

    def _training_scores(self, user_codes: np.ndarray) -> np.ndarray:
        """Scores of training users (codes into the user vocabulary): ``(n, n_items)``."""
        raise NotImplementedError

    def recommend_batch(
        self, user_ids: Sequence[Any], n: int = 10, exclude_seen: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        self._require_fitted()
        n = check_n(n)
        users = np.asarray(user_ids) if not isinstance(user_ids, np.ndarray) else user_ids
        codes = self._users.lookup(users)
        out_idx = np.full((len(codes), n), -1, dtype=np.int64)
        out_scores = np.full((len(codes), n), np.nan)
        known = np.flatnonzero(codes >= 0)
        for start in range(0, len(known), _BATCH):
            rows = known[start : start + _BATCH]
            scores = np.asarray(self._training_scores(codes[rows]), dtype=np.float64)
            if exclude_seen:
                seen = self._seen[codes[rows]]
                scores[np.repeat(np.arange(len(rows)), np.diff(seen.indptr)), seen.indices] = -np.inf
            out_idx[rows], out_scores[rows] = top_n_rows(scores, n)
        return ids_of(self._items.ids, out_idx), out_scores

    # ---------------------------------------------------------- persistence
    def _common_arrays(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays = {
            "user_ids": self._users.to_array(),
            "item_ids": self._items.to_array(),
            "seen_indptr": self._seen.indptr.astype(np.int64),
            "seen_indices": self._seen.indices.astype(np.int64),
            "seen_ratings": self._seen.data.astype(np.float64),
        }
        meta = {
            "model": type(self).__name__,
            "params": self.params.model_dump(mode="json"),
            "rating_scale": list(self.rating_scale),
            "n_ratings": self.n_ratings,
            "fingerprint": self.fingerprint,
            "fit_info": self.fit_info,
            "numpy_version": np.__version__,
        }
        return arrays, meta

    @classmethod
    def _from_common(cls, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> RankingModel:
        try:
            model = cls(cls.params_class(**meta["params"]))
            users = IdVocabulary.from_array(arrays["user_ids"])
            items = IdVocabulary.from_array(arrays["item_ids"])
            seen = sp.csr_matrix(
                (arrays["seen_ratings"], arrays["seen_indices"], arrays["seen_indptr"]),
                shape=(len(users), len(items)),
            )
            scale = (float(meta["rating_scale"][0]), float(meta["rating_scale"][1]))
            model._install_data(EncodedRatings(users, items, seen, scale), meta["n_ratings"], str(meta["fingerprint"]))
            model.fit_info = dict(meta.get("fit_info", {}))
        except (KeyError, ValueError, TypeError, IndexError) as exc:
            raise ModelFileError(f"model file content is inconsistent: {exc}") from exc
        return model

    def __repr__(self) -> str:
        state = f"{len(self._users)} users x {len(self._items)} items" if self._fitted else "unfitted"
        return f"{type(self).__name__}({self.params!r}, {state})"
