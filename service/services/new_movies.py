"""Catalogue movies the active model has no factors for (added after it was trained, or
unrated then), scored for a user from their genre affinities so they can be recommended.

affinity(g) = sum of the user's mean-centered ratings in genre g / (n_g + GENRE_PRIOR)
rating(m)   = the model's baseline for the user + mean of affinity(g) over m's genres

Only types that predict ratings place such movies in a ranked list (see
``Recommender.scores_for_ratings``); the others recommend what they learned.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from recsys_core.recommender import UserProfile
from service.services.model_registry import LoadedModel


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
    loaded: LoadedModel, profile: UserProfile, affinities: dict[str, float], new_genres: dict[int, list[str]],
    exclude: set[int],
) -> list[tuple[int, float]]:
    """Predicted ratings of the movies the model has not learned (``new_genres``: their
    genres): what the model predicts for an unknown movie (the user's baseline), moved
    by the user's genre affinities."""
    movies = [m for m in new_genres if m not in exclude]
    if not movies:
        return []
    lo, hi = loaded.model.rating_scale
    baseline = loaded.model.predict_profiles([profile], np.zeros(len(movies), dtype=np.int64), movies)
    scored = []
    for movie_id, base in zip(movies, baseline, strict=True):
        genres = new_genres[movie_id]
        affinity = float(np.mean([affinities.get(g, 0.0) for g in genres])) if genres else 0.0
        scored.append((movie_id, float(np.clip(base + affinity, lo, hi))))
    return scored
