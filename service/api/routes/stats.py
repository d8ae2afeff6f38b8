from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from service.api.deps import ReaderKey, ReadSessionDep
from service.schemas.stats import StatsPublic
from service.services import stats

router = APIRouter(prefix="/api", tags=["stats"])


@router.get("/stats", response_model=StatsPublic, dependencies=[ReaderKey])
async def get_stats(session: ReadSessionDep, days: Annotated[int, Query(ge=1, le=366)] = 30) -> StatsPublic:
    """Users, movies and ratings counts, and ratings per day over the last ``days`` days of data."""
    return await stats.data_stats(session, days)
