from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field, field_validator

from service.schemas.common import EntityId

MAX_BATCH = 10_000


class RatingBase(BaseModel):
    user_id: EntityId = Field(description="Who rated: any positive id; a new id is a new user.")
    movie_id: EntityId = Field(description="The movie rated; it must be in the catalogue.")
    rating: float = Field(strict=True, allow_inf_nan=False, description="On the service's rating scale (a JSON number).")


class RatingScale(BaseModel):
    min: float = Field(description="The lowest rating taken (RATING_MIN).")
    max: float = Field(description="The highest rating taken (RATING_MAX).")


class RatingCreate(RatingBase):
    model_config = ConfigDict(extra="forbid")

    timestamp: int | None = Field(
        default=None, strict=True, ge=0, le=2**53,
        description="Unix seconds, from 1970 to at most a day ahead of now; defaults to now.",
    )

    @field_validator("rating")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("rating must be a finite number")
        return value


class RatingBatchCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ratings: list[RatingCreate] = Field(
        min_length=1, max_length=MAX_BATCH,
        description="The ratings, 1 to 10,000; a (user, movie) pair given twice keeps the last.",
    )


class RatingPublic(RatingBase):
    timestamp: int = Field(description="When the rating was made, in Unix seconds.")


class FoldInResult(BaseModel):
    """What a new rating changed in the live model."""

    model_version: int | None = Field(description="Active version the user was folded into.")
    folded_in: bool = Field(description="Whether the user was re-solved at once; false while no model is active.")
    latency_ms: float | None = Field(default=None, description="Milliseconds the re-solve took.")
    predicted_before: float | None = Field(
        default=None, description="The active model's prediction for this rating before it was seen."
    )


class RatingAccepted(BaseModel):
    rating: RatingPublic = Field(description="The rating as stored, with its timestamp.")
    replaced: bool = Field(description="True when it replaced the user's earlier rating of the movie.")
    fold_in: FoldInResult = Field(description="What the rating changed in the live model.")


class RatingBatchAccepted(BaseModel):
    count: int = Field(description="Ratings stored (a pair given twice counts once).")
    fold_in: list[FoldInResult] = Field(description="One fold-in per distinct user in the batch.")
