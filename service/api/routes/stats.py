from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from service.api.deps import ReaderKey, ReadSessionDep
from service.api.openapi import response_example
from service.schemas import examples
from service.schemas.stats import StatsPublic, StatsWindow
from service.services import stats

router = APIRouter(prefix="/api", tags=["stats"])


@router.get(
    "/stats", response_model=StatsPublic, dependencies=[ReaderKey], summary="Summarize the data",
    responses={200: response_example(examples.STATS)},
)
async def get_stats(
    session: ReadSessionDep,
    days: Annotated[int, Query(ge=1, le=366, description="How many days `per_day` covers.")] = 30,
    window: Annotated[StatsWindow, Query(
        description="calendar: the `days` calendar days ending on the newest rating's day, empty days counted 0. "
        "rated: the `days` most recent days that have ratings, ending on the same day; empty days left out, "
        "so an imported history still shows after a few ratings today."
    )] = "calendar",
) -> StatsPublic:
    """Users, movies and ratings counts, and ratings per day over the last ``days`` days of data."""
    return await stats.data_stats(session, days, window)
