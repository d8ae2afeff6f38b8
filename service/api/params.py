"""Path and query parameters shared by several routers, bounded to what the columns hold."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

from service.schemas.common import MAX_ID, MAX_VERSION, NO_NUL
from service.schemas.examples import MF_JOB_ID

# openapi_examples rather than examples: Swagger UI fills "Try it out" from the former only.
UserId = Annotated[int, Path(
    ge=1, le=MAX_ID, description="The user's id (the MovieLens userId).",
    openapi_examples={"196": {"summary": "User 196 of ml-100k", "value": 196}},
)]
MovieId = Annotated[int, Path(
    ge=1, le=MAX_ID, description="The movie's id (the MovieLens movieId).",
    openapi_examples={"50": {"summary": "Star Wars (1977)", "value": 50}},
)]
Version = Annotated[int, Path(
    ge=1, le=MAX_VERSION, description="A model version number, as GET /api/ml/models lists them.",
    openapi_examples={"3": {"summary": "Version 3", "value": 3}},
)]
JobId = Annotated[str, Path(
    max_length=36, pattern=NO_NUL, description="A training job's id, as POST /api/ml/train answers it.",
    openapi_examples={"job": {"summary": "A training job", "value": MF_JOB_ID}},
)]
