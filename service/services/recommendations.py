"""Recommendations and predictions from the active model (or the arm of the running
experiment that serves the user), with the fallbacks around it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import numpy as np

from service.core.errors import Conflict, NotFound, Unavailable
from service.schemas.ml import (
    PredictResponse,
    RecommendationItem,
    RecommendationsResponse,
    SimilarMovie,
    SimilarMoviesResponse,
)
from service.services.model_registry import LoadedModel, ModelRegistry
from service.services.new_movies import content_ratings, genre_affinities
from service.serving.catalogue import Catalogue
from service.serving.state import PopularityTable, Served, ServingState

T = TypeVar("T")


async def answer_with_current_model(registry: ModelRegistry, answer: Callable[[], Awaitable[T]]) -> T:
    """The answer from the loaded model; when it refuses because of that model (none loaded
    yet, or one that cannot answer this), the active version is checked first and, if
    another process activated a newer one, that one answers."""
    try:
        return await answer()
    except (Unavailable, Conflict, ModelCannotAnswer):
        if not await registry.catch_up():
            raise
    return await answer()


class ModelCannotAnswer(NotFound):
    """A 404 from the loaded model's limits (a movie it has not learned), which a newer
    version may not have."""


def require_model(registry: ModelRegistry) -> LoadedModel:
    if registry.current is None:
        raise Unavailable("no model is active yet; train one with POST /api/ml/train")
    return registry.current


def recommendations_json(
    serving: ServingState, popularity: PopularityTable, user_id: int, n: int, *,
    genres: list[str] | None = None, explain: bool = False,
) -> tuple[bytes, RecommendationsResponse | None]:
    """The rendered list, from the cache while nothing it depends on changed; with the
    response when it was computed now (None: served from the cache)."""
    key = (user_id, n, explain, tuple(genres) if genres else None)
    served = serving.served(user_id)
    stamp = serving.stamp(user_id, popularity, served)
    body = serving.rendered.get(key, stamp)
    if body is not None:
        return body, None
    response = recommend(serving, popularity, user_id, n, genres=genres, explain=explain, served=served)
    body = response.__pydantic_serializer__.to_json(response)
    serving.rendered.put(key, stamp, body)
    return body, response


def recommend(
    serving: ServingState,
    popularity: PopularityTable,
    user_id: int,
    n: int,
    *,
    genres: list[str] | None = None,
    explain: bool = False,
    served: Served | None = None,
) -> RecommendationsResponse:
    """Top-n from memory alone: the user, the model, the catalogue and the popularity
    table are all held by this process. A user of a fallback arm gets the popularity list."""
    record = serving.user(user_id)
    rated = record.rated()
    served = served or serving.served(user_id)
    loaded = served.loaded
    profile = serving.profile(loaded, record) if loaded else None
    catalogue = serving.catalogue

    predicted: dict[int, float] = {}
    if loaded is not None and profile is not None:
        model = loaded.model
        ids, scores = model.recommend(profile, n, record.movies)
        picked = list(zip(ids.tolist(), scores.tolist(), strict=True))
        new = serving.new_movies(loaded)
        if new.genres and model.predicts_ratings:  # movies the model has not learned: scored from genres
            rated_genres = {m: movie.genres for m, movie in catalogue.get_many(rated).items()}
            affinities = genre_affinities(rated, rated_genres, serving.settings.genre_prior)
            content = content_ratings(loaded, profile, affinities, new.genres, set(rated))
            if content:
                ranked = model.scores_for_ratings(profile, np.array([r for _, r in content]))
                predicted.update(content)
                picked = sorted(picked + [(m, float(s)) for (m, _), s in zip(content, ranked, strict=True)],
                                key=lambda p: -p[1])[:n]
        if model.predicts_ratings:
            learned = [m for m, _ in picked if m not in predicted]
            values = model.predict_profiles([profile], np.zeros(len(learned), dtype=np.int64), learned)
            predicted.update(zip(learned, values.tolist(), strict=True))
        strategy = "personalized"
    else:
        allowed = catalogue.in_genres(genres) if genres else None
        picked = popularity.top(n, exclude=set(rated), allowed=allowed)
        strategy = "genre_fallback" if genres else "popularity_fallback"

    movies = catalogue.get_many(m for m, _ in picked)
    explanations: dict[int, str] = {}
    if explain and strategy == "personalized":
        from service.services.explanations import short_explanations

        shown = [movies[m] for m, _ in picked if m in movies]
        explanations = short_explanations(loaded, profile, shown, rated, catalogue.get_many(rated))
    elif explain:
        for movie_id, score in picked:
            explanations[movie_id] = f"Popular and well rated (damped mean {score:.2f}); rate movies to personalize."
    items = [
        RecommendationItem.model_construct(
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
    personalized = loaded is not None and strategy == "personalized"
    return RecommendationsResponse.model_construct(
        user_id=user_id,
        model_version=loaded.version if personalized else None,
        model_type=loaded.model_type if personalized else None,
        strategy=strategy,
        items=items,
        experiment_id=served.experiment_id,
        arm=served.arm,
    )


def predict_many(
    serving: ServingState, pairs: list[tuple[int, int]], popularity: PopularityTable | None = None
) -> list[PredictResponse]:
    """Each pair predicted by whoever serves its user: the active version, an arm's
    version, or (a popularity arm) the movie's damped mean."""
    require_model(serving.registry)
    catalogue = serving.catalogue
    for index, (_, movie_id) in enumerate(pairs):
        if catalogue.get(movie_id) is None:
            field = "movie_id" if len(pairs) == 1 else f"pairs[{index}].movie_id"
            raise NotFound(f"movie {movie_id} not found", field=field)
    served = {u: serving.served(u) for u in dict.fromkeys(u for u, _ in pairs)}
    for by in served.values():
        if by.loaded is not None and not by.loaded.model.predicts_ratings:
            loaded = by.loaded
            raise Conflict(
                f"version {loaded.version} is a {loaded.model_type} model: it ranks movies but does "
                "not predict ratings; activate a matrix_factorization or ensemble version to predict",
                field="model_type",
            )
    profiles = {u: serving.profile(by.loaded, serving.user(u)) if by.loaded else None for u, by in served.items()}
    results = []
    for user_id, movie_id in pairs:
        by = served[user_id]
        profile = profiles[user_id]
        if by.loaded is None:  # the popularity arm
            table = popularity or serving.current_popularity()
            value = table.predict([movie_id])[0] if table is not None else 0.0
            results.append(PredictResponse.model_construct(
                user_id=user_id, movie_id=movie_id, predicted_rating=value, model_version=None,
                model_type="popularity", known_user=False, known_movie=True,
                experiment_id=by.experiment_id, arm=by.arm,
            ))
            continue
        model = by.loaded.model
        if profile is not None:
            value = float(model.predict_profiles([profile], [0], [movie_id])[0])
        else:
            value = float(model.predict([user_id], [movie_id])[0])
        results.append(
            PredictResponse.model_construct(
                user_id=user_id,
                movie_id=movie_id,
                predicted_rating=value,
                model_version=by.loaded.version,
                model_type=by.loaded.model_type,
                known_user=profile is not None,
                known_movie=model.has_item(movie_id),
                experiment_id=by.experiment_id,
                arm=by.arm,
            )
        )
    return results


