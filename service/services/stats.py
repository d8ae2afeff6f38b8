"""Data at a glance: catalogue and rating counts, and ratings per day, computed in SQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.db.models import Movie, Rating
from service.schemas.stats import DayCount, StatsPublic, StatsWindow

SECONDS_PER_DAY = 86_400
_BUCKET = (Rating.timestamp // SECONDS_PER_DAY).label("day")  # the UTC day, as a unix day number


def _day(unix_day: int) -> date:
    return date(1970, 1, 1) + timedelta(days=unix_day)


async def data_stats(session: AsyncSession, days: int, window: StatsWindow = "calendar") -> StatsPublic:
    """Counts, plus ratings per UTC day over the ``days`` ending on the newest rating's day
    (``window="rated"``: the ``days`` most recent days that have ratings).

    The window is anchored on the newest rating rather than on today, so an imported
    historical dataset still shows its activity; but one rating today moves a calendar
    window to today, which is what the rated window is for. ``ratings.timestamp`` is unix
    seconds, so integer division by 86 400 is the UTC day on both SQLite and PostgreSQL.
    """
    users, ratings, first, last = (
        await session.execute(
            select(
                func.count(func.distinct(Rating.user_id)),
                func.count(),
                func.min(Rating.timestamp),
                func.max(Rating.timestamp),
            ).select_from(Rating)
        )
    ).one()
    movies = int(await session.scalar(select(func.count()).select_from(Movie)) or 0)
    if last is None:
        return StatsPublic(users=0, movies=movies, ratings=0, first_rating_at=None, last_rating_at=None,
                           days=days, window=window, per_day=[])

    per_day = await (_rated_days(session, days) if window == "rated" else _calendar_days(session, days, int(last)))
    return StatsPublic(
        users=int(users),
        movies=movies,
        ratings=int(ratings),
        first_rating_at=datetime.fromtimestamp(int(first), UTC),
        last_rating_at=datetime.fromtimestamp(int(last), UTC),
        days=days,
        window=window,
        per_day=per_day,
    )



async def _calendar_days(session: AsyncSession, days: int, last: int) -> list[DayCount]:
    last_day = last // SECONDS_PER_DAY
    first_day = last_day - days + 1
    rows = await session.execute(
        select(_BUCKET, func.count()).where(Rating.timestamp >= first_day * SECONDS_PER_DAY).group_by(_BUCKET)
    )
    counts = {int(day): int(n) for day, n in rows}
    return [DayCount(day=_day(d), ratings=counts.get(d, 0)) for d in range(first_day, last_day + 1)]


async def _rated_days(session: AsyncSession, days: int) -> list[DayCount]:
    # No index on the timestamp to seek by: a full scan, as the counts above already are.
    rows = await session.execute(select(_BUCKET, func.count()).group_by(_BUCKET).order_by(_BUCKET.desc()).limit(days))
    return [DayCount(day=_day(int(day)), ratings=int(n)) for day, n in reversed(rows.all())]
