from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from sqlalchemy.ext.asyncio import AsyncSession

from service.api.deps import (
    ClientKey,
    KeyFirstRoute,
    ReaderKey,
    ReadSessionDep,
    ServingDep,
    SessionDep,
)
from service.api.params import MovieId
from service.core.errors import Conflict, NotFound
from service.db.hooks import after_commit
from service.schemas.common import NO_NUL, Page
from service.schemas.movies import MovieCreate, MoviePublic
from service.services import catalog

router = APIRouter(prefix="/api/movies", tags=["movies"], route_class=KeyFirstRoute)


@router.get("", response_model=Page[MoviePublic], dependencies=[ReaderKey])
async def list_movies(
    session: ReadSessionDep,
    search: Annotated[str | None, Query(max_length=200, pattern=NO_NUL)] = None,
    genre: Annotated[str | None, Query(max_length=100, pattern=NO_NUL)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=catalog.MAX_PAGE_SIZE)] = 20,
) -> Page[MoviePublic]:
    """Search the catalogue by title substring and genre, a page at a time."""
    movies, total = await catalog.search_movies(session, search=search, genre=genre, page=page, page_size=page_size)
    return Page(data=movies, count=total, page=page, page_size=page_size)


@router.get("/{movie_id}", response_model=MoviePublic, dependencies=[ReaderKey], responses=NotFound.openapi())
async def get_movie(movie_id: MovieId, session: ReadSessionDep) -> MoviePublic:
    """One movie with its rating count and mean."""
    return await catalog.get_movie(session, movie_id)


@router.post(
    "",
    response_model=MoviePublic,
    status_code=status.HTTP_201_CREATED,
    dependencies=[ClientKey],
    responses=Conflict.openapi(),
)
async def create_movie(body: MovieCreate, session: SessionDep, serving: ServingDep) -> MoviePublic:
    """Add a movie to the catalogue."""
    movie = await catalog.create_movie(session, body)

    async def serve_it(_: AsyncSession) -> None:
        await serving.movies_written([movie])

    after_commit(session, serve_it)
    return movie
