"""Real-time learning: every rating re-solves its user's state against the active model
before the request answers (MF and iALS: the user's factors against the fixed item side;
EASE scores straight from the ratings), and is first scored as an unseen test case by
types that predict ratings.

The state is stored in ``user_states`` (tagged with the model version and a revision
that counts the user's writes). Writes for one user are serialized until their
transaction ends (advisory locks on PostgreSQL, striped process locks on the embedded
SQLite), and each reads the user's ratings from the database under that lock, so the
state is solved from exactly what is stored. After the commit the writing process
serves the user as written, and the change feed tells every other process.

A write costs a fixed number of round trips however many users a batch names: on
PostgreSQL, one to lock and read the users and one for all the writes, then the commit
(see user_writes).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from service.core.config import Settings
from service.core.errors import NotFound
from service.db.hooks import after_commit
from service.db.models import utcnow
from service.schemas.ratings import FoldInResult, RatingCreate, RatingPublic
from service.services import experiment_store, user_writes
from service.services import ratings as rating_store
from service.services.experiment_store import Outcome
from service.services.model_registry import LoadedModel, ModelRegistry
from service.serving.state import Served, ServingState
from service.serving.users import STATE_DTYPE, UserRecord


async def rate(
    session: AsyncSession,
    settings: Settings,
    registry: ModelRegistry,
    serving: ServingState,
    payloads: Sequence[RatingCreate],
    *,
    field_prefix: str = "",
) -> tuple[list[RatingPublic], set[tuple[int, int]], dict[int, FoldInResult]]:
    """Store ratings, record the prequential predictions, fold each user in once.
    Returns the stored ratings, the (user, movie) pairs they replaced and each user's fold-in.

    A user in a running experiment is predicted and folded in by their arm's version (a
    popularity arm predicts the movie's damped mean and folds in with the active version),
    and each rating is counted for the arm in this same transaction."""
    latest = rating_store.checked(settings, payloads, field_prefix)
    await require_movies(serving, payloads, field_prefix)
    user_ids = sorted({user_id for user_id, _ in latest})
    before = await user_writes.lock_and_read(session, user_ids)
    replaced = {(u, m) for u, m in latest if m in before[u].rated()}

    by_user: defaultdict[int, list[RatingPublic]] = defaultdict(list)
    for rating in latest.values():
        by_user[rating.user_id].append(rating)
    after = {u: {**before[u].rated(), **{r.movie_id: r.rating for r in new}} for u, new in by_user.items()}
    served = {u: serving.served(u) for u in by_user}
    groups = _by_model(registry.current, served)
    predictions: dict[int, list[float]] = {}
    states: list[UserRecord] = []
    latency = 0.0
    for loaded, users in groups:  # one group (the active version) unless an experiment runs
        if loaded is not None:
            predictions.update(_predictions_before(loaded, serving, before, {u: by_user[u] for u in users}))
        solved, took = _solve(loaded, before, {u: after[u] for u in users})
        states += solved
        latency += took
    folded_by = {u: loaded for loaded, users in groups for u in users}
    await user_writes.write(
        session,
        [latest[pair] for pair in sorted(latest)],  # key order, as the archive import writes
        [(r.user_id, r.movie_id, folded_by[u].version, p, r.rating)  # type: ignore[union-attr]
         for u, new in by_user.items() for r, p in zip(new, predictions.get(u, ()), strict=False)],
        states,
        utcnow(),
    )
    await _count_for_arms(session, settings, serving, served, by_user, predictions)
    _serve_after_commit(session, serving, states)
    results = {}
    for user_id in by_user:
        loaded = folded_by[user_id]
        results[user_id] = FoldInResult(
            model_version=loaded.version if loaded else None, folded_in=loaded is not None,
            latency_ms=latency if loaded else None,
            predicted_before=predictions[user_id][-1] if user_id in predictions else None,
        )
    return list(latest.values()), replaced, results


def _by_model(active: LoadedModel | None, served: dict[int, Served]) -> list[tuple[LoadedModel | None, list[int]]]:
    """Users grouped by the version that folds them in: their arm's, else the active one."""
    groups: dict[int | None, tuple[LoadedModel | None, list[int]]] = {}
    for user_id, by in served.items():
        loaded = by.loaded if by.loaded is not None else active
        key = loaded.version if loaded is not None else None
        groups.setdefault(key, (loaded, []))[1].append(user_id)
    return list(groups.values())


async def _count_for_arms(
    session: AsyncSession, settings: Settings, serving: ServingState, served: dict[int, Served],
    by_user: dict[int, list[RatingPublic]], predictions: dict[int, list[float]],
) -> None:
    in_arms = {u: by for u, by in served.items() if by.arm is not None}
    if not in_arms:  # nobody in an experiment: no statement at all
        return
    popularity = serving.current_popularity()
    outcomes = []
    for user_id, by in in_arms.items():
        new = by_user[user_id]
        if by.fallback:
            guesses = popularity.predict(r.movie_id for r in new) if popularity is not None else [None] * len(new)
        else:
            guesses = predictions.get(user_id) or [None] * len(new)  # a type that only ranks predicts none
        outcomes += [Outcome(by.arm, user_id, r.movie_id, g, r.rating)  # type: ignore[arg-type]
                     for r, g in zip(new, guesses, strict=True)]
    experiment_id = next(iter(in_arms.values())).experiment_id
    await experiment_store.record_outcomes(
        session, experiment_id, outcomes,  # type: ignore[arg-type]
        threshold=settings.hit_threshold, window_seconds=settings.experiment_hit_window_seconds, now=utcnow(),
    )


