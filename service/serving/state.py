"""What one API process serves from memory, and how it stays in step with PostgreSQL.

``ServingState`` holds every user's ratings and real-time state, the movie catalogue,
the popularity table and the movies the active model has not learned. Reads use only
these. A write through this process is applied here right after its commit (so the
same client's next request sees it) and published on the change feed; every other
process re-reads the rows the feed names. The database stays the source of truth: a
process that starts, or sees a gap in the feed, reloads everything from it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from redis import RedisError
from sqlalchemy.ext.asyncio import async_sessionmaker

from recsys_core.recommender import UserProfile
from service.core.config import Settings
from service.db import statements
from service.schemas.health import ServingStatus
from service.schemas.movies import MoviePublic
from service.services.catalog import movies_by_id
from service.services.model_registry import LoadedModel, ModelRegistry
from service.serving import loader
from service.serving.catalogue import Catalogue
from service.serving.feed import KIND_ALL, KIND_MOVIES, KIND_USERS, Change, LocalFeed, RedisFeed
from service.serving.rendered import RenderedCache
from service.serving.users import UserRecord, UserStore, compact, movie_totals

log = logging.getLogger(__name__)

POPULARITY_TTL_SECONDS = 30.0
COMPACT_CHECK_SECONDS = 5.0


@dataclass(frozen=True)
class PopularityTable:
    """Movies by damped mean, ``(n * mean + m * global_mean) / (n + m)``, best first."""

    movie_ids: np.ndarray
    scores: np.ndarray
    counts: np.ndarray
    global_mean: float

    @classmethod
    def build(cls, ids: np.ndarray, counts: np.ndarray, sums: np.ndarray, damping: float) -> PopularityTable:
        if not len(ids) or counts.sum() == 0:
            empty = np.zeros(0, np.int64)
            return cls(empty, np.zeros(0), empty, 0.0)
        global_mean = float(sums.sum() / counts.sum())
        scores = (sums + damping * global_mean) / (counts + damping)
        order = np.lexsort((ids, -scores))
        return cls(ids[order], scores[order], counts[order].astype(np.int64), global_mean)

    @cached_property
    def _score_by_id(self) -> dict[int, float]:
        return dict(zip(self.movie_ids.tolist(), self.scores.tolist(), strict=True))

    def predict(self, movie_ids: Iterable[int]) -> list[float]:
        """The damped mean as a prediction (the popularity arm's); an unrated movie gets the global mean."""
        by_id = self._score_by_id
        return [by_id.get(m, self.global_mean) for m in movie_ids]

    def top(self, n: int, exclude: set[int], allowed: set[int] | None = None) -> list[tuple[int, float]]:
        picked: list[tuple[int, float]] = []
        for movie_id, score in zip(self.movie_ids.tolist(), self.scores.tolist(), strict=True):
            if movie_id in exclude or (allowed is not None and movie_id not in allowed):
                continue
            picked.append((movie_id, score))
            if len(picked) == n:
                break
        return picked


@dataclass(frozen=True)
class NewMovies:
    """Catalogue movies a model version has no parameters for, with their genres."""

    version: int
    generation: int
    genres: dict[int, list[str]]


@dataclass(frozen=True)
class Served:
    """Who serves a user: the experiment and arm (None outside one) and the model (None: the fallback)."""

    experiment_id: int | None
    arm: str | None
    loaded: LoadedModel | None

    @property
    def fallback(self) -> bool:
        """An arm that serves the popularity list rather than a model."""
        return self.arm is not None and self.loaded is None


class ServingState:
    def __init__(
        self, sessions: async_sessionmaker, feed: LocalFeed | RedisFeed, registry: ModelRegistry, settings: Settings
    ) -> None:
        self._sessions = sessions
        self.registry = registry  # the active model: served from memory like the rest
        self.settings = settings
        self._poll_seconds = settings.model_poll_seconds
        self._generation: int | None = None
        self.feed = feed
        self.users = UserStore()
        self.catalogue = Catalogue()
        self._damping = settings.popularity_damping
        self._popularity: PopularityTable | None = None
        self._popularity_at = 0.0
        self._popularity_task: asyncio.Task | None = None
        self._new_movies: NewMovies | None = None
        self._tasks: list[asyncio.Task] = []
        self.rendered = RenderedCache(settings.response_cache_entries)
        self._plain = Served(None, None, None)  # who serves a user outside any experiment
        self.loaded_at: float | None = None
        self.resyncs = 0

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Load everything, then follow the feed from where it stood before the load."""
        try:
            start = await self.feed.position()
        except (RedisError, OSError) as exc:  # the follower resyncs once Redis answers
            log.warning("change feed unreachable at start (%s)", exc)
            start = None
        await self.reload()
        self._tasks = [
            asyncio.create_task(self.feed.follow(self._on_changes, self._on_gap, start)),
            asyncio.create_task(self._upkeep()),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.feed.close()

    async def reload(self) -> None:
        """Everything from the database; what this process wrote meanwhile is kept."""
        async with self._sessions() as session:
            generation = await session.scalar(statements.data_generation())
            users = await loader.load_users(session)
            catalogue = await loader.load_catalogue(session)
        users.merge_newer(self.users)
        self.users, self.catalogue = users, catalogue
        self._popularity = None
        self._generation = generation
        self.loaded_at = time.time()

    async def _on_gap(self) -> None:
        self.resyncs += 1
        await self.reload()

    async def _on_changes(self, changes: list[Change]) -> None:
        others = [c for c in changes if c.origin != self.feed.origin]  # our own are applied already
        if any(c.kind == KIND_ALL for c in others):
            await self.reload()
            return
        users = sorted({i for c in others if c.kind == KIND_USERS for i in c.ids})
        movies = sorted({i for c in others if c.kind == KIND_MOVIES for i in c.ids})
        if not users and not movies:
            return
        async with self._sessions() as session:
            records = await loader.fetch_users(session, users) if users else []
            found = await loader.fetch_movies(session, movies) if movies else []
        for record in records:
            self.users.put(record)
        if found:
            self.catalogue.put(found)

    async def _upkeep(self) -> None:
        """Reload after a bulk change (an import by any process moves the data
        generation), and fold the overlay back into the rows when it has grown."""
        compacted_at = time.monotonic()
        while True:
            await asyncio.sleep(self._poll_seconds)
            try:
                async with self._sessions() as session:
                    generation = await session.scalar(statements.data_generation())
                if generation != self._generation:
                    await self.reload()
                if time.monotonic() - compacted_at > COMPACT_CHECK_SECONDS and self.users.needs_compaction():
                    compacted_at = time.monotonic()
                    rows, overlay = self.users.overlay_snapshot()
                    self.users.install_compacted(await asyncio.to_thread(compact, rows, overlay), overlay)
            except Exception as exc:  # the database may be restarting: try again next tick
                log.warning("serving upkeep failed: %s", exc)

    def status(self) -> ServingStatus:
        connected = getattr(self.feed, "connected", None)
        return ServingStatus(users=self.users.n_users, movies=len(self.catalogue), resyncs=self.resyncs,
                             feed_connected=connected, loaded_at=self.loaded_at)

    # -- writes made by this process ---------------------------------------------------

    async def users_written(self, records: Sequence[UserRecord]) -> None:
        """After a commit: serve these users as written, and tell the other processes."""
        for record in records:
            self.users.put(record)
        self.feed.publish(KIND_USERS, [r.user_id for r in records])

    async def movies_written(self, movies: Sequence[MoviePublic]) -> None:
        self.catalogue.put(movies)
        self.feed.publish(KIND_MOVIES, [m.id for m in movies])

    # -- reads -------------------------------------------------------------------------

    def user(self, user_id: int) -> UserRecord:
        return self.users.get(user_id)

    def served(self, user_id: int) -> Served:
        """The arm of the running experiment that serves this user, or the active version.
        Without an experiment this is one attribute read; with one, one SHA-256."""
        registry = self.registry
        experiment = registry.experiment
        arm = experiment.arm_of(user_id) if experiment is not None else None
        if arm is None:  # the common case: one object while the active version stays
            plain = self._plain
            if plain.loaded is not registry.current:
                plain = self._plain = Served(None, None, registry.current)
            return plain
        loaded = registry.model(arm.model_version) if arm.model_version is not None else None
        return Served(experiment.id, arm.name, loaded)  # type: ignore[union-attr]

    def stamp(self, user_id: int, popularity: PopularityTable, served: Served) -> tuple[object, ...]:
        """What a user's recommendations are computed from, for the rendered cache: the
        version and the arm that serve them among it."""
        loaded = served.loaded
        users = self.users
        return (users.stamp(user_id), loaded.version if loaded else None, self.catalogue.generation,
                id(popularity) if served.fallback or users.get_count(user_id) == 0 else None,
                served.experiment_id, served.arm)

    def profile(self, loaded: LoadedModel, record: UserRecord) -> UserProfile | None:
        """The user's profile under the active version.

        A state folded into this version is served as is. A state folded into another
        version (ratings that arrived while a newer model trained) is re-solved from
        the user's ratings, once: the result is kept in memory. A user the model was
        trained on and who never wrote through the service has their trained state.
        """
        model = loaded.model
        if not len(record.movies):
            # Never rated through the service: a trained user keeps their trained profile.
            return model.trained_profile(record.user_id) if record.state is None else None
        if record.state is not None and record.state_version == loaded.version:
            return UserProfile(record.movies, record.ratings, record.state)
        if record.state is None and (trained := model.trained_state(record.user_id)) is not None:
            return UserProfile(record.movies, record.ratings, trained)
        profile = model.profile(record.movies, record.ratings)
        self.users.adopt_state(record.user_id, loaded.version, profile.state, record.revision)
        return profile

    async def popularity(self) -> PopularityTable:
        """The table as of at most ``POPULARITY_TTL_SECONDS`` ago; an older one is
        served while a thread rebuilds it (20M ratings take about a second)."""
        if self._popularity is None:
            await self._rebuild_popularity()
        elif time.monotonic() - self._popularity_at > POPULARITY_TTL_SECONDS and (
            self._popularity_task is None or self._popularity_task.done()
        ):
            self._popularity_task = asyncio.create_task(self._rebuild_popularity())
        assert self._popularity is not None
        return self._popularity

    def current_popularity(self) -> PopularityTable | None:
        """The table as it is, without waiting for a rebuild (None before the first)."""
        return self._popularity

    async def _rebuild_popularity(self) -> None:
        self._popularity_at = time.monotonic()
        rows, overlay = self.users.overlay_snapshot()
        ids, counts, sums = await asyncio.to_thread(movie_totals, rows, overlay)
        self._popularity = PopularityTable.build(ids, counts, sums, self._damping)

    def new_movies(self, loaded: LoadedModel) -> NewMovies:
        cached = self._new_movies
        if cached is None or cached.version != loaded.version or cached.generation != self.catalogue.generation:
            known = np.asarray(loaded.model.item_ids)
            ids = self.catalogue.ids()
            new = np.setdiff1d(ids, known.astype(np.int64)) if known.dtype.kind in "iu" else ids
            genres = {m: movie.genres for m, movie in self.catalogue.get_many(new.tolist()).items()}
            cached = self._new_movies = NewMovies(loaded.version, self.catalogue.generation, genres)
        return cached

    async def known_movies(self, movie_ids: Iterable[int]) -> set[int]:
        """Movies that exist; the database is asked only about those this process has
        not heard of (created through another process a moment ago)."""
        ids = set(movie_ids)
        known = self.catalogue.known(ids)
        if missing := ids - known:
            async with self._sessions() as session:
                found = await movies_by_id(session, missing)
            self.catalogue.put(found.values())
            known |= set(found)
        return known


def build_feed(settings: Settings) -> LocalFeed | RedisFeed:
    if settings.worker_mode == "inprocess":
        return LocalFeed()
    return RedisFeed(settings.redis_url, settings.broker_timeout_seconds)
