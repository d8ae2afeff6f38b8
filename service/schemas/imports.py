from __future__ import annotations

from pydantic import BaseModel


class ImportResult(BaseModel):
    dataset: str
    movies: int
    genres: int
    ratings: int