async def unrate(
    session: AsyncSession, registry: ModelRegistry, serving: ServingState, user_id: int, movie_id: int
) -> FoldInResult:
    before = await user_writes.lock_and_read(session, [user_id])
    rated = before[user_id].rated()
    if rated.pop(movie_id, None) is None:
        raise NotFound(f"user {user_id} has not rated movie {movie_id}", field="movie_id")
    await rating_store.delete_rating(session, user_id, movie_id)
    served = serving.served(user_id)
    loaded = served.loaded if served.loaded is not None else registry.current
    states, latency = _solve(loaded, before, {user_id: rated})
    await user_writes.write_states(session, states, utcnow())
    _serve_after_commit(session, serving, states)
    if loaded is None:
        return FoldInResult(model_version=None, folded_in=False)
    return FoldInResult(model_version=loaded.version, folded_in=True, latency_ms=latency)


async def require_movies(serving: ServingState, payloads: Sequence[RatingCreate], field_prefix: str = "") -> None:
    known = await serving.known_movies(p.movie_id for p in payloads)
    for index, payload in enumerate(payloads):
        if payload.movie_id not in known:
            field = f"{field_prefix}[{index}].movie_id" if field_prefix else "movie_id"
            raise NotFound(f"movie {payload.movie_id} not found", field=field)


def _predictions_before(
    loaded: LoadedModel, serving: ServingState, before: dict[int, UserRecord], by_user: dict[int, list[RatingPublic]]
) -> dict[int, list[float]]:
    """Each new rating as the model predicted it before learning it, for all users at once
    (types that only rank movies predict no ratings, so they record none)."""
    model = loaded.model
    users = list(by_user)
    if not users or not model.predicts_ratings:
        return {}
    counts = [len(by_user[u]) for u in users]
    rows = np.repeat(np.arange(len(users)), counts)
    movies = np.fromiter((r.movie_id for u in users for r in by_user[u]), dtype=np.int64, count=len(rows))
    values = np.empty(len(rows))
    profiles = [serving.profile(loaded, before[u]) for u in users]
    has_profile = np.array([p is not None for p in profiles])[rows]
    if has_profile.any():
        known = [p for p in profiles if p is not None]
        remap = np.cumsum([p is not None for p in profiles]) - 1
        values[has_profile] = model.predict_profiles(known, remap[rows[has_profile]], movies[has_profile])
    if not has_profile.all():  # no profile: the model's own estimate (bias-only for a new user)
        values[~has_profile] = model.predict(np.asarray(users)[rows[~has_profile]], movies[~has_profile])
    bounds = np.cumsum([0, *counts])
    return {u: values[bounds[k] : bounds[k + 1]].tolist() for k, u in enumerate(users)}


def _solve(
    loaded: LoadedModel | None, before: dict[int, UserRecord], after: dict[int, dict[int, float]]
) -> tuple[list[UserRecord], float]:
    """The users as they will be stored: their ratings as written and the state solved
    from them (one vectorized solve), with the next revision. Without an active model
    the state is empty and tagged with no version. Also returns the solve's latency in ms."""
    user_ids = list(after)
    rows = np.repeat(np.arange(len(user_ids)), [len(after[u]) for u in user_ids])
    movies = np.fromiter((m for u in user_ids for m in sorted(after[u])), dtype=np.int64, count=len(rows))
    values = np.fromiter((after[u][m] for u in user_ids for m in sorted(after[u])), dtype=np.float64, count=len(rows))
    started = time.perf_counter()
    if loaded is not None:
        solved = loaded.model.user_states(rows, movies, values, n_rows=len(user_ids)).astype(STATE_DTYPE)
    else:
        solved = np.zeros((len(user_ids), 0), dtype=STATE_DTYPE)
    latency = (time.perf_counter() - started) * 1000
    version = loaded.version if loaded is not None else None
    bounds = np.cumsum([0, *(len(after[u]) for u in user_ids)])
    records = [
        UserRecord(user_id, movies[bounds[k] : bounds[k + 1]], values[bounds[k] : bounds[k + 1]], version,
                   solved[k].copy(), before[user_id].revision + 1)
        for k, user_id in enumerate(user_ids)
    ]
    return records, latency


def _serve_after_commit(session: AsyncSession, serving: ServingState, records: list[UserRecord]) -> None:
    async def serve_as_written(_: AsyncSession) -> None:
        await serving.users_written(records)

    after_commit(session, serve_as_written)