def similar_movies(serving: ServingState, movie_id: int, n: int) -> SimilarMoviesResponse:
    """Neighbours in factor space, or by shared genres for a movie the model has not learned."""
    catalogue = serving.catalogue
    movie = catalogue.get(movie_id)
    if movie is None:
        raise NotFound(f"movie {movie_id} not found", field="movie_id")
    loaded = serving.registry.current
    if loaded is not None and loaded.model.has_item(movie_id):
        ids, sims = loaded.model.similar_items(movie_id, n)
        picked = list(zip(ids.tolist(), sims.tolist(), strict=True))
        strategy = "model"
    else:
        picked = _genre_neighbours(catalogue, movie_id, set(movie.genres), n)
        strategy = "genres"
    movies = catalogue.get_many(m for m, _ in picked)
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


def _genre_neighbours(catalogue: Catalogue, movie_id: int, genres: set[str], n: int) -> list[tuple[int, float]]:
    if not genres:
        return []
    candidates = catalogue.in_genres(genres) - {movie_id}
    scored = [
        (m, len(genres & set(g)) / len(genres | set(g)))
        for m, g in ((m, movie.genres) for m, movie in catalogue.get_many(candidates).items())
    ]
    return sorted(scored, key=lambda p: (-p[1], p[0]))[:n]
