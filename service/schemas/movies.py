from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from service.core.rating_rules import GENRE_MAX_CHARS, TITLE_MAX_CHARS
from service.schemas.common import NO_NUL, EntityId

Genre = Annotated[str, Field(max_length=GENRE_MAX_CHARS, pattern=NO_NUL)]  # VARCHAR(100)


class MovieBase(BaseModel):
    title: str = Field(min_length=1, max_length=TITLE_MAX_CHARS, pattern=NO_NUL)
    year: int | None = Field(default=None, ge=1800, le=2200)
    genres: list[Genre] = Field(default_factory=list, max_length=30)

    @field_validator("genres")
    @classmethod
    def _clean_genres(cls, value: list[str]) -> list[str]:
        cleaned = sorted({g.strip() for g in value if g.strip()})
        if any(len(g) > GENRE_MAX_CHARS for g in cleaned):
            raise ValueError(f"each genre must be at most {GENRE_MAX_CHARS} characters")
        return cleaned


class MovieCreate(MovieBase):
    model_config = ConfigDict(extra="forbid")

    id: EntityId


class MoviePublic(MovieBase):
    id: int
    n_ratings: int = 0
    mean_rating: float | None = None
