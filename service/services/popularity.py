"""The non-personalized fallback: movies ranked by a damped mean rating.

score(movie) = (n * mean + m * global_mean) / (n + m), with m = POPULARITY_DAMPING, so a
movie with few ratings is pulled toward the global mean and one well-rated by many rises.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.db.models import MovieGenre, Rating

TTL_SECONDS = 30.0


@dataclass(frozen=True)
class PopularityTable:
    movie_ids: np.ndarray
    scores: np.ndarray
    counts: np.ndarray
    global_mean: float

    def top(self, n: int, exclude: set[int], allowed: set[int] | None = None) -> list[tuple[int, float]]:
        order = np.argsort(-self.scores, kind="stable")
        picked: list[tuple[int, float]] = []
        for index in order:
            movie_id = int(self.movie_ids[index])
            if movie_id in exclude or (allowed is not None and movie_id not in allowed):
                continue
            picked.append((movie_id, float(self.scores[index])))
            if len(picked) == n:
                break
        return picked


class PopularityCache:
    def __init__(self, damping: float) -> None:
        self.damping = damping
        self._table: PopularityTable | None = None
        self._built_at = 0.0

    async def table(self, session: AsyncSession) -> PopularityTable:
        if self._table is None or time.monotonic() - self._built_at > TTL_SECONDS:
            self._table = await self._build(session)
            self._built_at = time.monotonic()
        return self._table

    def invalidate(self) -> None:
        self._table = None

    async def _build(self, session: AsyncSession) -> PopularityTable:
        rows = (
            await session.execute(
                select(Rating.movie_id, func.count(), func.sum(Rating.rating)).group_by(Rating.movie_id)
            )
        ).all()
        if not rows:
            empty = np.array([], dtype=np.int64)
            return PopularityTable(empty, np.array([]), empty, 0.0)
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        counts = np.array([r[1] for r in rows], dtype=np.float64)
        sums = np.array([r[2] for r in rows], dtype=np.float64)
        global_mean = float(sums.sum() / counts.sum())
        scores = (sums + self.damping * global_mean) / (counts + self.damping)
        return PopularityTable(ids, scores, counts.astype(np.int64), global_mean)


async def movies_in_genres(session: AsyncSession, genres: list[str]) -> set[int]:
    lowered = [g.lower() for g in genres]
    rows = await session.scalars(
        select(MovieGenre.movie_id).where(func.lower(MovieGenre.genre).in_(lowered))
    )
    return set(rows)
