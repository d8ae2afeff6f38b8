from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field, field_validator

from service.schemas.common import EntityId

MAX_BATCH = 10_000


class RatingBase(BaseModel):
    user_id: EntityId
    movie_id: EntityId
    rating: float = Field(strict=True, allow_inf_nan=False, description="On the service's rating scale (a JSON number).")


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

    ratings: list[RatingCreate] = Field(min_length=1, max_length=MAX_BATCH)


class RatingPublic(RatingBase):
    timestamp: int


class FoldInResult(BaseModel):
    """What a new rating changed in the live model."""

    model_version: int | None = Field(description="Active version the user was folded into.")
    folded_in: bool
    latency_ms: float | None = None
    predicted_before: float | None = Field(
        default=None, description="The active model's prediction for this rating before it was seen."
    )


class RatingAccepted(BaseModel):
    rating: RatingPublic
    replaced: bool = Field(description="True when it replaced the user's earlier rating of the movie.")
    fold_in: FoldInResult


class RatingBatchAccepted(BaseModel):
    count: int
    fold_in: list[FoldInResult]
