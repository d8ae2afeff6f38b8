from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from service.schemas.common import NO_NUL, EntityId

Genre = Annotated[str, Field(pattern=NO_NUL)]


class MovieBase(BaseModel):
    title: str = Field(min_length=1, max_length=500, pattern=NO_NUL)
    year: int | None = Field(default=None, ge=1800, le=2200)
    genres: list[Genre] = Field(default_factory=list, max_length=30)

    @field_validator("genres")
    @classmethod
    def _clean_genres(cls, value: list[str]) -> list[str]:
        cleaned = sorted({g.strip() for g in value if g.strip()})
        if any(len(g) > 100 for g in cleaned):
            raise ValueError("each genre must be at most 100 characters")
        return cleaned


class MovieCreate(MovieBase):
    model_config = ConfigDict(extra="forbid")

    id: EntityId


class MoviePublic(MovieBase):
    id: int
    n_ratings: int = 0
    mean_rating: float | None = None
