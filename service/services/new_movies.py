"""Catalogue movies the active model has no factors for (added after it was trained, or
unrated then), scored for a user from their genre affinities so they can be recommended.

affinity(g) = sum of the user's mean-centered ratings in genre g / (n_g + GENRE_PRIOR)
rating(m)   = the model's baseline for the user + mean of affinity(g) over m's genres

Only types that predict ratings place such movies in a ranked list (see
``Recommender.scores_for_ratings``); the others recommend what they learned.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from recsys_core.recommender import UserProfile
from service.db.models import Movie
from service.services import catalog
from service.services.model_registry import LoadedModel

TTL_SECONDS = 10.0


@dataclass(frozen=True)
class NewMovies:
    version: int
    genres: dict[int, list[str]]


class NewMoviesCache:
    def __init__(self) -> None:
        self._value: NewMovies | None = None
        self._built_at = 0.0

    async def get(self, session: AsyncSession, loaded: LoadedModel) -> NewMovies:
        stale = time.monotonic() - self._built_at > TTL_SECONDS
        if self._value is None or self._value.version != loaded.version or stale:
            all_ids = np.array(list(await session.scalars(select(Movie.id))), dtype=np.int64)
            known = np.asarray(loaded.model.item_ids)
            new_ids = np.setdiff1d(all_ids, known.astype(np.int64)) if known.dtype.kind in "iu" else all_ids
            self._value = NewMovies(loaded.version, await catalog.genres_of(session, new_ids.tolist()))
            for movie_id in new_ids.tolist():
                self._value.genres.setdefault(movie_id, [])
            self._built_at = time.monotonic()
        return self._value


def genre_affinities(rated: dict[int, float], genres_of_rated: dict[int, list[str]], prior: float) -> dict[str, float]:
    if not rated:
        return {}
    mean = float(np.mean(list(rated.values())))
    sums: defaultdict[str, float] = defaultdict(float)
    counts: defaultdict[str, int] = defaultdict(int)
    for movie_id, rating in rated.items():
        for genre in genres_of_rated.get(movie_id, []):
            sums[genre] += rating - mean
            counts[genre] += 1
    return {g: sums[g] / (counts[g] + prior) for g in sums}


def content_ratings(
    loaded: LoadedModel, profile: UserProfile, affinities: dict[str, float], new: NewMovies, exclude: set[int]
) -> list[tuple[int, float]]:
    """Predicted ratings of the movies the model has not learned: what the model predicts
    for an unknown movie (the user's baseline), moved by the user's genre affinities."""
    movies = [m for m in new.genres if m not in exclude]
    if not movies:
        return []
    lo, hi = loaded.model.rating_scale
    baseline = loaded.model.predict_profiles([profile], np.zeros(len(movies), dtype=np.int64), movies)
    scored = []
    for movie_id, base in zip(movies, baseline, strict=True):
        genres = new.genres[movie_id]
        affinity = float(np.mean([affinities.get(g, 0.0) for g in genres])) if genres else 0.0
        scored.append((movie_id, float(np.clip(base + affinity, lo, hi))))
    return scored
