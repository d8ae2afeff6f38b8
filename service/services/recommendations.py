"""Recommendations and predictions from the active model, with the fallbacks around it."""

from __future__ import annotations

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from service.core.config import Settings
from service.core.errors import Conflict, NotFound, Unavailable
from service.schemas.ml import (
    PredictResponse,
    RecommendationItem,
    RecommendationsResponse,
    SimilarMovie,
    SimilarMoviesResponse,
)
from service.services import catalog
from service.services.model_registry import LoadedModel, ModelRegistry
from service.services.new_movies import NewMoviesCache, content_ratings, genre_affinities
from service.services.popularity import PopularityCache, movies_in_genres
from service.services.realtime import current_profile, rated_by


def require_model(registry: ModelRegistry) -> LoadedModel:
    if registry.current is None:
        raise Unavailable("no model is active yet; train one with POST /api/ml/train")
    return registry.current


async def recommend(
    session: AsyncSession,
    settings: Settings,
    registry: ModelRegistry,
    popularity: PopularityCache,
    new_movies: NewMoviesCache,
    movie_cache: catalog.MovieCache,
    user_id: int,
    n: int,
    *,
    genres: list[str] | None = None,
    explain: bool = False,
) -> RecommendationsResponse:
    rated = await rated_by(session, user_id)
    loaded = registry.current
    profile = await current_profile(session, loaded, user_id, rated) if loaded else None

    predicted: dict[int, float] = {}
    if loaded is not None and profile is not None:
        model = loaded.model
        ids, scores = model.recommend(profile, n, list(rated))
        picked = [(int(i), float(s)) for i, s in zip(ids, scores, strict=True)]
        new = await new_movies.get(session, loaded)
        if new.genres and model.predicts_ratings:  # movies the model has not learned: scored from genres
            rated_genres = {m: movie.genres for m, movie in (await movie_cache.get_many(session, rated)).items()}
            affinities = genre_affinities(rated, rated_genres, settings.genre_prior)
            content = content_ratings(loaded, profile, affinities, new, set(rated))
            if content:
                ranked = model.scores_for_ratings(profile, np.array([r for _, r in content]))
                predicted.update(content)
                picked = sorted(picked + [(m, float(s)) for (m, _), s in zip(content, ranked, strict=True)],
                                key=lambda p: -p[1])[:n]
        if model.predicts_ratings:
            learned = [m for m, _ in picked if m not in predicted]
            values = model.predict_profiles([profile], np.zeros(len(learned), dtype=np.int64), learned)
            predicted.update(zip(learned, (float(v) for v in values), strict=True))
        strategy = "personalized"
    else:
        table = await popularity.table(session)
        allowed = await movies_in_genres(session, genres) if genres else None
        picked = table.top(n, exclude=set(rated), allowed=allowed)
        strategy = "genre_fallback" if genres else "popularity_fallback"

    movies = await movie_cache.get_many(session, (m for m, _ in picked))
    explanations: dict[int, str] = {}
    if explain and strategy == "personalized":
        from service.services.explanations import short_explanations

        rated_movies = await movie_cache.get_many(session, rated)
        shown = [movies[m] for m, _ in picked if m in movies]
        explanations = short_explanations(loaded, profile, shown, rated, rated_movies)
    elif explain:
        for movie_id, score in picked:
            explanations[movie_id] = f"Popular and well rated (damped mean {score:.2f}); rate movies to personalize."
    items = [
        RecommendationItem(
            movie_id=movie_id,
            title=movies[movie_id].title,
            year=movies[movie_id].year,
            genres=movies[movie_id].genres,
            score=score,
            predicted_rating=predicted.get(movie_id),
            explanation=explanations.get(movie_id),
        )
        for movie_id, score in picked
        if movie_id in movies
    ]
    return RecommendationsResponse(
        user_id=user_id,
        model_version=loaded.version if loaded and strategy == "personalized" else None,
        model_type=loaded.model_type if loaded and strategy == "personalized" else None,
        strategy=strategy,  # type: ignore[arg-type]
        items=items,
    )


async def predict_many(
    session: AsyncSession, registry: ModelRegistry, pairs: list[tuple[int, int]]
) -> list[PredictResponse]:
    loaded = require_model(registry)
    model = loaded.model
    if not model.predicts_ratings:
        raise Conflict(
            f"the active version {loaded.version} is a {loaded.model_type} model: it ranks movies but does "
            "not predict ratings; activate a matrix_factorization or ensemble version to predict",
            field="model_type",
        )
    known_movies = await catalog.known_movie_ids(session, (m for _, m in pairs))
    for index, (_, movie_id) in enumerate(pairs):
        if movie_id not in known_movies:
            field = "movie_id" if len(pairs) == 1 else f"pairs[{index}].movie_id"
            raise NotFound(f"movie {movie_id} not found", field=field)
    results = []
    profiles = {}
    for user_id in dict.fromkeys(u for u, _ in pairs):
        profiles[user_id] = await current_profile(session, loaded, user_id)
    for user_id, movie_id in pairs:
        profile = profiles[user_id]
        if profile is not None:
            value = float(model.predict_profiles([profile], [0], [movie_id])[0])
        else:
            value = float(model.predict([user_id], [movie_id])[0])
        results.append(
            PredictResponse(
                user_id=user_id,
                movie_id=movie_id,
                predicted_rating=value,
                model_version=loaded.version,
                model_type=loaded.model_type,
                known_user=profile is not None,
                known_movie=model.has_item(movie_id),
            )
        )
    return results


async def similar_movies(
    session: AsyncSession, registry: ModelRegistry, movie_id: int, n: int
) -> SimilarMoviesResponse:
    """Neighbours in factor space, or by shared genres for a movie the model has not learned."""
    movie = (await catalog.movies_by_id(session, [movie_id])).get(movie_id)
    if movie is None:
        raise NotFound(f"movie {movie_id} not found", field="movie_id")
    loaded = registry.current
    if loaded is not None and loaded.model.has_item(movie_id):
        ids, sims = loaded.model.similar_items(movie_id, n)
        picked = [(int(i), float(s)) for i, s in zip(ids, sims, strict=True)]
        strategy = "model"
    else:
        picked = await _genre_neighbours(session, movie_id, set(movie.genres), n)
        strategy = "genres"
    movies = await catalog.movies_by_id(session, (m for m, _ in picked))
    return SimilarMoviesResponse(
        movie_id=movie_id,
        model_version=loaded.version if loaded and strategy == "model" else None,
        model_type=loaded.model_type if loaded and strategy == "model" else None,
        strategy=strategy,  # type: ignore[arg-type]
        items=[
            SimilarMovie(movie_id=m, title=movies[m].title, year=movies[m].year, genres=movies[m].genres, similarity=s)
            for m, s in picked
            if m in movies
        ],
    )


async def _genre_neighbours(session: AsyncSession, movie_id: int, genres: set[str], n: int) -> list[tuple[int, float]]:
    if not genres:
        return []
    candidates = await movies_in_genres(session, list(genres))
    candidates.discard(movie_id)
    candidate_genres = await catalog.genres_of(session, candidates)
    scored = [
        (m, len(genres & set(g)) / len(genres | set(g))) for m, g in candidate_genres.items()
    ]
    return sorted(scored, key=lambda p: (-p[1], p[0]))[:n]
