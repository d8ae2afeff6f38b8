from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from service.core.rating_rules import GENRE_MAX_CHARS, TITLE_MAX_CHARS
from service.schemas.common import NO_NUL, EntityId

Genre = Annotated[str, Field(max_length=GENRE_MAX_CHARS, pattern=NO_NUL)]  # VARCHAR(100)


class MovieBase(BaseModel):
    title: str = Field(
        min_length=1, max_length=TITLE_MAX_CHARS, pattern=NO_NUL,
        description='The title; the MovieLens import moves a trailing "(1977)" into `year`.',
    )
    year: int | None = Field(default=None, ge=1800, le=2200, description="Release year, if known.")
    genres: list[Genre] = Field(
        default_factory=list, max_length=30,
        description='Genre names such as "Sci-Fi"; stored trimmed, without duplicates, in alphabetical order.',
    )

    @field_validator("genres")
    @classmethod
    def _clean_genres(cls, value: list[str]) -> list[str]:
        cleaned = sorted({g.strip() for g in value if g.strip()})
        if any(len(g) > GENRE_MAX_CHARS for g in cleaned):
            raise ValueError(f"each genre must be at most {GENRE_MAX_CHARS} characters")
        return cleaned


class MovieCreate(MovieBase):
    model_config = ConfigDict(extra="forbid")

    id: EntityId = Field(description="The movie's id, chosen by the caller (the MovieLens movieId).")


class MoviePublic(MovieBase):
    id: int = Field(description="The movie's id (the MovieLens movieId).")
    n_ratings: int = Field(default=0, description="Ratings the movie has.")
    mean_rating: float | None = Field(default=None, description="Mean of those ratings; null without any.")
