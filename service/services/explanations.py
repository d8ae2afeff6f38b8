"""Explanations computed from the model, not written by hand.

Every model type splits its score for a movie into additive terms that sum to it (see
``recsys_core.recommender.Explanation``): per-user constants, the movie's own appeal,
and one share per movie the user rated. The text names the terms that differ from
movie to movie, largest first, and leaves out those that round to zero. A rated movie
it names is "liked" only at or above the user's own mean rating; below it, the text just
gives the rating. Genre affinities come from the user's mean-centered ratings; similar users are
other raters of the movie whose ratings agree most with this user's.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from recsys_core.recommender import Explanation, Term, UserProfile
from service.core.errors import NotFound
from service.db.models import Rating
from service.schemas.ml import (
    ExplanationResponse,
    ExplanationTerm,
    GenreMatch,
    RatedMovieContribution,
    SimilarUserRating,
)
from service.schemas.movies import MoviePublic
from service.services.model_registry import LoadedModel
from service.services.recommendations import ModelCannotAnswer, require_model
from service.serving.state import ServingState

TOP_CONTRIBUTIONS = 5
NAMED_IN_TEXT = 3
SIMILAR_USERS = 5
MAX_RATERS_SCANNED = 100  # the most recent raters of the movie
MAX_MOVIES_COMPARED = 40  # the user's most telling ratings (farthest from their mean)
MIN_CO_RATED = 3
SHOWN_DECIMALS = 1  # the text shows terms to one decimal; smaller ones would read "+0.0"

TERM_LABELS = {
    "global_mean": "average rating of all movies",
    "user_bias": "how you rate compared with others",
    "item_appeal": "the movie's own appeal to everyone",
    "tags": "your taste for the movie's genres",
    "baseline": "your scores' baseline (the same for every movie)",
    "residual": "difference between your stored and re-solved state",
}


async def explain(
    session: AsyncSession, serving: ServingState, user_id: int, movie_id: int, top: int = TOP_CONTRIBUTIONS
) -> ExplanationResponse:
    """The explanation from memory; only the similar users are looked up in the database."""
    loaded = require_model(serving.registry)
    genre_prior = serving.settings.genre_prior
    movie = serving.catalogue.get(movie_id)
    if movie is None:
        raise NotFound(f"movie {movie_id} not found", field="movie_id")
    record = serving.user(user_id)
    rated = record.rated()
    if not rated:
        raise NotFound(f"user {user_id} has no ratings to explain a recommendation from", field="user_id")
    profile = serving.profile(loaded, record)
    assert profile is not None  # a user with ratings always has a profile
    rated_movies = serving.catalogue.get_many(rated)
    genres = _genre_matches(movie.genres, rated, rated_movies)
    model = loaded.model
    user_mean = float(np.mean(list(rated.values())))
    if not model.has_item(movie_id):
        return _new_movie(loaded, profile, user_id, movie, genres, user_mean, rated, settings_prior=genre_prior)
    decomposition = model.explain(profile, movie_id)
    contributions = _top_contributions(decomposition, rated_movies, top)
    return ExplanationResponse(
        user_id=user_id,
        movie_id=movie_id,
        title=movie.title,
        model_version=loaded.version,
        model_type=loaded.model_type,
        score=decomposition.score,
        predicted_rating=decomposition.prediction,
        terms=[_public_term(t, rated_movies) for t in decomposition.terms],
        because_you_rated=contributions,
        genre_matches=genres,
        similar_users=await _similar_users(session, user_id, movie_id, rated),
        summary=summary(movie.title, decomposition, rated_movies, genres, user_mean=user_mean),
    )


def _new_movie(
    loaded: LoadedModel, profile: UserProfile, user_id: int, movie: MoviePublic, genres: list[GenreMatch],
    user_mean: float, rated: dict[int, float], *, settings_prior: float,
) -> ExplanationResponse:
    """A movie the model has not learned is scored from its genres, as recommendations
    score it: the model's baseline for the user plus their genre affinity."""
    model = loaded.model
    if not model.predicts_ratings:
        raise ModelCannotAnswer(
            f"model version {loaded.version} ({loaded.model_type}) has not learned movie {movie.id}; "
            "it recommends only movies it was trained on",
            field="movie_id",
        )
    baseline = float(model.predict_profiles([profile], [0], [movie.id])[0])
    affinity = float(np.mean([g.affinity * g.n_rated / (g.n_rated + settings_prior) for g in genres])) if genres else 0.0
    lo, hi = model.rating_scale
    predicted = float(np.clip(baseline + affinity, lo, hi))
    terms = [
        ExplanationTerm(kind="baseline", label="what the model predicts for you for a movie it has not learned",
                        value=baseline),
        ExplanationTerm(kind="tags", label=TERM_LABELS["tags"], value=affinity),
    ]
    drivers = [g for g in genres if g.drove_match and _shown(g.affinity)][:2]
    text = f"Predicted {predicted:.1f} for {movie.title}; new movie: scored from its genres"
    if drivers:
        text += "; you rate " + " and ".join(f"{g.genre} ({g.affinity:+.1f})" for g in drivers) + " above your average"
    return ExplanationResponse(
        user_id=user_id, movie_id=movie.id, title=movie.title, model_version=loaded.version,
        model_type=loaded.model_type, score=baseline + affinity, predicted_rating=predicted, terms=terms,
        because_you_rated=[], genre_matches=genres, similar_users=[], summary=text + ".",
    )


