"""Path and query parameters shared by several routers, bounded to what the columns hold."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

from service.schemas.common import MAX_ID, MAX_VERSION, NO_NUL

UserId = Annotated[int, Path(ge=1, le=MAX_ID)]
MovieId = Annotated[int, Path(ge=1, le=MAX_ID)]
Version = Annotated[int, Path(ge=1, le=MAX_VERSION)]
JobId = Annotated[str, Path(max_length=36, pattern=NO_NUL)]
