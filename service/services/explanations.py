"""Explanations computed from the model, not written by hand.

The predicted rating is split into global mean, user bias, movie bias and the
interaction term; the interaction is split over the user's rated movies by the
item-based decomposition of the user's least-squares solve (the shares add up to it);
genre affinities come from the user's mean-centered ratings; similar users are the
nearest raters of the movie in factor space.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from recsys_core.model import Explanation, UserVector
from service.core.errors import NotFound
from service.db.models import Rating
from service.schemas.ml import (
    ExplanationResponse,
    GenreMatch,
    PredictionBreakdown,
    RatedMovieContribution,
    SimilarUserRating,
)
from service.schemas.movies import MoviePublic
from service.services import catalog
from service.services.model_registry import LoadedModel, ModelRegistry
from service.services.realtime import current_vector, rated_by
from service.services.recommendations import require_model

TOP_CONTRIBUTIONS = 5
SIMILAR_USERS = 5
MAX_RATERS_SCANNED = 5000


async def explain(
    session: AsyncSession, registry: ModelRegistry, user_id: int, movie_id: int, top: int = TOP_CONTRIBUTIONS
) -> ExplanationResponse:
    loaded = require_model(registry)
    movie = (await catalog.movies_by_id(session, [movie_id])).get(movie_id)
    if movie is None:
        raise NotFound(f"movie {movie_id} not found", field="movie_id")
    rated = await rated_by(session, user_id)
    if not rated:
        raise NotFound(f"user {user_id} has no ratings to explain a recommendation from", field="user_id")
    vector = await current_vector(session, loaded, user_id, rated)
    user_mean = float(np.mean(list(rated.values())))
    rated_movies = await catalog.movies_by_id(session, rated)
    genres = _genre_matches(movie.genres, rated, rated_movies)

    model = loaded.model
    if not model.has_item(movie_id):
        value = float(model.predict_vector(vector, [movie_id])[0]) if vector else model.global_mean
        breakdown = PredictionBreakdown(global_mean=model.global_mean, user_bias=vector.bias if vector else 0.0,
                                        movie_bias=0.0, interaction=0.0, predicted_rating=value)
        return ExplanationResponse(
            user_id=user_id, movie_id=movie_id, title=movie.title, model_version=loaded.version,
            breakdown=breakdown, because_you_rated=[], genre_matches=genres, similar_users=[],
            summary=_summary(movie.title, breakdown.predicted_rating, [], genres, [], user_mean=user_mean, new_movie=True),
        )

    decomposition = model.explain_vector(movie_id, list(rated), list(rated.values()), vec=vector)
    contributions = _top_contributions(decomposition, rated_movies, top)
    similar = await _similar_users(session, loaded, vector, user_id, movie_id)
    breakdown = PredictionBreakdown(
        global_mean=decomposition.global_mean,
        user_bias=decomposition.user_bias,
        movie_bias=decomposition.item_bias,
        interaction=decomposition.interaction,
        predicted_rating=decomposition.prediction,
    )
    return ExplanationResponse(
        user_id=user_id,
        movie_id=movie_id,
        title=movie.title,
        model_version=loaded.version,
        breakdown=breakdown,
        because_you_rated=contributions,
        genre_matches=genres,
        similar_users=similar,
        summary=_summary(movie.title, decomposition.prediction, contributions, genres, similar, user_mean=user_mean),
    )


def _top_contributions(
    decomposition: Explanation, rated_movies: dict, top: int = TOP_CONTRIBUTIONS
) -> list[RatedMovieContribution]:
    return [
        RatedMovieContribution(
            movie_id=int(entry["item_id"]),
            title=rated_movies[int(entry["item_id"])].title if int(entry["item_id"]) in rated_movies else "",
            your_rating=entry["rating"],
            similarity=entry["similarity"],
            contribution=entry["contribution"],
        )
        for entry in decomposition.top(top)
    ]


def _genre_matches(movie_genres: list[str], rated: dict[int, float], rated_movies: dict) -> list[GenreMatch]:
    user_mean = float(np.mean(list(rated.values())))
    deviations: defaultdict[str, list[float]] = defaultdict(list)
    for movie_id, rating in rated.items():
        details = rated_movies.get(movie_id)
        for genre in details.genres if details else []:
            deviations[genre].append(rating - user_mean)
    matches = []
    for genre in movie_genres:
        values = deviations.get(genre, [])
        affinity = float(np.mean(values)) if values else 0.0
        matches.append(GenreMatch(genre=genre, affinity=affinity, n_rated=len(values), drove_match=affinity > 0))
    return sorted(matches, key=lambda m: -m.affinity)


async def _similar_users(
    session: AsyncSession, loaded: LoadedModel, vector: UserVector | None, user_id: int, movie_id: int
) -> list[SimilarUserRating]:
    if vector is None:
        return []
    rows = (
        await session.execute(
            select(Rating.user_id, Rating.rating)
            .where(Rating.movie_id == movie_id, Rating.user_id != user_id)
            .order_by(Rating.timestamp.desc())
            .limit(MAX_RATERS_SCANNED)
        )
    ).all()
    if not rows:
        return []
    ratings_of = dict(rows)
    ids, sims = loaded.model.similar_users(vector, list(ratings_of), SIMILAR_USERS)
    return [
        SimilarUserRating(user_id=int(u), similarity=float(s), rating=float(ratings_of[int(u)]))
        for u, s in zip(ids, sims, strict=True)
    ]


def _summary(
    title: str,
    predicted: float,
    contributions: list[RatedMovieContribution],
    genres: list[GenreMatch],
    similar: list[SimilarUserRating],
    *,
    user_mean: float,
    new_movie: bool = False,
) -> str:
    parts = [f"Predicted {predicted:.1f} for {title}"]
    # A positive share can come from a movie the user disliked that is unlike this one,
    # so say which way the user felt about each movie named.
    raising = [c for c in contributions if c.contribution > 0][:2]
    liked = [c for c in raising if c.your_rating >= user_mean]
    disliked = [c for c in raising if c.your_rating < user_mean]
    if liked:
        parts.append("because you liked " + " and ".join(f"{c.title} ({c.your_rating:g})" for c in liked))
    if disliked:
        parts.append("you disliked " + " and ".join(f"{c.title} ({c.your_rating:g})" for c in disliked))
    drivers = [g for g in genres if g.drove_match][:2]
    if drivers:
        parts.append("you like " + " and ".join(f"{g.genre} ({g.affinity:+.1f})" for g in drivers))
    if similar:
        mean = sum(s.rating for s in similar) / len(similar)
        parts.append(f"{len(similar)} similar users rated it {mean:.1f} on average")
    if new_movie:
        parts.append("(new movie: scored from its genres)")
    return "; ".join(parts) + "."


def short_explanation(
    loaded: LoadedModel,
    vector: UserVector,
    movie: MoviePublic,
    rated: dict[int, float],
    rated_movies: dict[int, MoviePublic],
) -> str:
    """The one-line form attached to each recommendation with ?explain=true."""
    genres = _genre_matches(movie.genres, rated, rated_movies)
    user_mean = float(np.mean(list(rated.values())))
    model = loaded.model
    if not model.has_item(movie.id):
        predicted = float(model.predict_vector(vector, [movie.id])[0])
        return _summary(movie.title, predicted, [], genres, [], user_mean=user_mean, new_movie=True)
    decomposition = model.explain_vector(movie.id, list(rated), list(rated.values()), vec=vector)
    contributions = _top_contributions(decomposition, rated_movies)
    return _summary(movie.title, decomposition.prediction, contributions, genres, [], user_mean=user_mean)