def _public_term(term: Term, rated_movies: dict[int, MoviePublic]) -> ExplanationTerm:
    if term.kind == "rated_item":
        movie_id = int(term.item_id)
        title = rated_movies[movie_id].title if movie_id in rated_movies else f"movie {movie_id}"
        return ExplanationTerm(kind="rated_item", label=f"you rated {title}", value=term.value,
                               movie_id=movie_id, your_rating=term.rating)
    return ExplanationTerm(kind=term.kind, label=TERM_LABELS[term.kind], value=term.value)


def _top_contributions(
    decomposition: Explanation, rated_movies: dict[int, MoviePublic], top: int = TOP_CONTRIBUTIONS
) -> list[RatedMovieContribution]:
    return [
        RatedMovieContribution(
            movie_id=int(term.item_id),
            title=rated_movies[int(term.item_id)].title if int(term.item_id) in rated_movies else "",
            your_rating=float(term.rating) if term.rating is not None else float("nan"),
            similarity=term.similarity,
            contribution=term.value,
        )
        for term in decomposition.rated_items(top)
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
    session: AsyncSession, user_id: int, movie_id: int, rated: dict[int, float]
) -> list[SimilarUserRating]:
    """Recent raters of the movie whose mean-centered ratings of the movies this user
    rated point the same way (cosine over at least MIN_CO_RATED shared movies). Both
    sides are capped so the co-rating query stays a few thousand rows."""
    raters = dict(
        (
            await session.execute(
                select(Rating.user_id, Rating.rating)
                .where(Rating.movie_id == movie_id, Rating.user_id != user_id)
                .order_by(Rating.timestamp.desc())
                .limit(MAX_RATERS_SCANNED)
            )
        ).all()
    )
    if not raters:
        return []
    mine_mean = float(np.mean(list(rated.values())))
    compared = sorted(rated, key=lambda m: (-abs(rated[m] - mine_mean), m))[:MAX_MOVIES_COMPARED]
    shared = (
        await session.execute(
            select(Rating.user_id, Rating.movie_id, Rating.rating).where(
                Rating.user_id.in_(list(raters)), Rating.movie_id.in_(compared)
            )
        )
    ).all()
    if not shared:
        return []
    others = np.fromiter((row[0] for row in shared), dtype=np.int64, count=len(shared))
    theirs = np.fromiter((row[2] for row in shared), dtype=np.float64, count=len(shared))
    mine = np.fromiter((rated[row[1]] - mine_mean for row in shared), dtype=np.float64, count=len(shared))
    # Per other user, with their ratings centered on their own mean over the shared movies:
    # cosine = (sum m t - mean_t sum m) / (|m| * sqrt(sum t^2 - n mean_t^2)).
    ids, slot = np.unique(others, return_inverse=True)
    n = np.bincount(slot)
    sum_t = np.bincount(slot, theirs)
    mean_t = sum_t / n
    dot = np.bincount(slot, mine * theirs) - mean_t * np.bincount(slot, mine)
    norm = np.sqrt(np.bincount(slot, mine**2) * np.maximum(np.bincount(slot, theirs**2) - n * mean_t**2, 0.0))
    similarity = np.divide(dot, norm, out=np.zeros(len(ids)), where=(norm > 0) & (n >= MIN_CO_RATED))
    order = np.lexsort((ids, -similarity))[:SIMILAR_USERS]
    return [
        SimilarUserRating(user_id=int(ids[k]), similarity=float(similarity[k]), rating=float(raters[int(ids[k])]))
        for k in order
        if similarity[k] > 0
    ]


