from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class ImportResult(BaseModel):
    dataset: str = Field(description="The release recognised: ml-100k, ml-1m, ml-latest, ...")
    movies: int = Field(description="Movies in the archive.")
    existing_movies: int = Field(description="Of those, movies already in the catalogue (kept or overwritten).")
    movies_policy: Literal["keep", "overwrite"] = Field(description="What was done with movies already there.")
    genres: int = Field(description="Genre rows written (for the movies added or overwritten).")
    ratings: int = Field(description="Rating lines read; a (user, movie) pair given twice is stored once, the last wins.")
    users_changed: int = Field(description="Users with a rating added or changed by the import.")
    users_refolded: int = Field(description="Of those, users re-solved against the active model (0 without one).")
