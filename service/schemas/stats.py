from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field


class DayCount(BaseModel):
    day: date
    ratings: int


class StatsPublic(BaseModel):
    users: int = Field(description="Distinct users with at least one rating.")
    movies: int
    ratings: int
    first_rating_at: datetime | None
    last_rating_at: datetime | None
    days: int = Field(description="Length of the per-day window.")
    per_day: list[DayCount] = Field(
        description="Ratings per UTC day over the window ending on the day of the newest rating, oldest first; "
        "days without ratings count 0."
    )