def _shown(value: float) -> bool:
    return round(abs(value), SHOWN_DECIMALS) > 0


def summary(
    title: str,
    decomposition: Explanation,
    rated_movies: dict[int, MoviePublic],
    genres: list[GenreMatch],
    *,
    user_mean: float,
) -> str:
    """One or two sentences naming what moved this movie's score most, in words.

    Only terms that differ between movies are named (rated movies, the movie's own
    appeal, the user's taste for its genres): the per-user constants move every movie
    alike."""
    if decomposition.prediction is not None:
        head = f"Predicted {decomposition.prediction:.1f} for {title}"
    else:
        head = f"Recommended {title} (score {decomposition.score:.2f})"
    named = [t for t in decomposition.terms if t.kind in ("rated_item", "item_appeal", "tags") and _shown(t.value)]
    named.sort(key=lambda t: -abs(t.value))
    named = named[:NAMED_IN_TEXT]
    raising = [_phrase(t, rated_movies, user_mean) for t in named if t.value > 0]
    lowering = [_phrase(t, rated_movies, user_mean) for t in named if t.value < 0]
    parts = [head]
    if raising:
        parts.append("mostly because " + ", ".join(raising))
    if lowering:
        parts.append(("held back by " if raising else "despite ") + ", ".join(lowering))
    drivers = [g for g in genres if g.drove_match and _shown(g.affinity)][:2]
    if drivers:
        parts.append("you rate " + " and ".join(f"{g.genre} ({g.affinity:+.1f})" for g in drivers)
                     + " above your average")
    return "; ".join(parts) + "."


def _phrase(term: Term, rated_movies: dict[int, MoviePublic], user_mean: float) -> str:
    value = f"{term.value:+.{SHOWN_DECIMALS}f}"
    if term.kind == "item_appeal":
        return f"it is widely loved ({value})" if term.value > 0 else f"it is less widely liked ({value})"
    if term.kind == "tags":
        return f"its genres suit your taste ({value})" if term.value > 0 else f"its genres are not your usual ({value})"
    movie_id = int(term.item_id)
    title = rated_movies[movie_id].title if movie_id in rated_movies else f"movie {movie_id}"
    rating = float(term.rating) if term.rating is not None else user_mean
    if rating >= user_mean:  # at or above the user's own mean: never "disliked"
        return f"you liked {title} ({rating:g}) ({value})"
    return f"you rated {title} {rating:g} ({value})"


def short_explanations(
    loaded: LoadedModel,
    profile: UserProfile,
    movies: list[MoviePublic],
    rated: dict[int, float],
    rated_movies: dict[int, MoviePublic],
) -> dict[int, str]:
    """The one-line forms attached to each recommendation with ?explain=true."""
    user_mean = float(np.mean(list(rated.values())))
    model = loaded.model
    learned = [m for m in movies if model.has_item(m.id)]
    decompositions = dict(zip((m.id for m in learned), model.explain_many(profile, [m.id for m in learned]), strict=True))
    texts = {}
    for movie in movies:
        genres = _genre_matches(movie.genres, rated, rated_movies)
        if movie.id in decompositions:
            texts[movie.id] = summary(movie.title, decompositions[movie.id], rated_movies, genres, user_mean=user_mean)
        else:
            drivers = [g.genre for g in genres if g.drove_match][:2]
            liked = f"; you rate {' and '.join(drivers)} above your average" if drivers else ""
            texts[movie.id] = f"New movie {movie.title}: scored from its genres{liked}."
    return texts
