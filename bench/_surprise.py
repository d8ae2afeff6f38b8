"""Surprise's SVD behind the interface ``recsys_core.evaluation`` scores.

The adapter only *calls* Surprise: predictions come from ``algo.predict`` one
``(user, item)`` pair at a time, as ``algo.test`` does. Reading the learned
``pu``/``qi``/``bu``/``bi`` arrays to score with numpy would measure numpy, not
Surprise, so it is deliberately not done.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from surprise import Dataset, Reader, Trainset

__all__ = ["SurpriseAdapter", "to_trainset"]


def to_trainset(ratings: pd.DataFrame, rating_scale: tuple[float, float]) -> Trainset:
    """A Surprise trainset from a ratings frame, the documented way (``load_from_df``)."""
    reader = Reader(rating_scale=(float(rating_scale[0]), float(rating_scale[1])))
    data = Dataset.load_from_df(ratings[["user_id", "item_id", "rating"]], reader)
    return data.build_full_trainset()


def _plain(values: Any) -> list[Any]:
    """Python scalars (Surprise's raw ids are the Python values load_from_df saw)."""
    return values.tolist() if hasattr(values, "tolist") else list(values)


class SurpriseAdapter:
    """``predict`` / ``recommend_batch`` / ``item_ids`` / ``rating_scale`` over a fitted algo.

    ``recommend_batch`` predicts every catalogue item a user did not rate in the
    trainset with ``algo.predict(uid, iid, clip=False)`` (unclipped, so items
    above the top of the scale still rank apart, as recsys_core ranks by its
    unclipped score), takes the top ``n`` (ties keep catalogue order) and
    returns clipped scores. Lists are cached per ``(user, n, exclude_seen)``, so
    the evaluation reuses the lists of a timed all-users run instead of
    recomputing them.
    """

    def __init__(self, algo: Any, trainset: Trainset) -> None:
        self.algo = algo
        self.trainset = trainset
        self.rating_scale = (float(trainset.rating_scale[0]), float(trainset.rating_scale[1]))
        self._raw_items = [trainset.to_raw_iid(i) for i in trainset.all_items()]
        self.item_ids = np.array(self._raw_items)
        self.user_ids = np.array([trainset.to_raw_uid(u) for u in trainset.all_users()])
        self._cache: dict[tuple[Any, int, bool], tuple[list[Any], list[float]]] = {}

    def predict(self, user_ids: Sequence[Any], item_ids: Sequence[Any]) -> np.ndarray:
        """Clipped estimates for aligned pairs (Surprise's fallback for unknown ids)."""
        predict = self.algo.predict
        return np.fromiter(
            (predict(u, i).est for u, i in zip(_plain(user_ids), _plain(item_ids))),
            dtype=np.float64,
            count=len(user_ids),
        )

    def _top_n(self, raw_user: Any, n: int, exclude_seen: bool) -> tuple[list[Any], list[float]]:
        ts = self.trainset
        seen: set[int] = set()
        if exclude_seen and ts.knows_user(inner := self._inner_user(raw_user)):
            seen = {j for j, _ in ts.ur[inner]}
        candidates = [raw for j, raw in enumerate(self._raw_items) if j not in seen]
        predict = self.algo.predict
        est = np.fromiter(
            (predict(raw_user, raw, clip=False).est for raw in candidates),
            dtype=np.float64,
            count=len(candidates),
        )
        k = min(n, len(candidates))
        if k == 0:
            return [], []
        part = np.argpartition(-est, k - 1)[:k] if k < len(est) else np.arange(len(est))
        part = np.sort(part)  # catalogue order first, so the stable sort breaks ties by it
        top = part[np.argsort(-est[part], kind="stable")]
        scores = np.clip(est[top], *self.rating_scale)
        return [candidates[j] for j in top], scores.tolist()

    def _inner_user(self, raw_user: Any) -> int:
        try:
            return self.trainset.to_inner_uid(raw_user)
        except ValueError:
            return -1

    def recommend_batch(
        self, user_ids: Sequence[Any], n: int = 10, exclude_seen: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``n`` per user: 2-D object ids (``None``-padded) and scores (NaN-padded)."""
        users = _plain(user_ids)
        ids = np.full((len(users), n), None, dtype=object)
        scores = np.full((len(users), n), np.nan)
        for row, user in enumerate(users):
            key = (user, n, exclude_seen)
            if key not in self._cache:
                self._cache[key] = self._top_n(user, n, exclude_seen)
            top_ids, top_scores = self._cache[key]
            ids[row, : len(top_ids)] = top_ids
            scores[row, : len(top_scores)] = top_scores
        return ids, scores
