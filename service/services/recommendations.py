"""Recommendations, predictions and explanations from the active model."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from service.core.errors import NotFound, Unavailable
from service.schemas.ml import (
    PredictResponse,
    RecommendationItem,
    RecommendationsResponse,
)
from service.services import catalog
from service.services.model_registry import LoadedModel, ModelRegistry
from service.services.popularity import PopularityCache, movies_in_genres
from service.services.realtime import current_vector, rated_by


def require_model(registry: ModelRegistry) -> LoadedModel:
    if registry.current is None:
        raise Unavailable("no model is active yet; train one with POST /api/ml/train")
    return registry.current


async def recommend(
    session: AsyncSession,
    registry: ModelRegistry,
    popularity: PopularityCache,
    user_id: int,
    n: int,
    genres: list[str] | None = None,
) -> RecommendationsResponse:
    rated = await rated_by(session, user_id)
    loaded = registry.current
    vector = await current_vector(session, loaded, user_id) if loaded else None

    if loaded is not None and vector is not None:
        ids, scores = loaded.model.recommend_vector(vector, n, list(rated))
        picked = [(int(i), float(s)) for i, s in zip(ids, scores, strict=True) if i is not None]
        strategy = "personalized"
    else:
        table = await popularity.table(session)
        allowed = await movies_in_genres(session, genres) if genres else None
        picked = table.top(n, exclude=set(rated), allowed=allowed)
        strategy = "genre_fallback" if genres else "popularity_fallback"

    movies = await catalog.movies_by_id(session, (m for m, _ in picked))
    items = [
        RecommendationItem(
            movie_id=movie_id,
            title=movies[movie_id].title,
            year=movies[movie_id].year,
            genres=movies[movie_id].genres,
            score=score,
            predicted_rating=score if strategy == "personalized" else None,
        )
        for movie_id, score in picked
        if movie_id in movies
    ]
    return RecommendationsResponse(
        user_id=user_id,
        model_version=loaded.version if loaded else None,
        strategy=strategy,  # type: ignore[arg-type]
        items=items,
    )


async def predict(
    session: AsyncSession, registry: ModelRegistry, user_id: int, movie_id: int
) -> PredictResponse:
    loaded = require_model(registry)
    if not await catalog.known_movie_ids(session, [movie_id]):
        raise NotFound(f"movie {movie_id} not found", field="movie_id")
    vector = await current_vector(session, loaded, user_id)
    model = loaded.model
    if vector is not None:
        value = float(model.predict_vector(vector, [movie_id])[0])
    else:
        value = float(model.predict([user_id], [movie_id])[0])
    return PredictResponse(
        user_id=user_id,
        movie_id=movie_id,
        predicted_rating=value,
        model_version=loaded.version,
        known_user=vector is not None,
        known_movie=model.has_item(movie_id),
    )
