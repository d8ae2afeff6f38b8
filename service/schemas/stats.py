from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

from service.schemas.common import UtcDatetime

# What `days` counts: calendar days, or only the days that have ratings.
StatsWindow = Literal["calendar", "rated"]


class DayCount(BaseModel):
    day: date = Field(description="A UTC calendar day.")
    ratings: int = Field(description="Ratings timestamped on that day.")


class StatsPublic(BaseModel):
    users: int = Field(description="Distinct users with at least one rating.")
    movies: int = Field(description="Movies in the catalogue, rated or not.")
    ratings: int = Field(description="Ratings stored.")
    first_rating_at: UtcDatetime | None = Field(description="Timestamp of the oldest rating; null without ratings.")
    last_rating_at: UtcDatetime | None = Field(description="Timestamp of the newest rating; null without ratings.")
    days: int = Field(description="Length of the per-day window.")
    window: StatsWindow = Field(
        "calendar", description="calendar: `days` calendar days, empty ones counted 0; rated: the `days` most "
        "recent days that have ratings, empty ones left out (so `per_day` may have gaps between its days)."
    )
    per_day: list[DayCount] = Field(
        description="Ratings per UTC day over the window ending on the day of the newest rating, oldest first; "
        "with the calendar window, days without ratings count 0."
    )
