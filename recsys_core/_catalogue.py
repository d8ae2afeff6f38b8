"""What every fitted model keeps about its data: the user and item vocabularies and
the training ratings (user x item CSR), with the lookups the interface needs.

A model mixes :class:`TrainedCatalogue` in before :class:`~.recommender.Recommender`
and sets ``_users``, ``_items``, ``_seen`` and ``_fitted`` when it is fitted or loaded.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from ._vocab import IdVocabulary, as_1d
from .recommender import NotFittedError, UnknownIdError

__all__ = ["TrainedCatalogue"]


class TrainedCatalogue:
    _users: IdVocabulary
    _items: IdVocabulary
    _seen: sp.csr_matrix  # training ratings, users x items, sorted indices
    _fitted: bool = False

    def _require_fitted(self) -> None:
        if not self._fitted:
            raise NotFittedError("model is not fitted; call fit() or load() first")

    @property
    def user_ids(self) -> np.ndarray:
        """Raw ids of the training users, in index order."""
        self._require_fitted()
        return self._users.ids

    @property
    def item_ids(self) -> np.ndarray:
        """Raw item ids in index order (the catalogue)."""
        self._require_fitted()
        return self._items.ids

    def has_item(self, item_id: Any) -> bool:
        """Whether the model learned this item."""
        self._require_fitted()
        return self._items.get(item_id) >= 0

    def _item_codes(self, item_ids: Any) -> np.ndarray:
        """Catalogue indices of raw ids, -1 for unknown ones (mixed id types kept)."""
        self._require_fitted()
        return self._items.lookup(as_1d(item_ids, "item_ids"))

    def _item_code(self, item_id: Any) -> int:
        code = self._items.get(item_id)
        if code < 0:
            raise UnknownIdError(f"unknown item_id {item_id!r}: the model has not learned it")
        return code

    def seen_items(self, user_id: Any) -> tuple[np.ndarray, np.ndarray]:
        """Raw ids and ratings of the items a training user rated (empty if unknown)."""
        self._require_fitted()
        u = self._users.get(user_id)
        if u < 0:
            return self._items.ids[:0], np.zeros(0)
        span = slice(self._seen.indptr[u], self._seen.indptr[u + 1])
        return self._items.ids[self._seen.indices[span]], self._seen.data[span].copy()
