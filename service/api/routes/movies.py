from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, status
from sqlalchemy.ext.asyncio import AsyncSession

from service.api.deps import (
    ClientKey,
    KeyFirstRoute,
    ReaderKey,
    ReadSessionDep,
    ServingDep,
    SessionDep,
)
from service.api.openapi import named_examples, response_example
from service.api.params import MovieId
from service.core.errors import Conflict, NotFound
from service.db.hooks import after_commit
from service.schemas import examples
from service.schemas.common import NO_NUL, Page
from service.schemas.movies import MovieCreate, MoviePublic
from service.services import catalog

router = APIRouter(prefix="/api/movies", tags=["movies"], route_class=KeyFirstRoute)


@router.get(
    "", response_model=Page[MoviePublic], dependencies=[ReaderKey], summary="Search the movie catalogue",
    responses={200: response_example(examples.MOVIES_PAGE)},
)
async def list_movies(
    session: ReadSessionDep,
    serving: ServingDep,
    search: Annotated[str | None, Query(
        max_length=200, pattern=NO_NUL, description="Part of the title, in any case.",
        openapi_examples={"star": {"summary": "Titles with 'star'", "value": "star"}},
    )] = None,
    genre: Annotated[str | None, Query(
        max_length=100, pattern=NO_NUL, description="Only movies of this genre, in any case.",
        openapi_examples={"sci-fi": {"summary": "Science fiction", "value": "Sci-Fi"}},
    )] = None,
    page: Annotated[int, Query(ge=1, le=100_000, description="The page to show, from 1.")] = 1,
    page_size: Annotated[int, Query(ge=1, le=catalog.MAX_PAGE_SIZE, description="Movies per page.")] = 20,
) -> Page[MoviePublic]:
    """Search the catalogue by title substring and genre, a page at a time."""
    if genre:
        await catalog.refuse_unknown_genres(serving.catalogue, [genre], field="genre", session=session)
    movies, total = await catalog.search_movies(session, search=search, genre=genre, page=page, page_size=page_size)
    return Page(data=movies, count=total, page=page, page_size=page_size)


@router.get(
    "/{movie_id}", response_model=MoviePublic, dependencies=[ReaderKey], summary="Get a movie",
    responses={200: response_example(examples.STAR_WARS), **NotFound.openapi()},
)
async def get_movie(movie_id: MovieId, session: ReadSessionDep) -> MoviePublic:
    """One movie with its rating count and mean."""
    return await catalog.get_movie(session, movie_id)


@router.post(
    "",
    response_model=MoviePublic,
    status_code=status.HTTP_201_CREATED,
    dependencies=[ClientKey],
    summary="Add a movie",
    responses={201: response_example(examples.NEW_MOVIE_CREATED), **Conflict.openapi()},
)
async def create_movie(
    body: Annotated[MovieCreate, Body(openapi_examples=named_examples(
        matrix=("A movie newer than ml-100k", examples.NEW_MOVIE),
    ))],
    session: SessionDep,
    serving: ServingDep,
) -> MoviePublic:
    """Add a movie to the catalogue; an id already there is a 409. It can be rated at once;
    until a model is trained with it, its similar movies are those sharing its genres."""
    movie = await catalog.create_movie(session, body)

    async def serve_it(_: AsyncSession) -> None:
        await serving.movies_written([movie])

    after_commit(session, serve_it)
    return movie
