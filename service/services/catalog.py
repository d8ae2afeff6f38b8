"""Movies: create, look up, search, and the per-movie rating aggregates."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.core.errors import Conflict, NotFound
from service.db.models import Movie, MovieGenre, Rating
from service.schemas.movies import MovieCreate, MoviePublic

MAX_PAGE_SIZE = 100


async def genres_of(session: AsyncSession, movie_ids: Iterable[int]) -> dict[int, list[str]]:
    ids = list(movie_ids)
    if not ids:
        return {}
    rows = await session.execute(
        select(MovieGenre.movie_id, MovieGenre.genre).where(MovieGenre.movie_id.in_(ids))
    )
    genres: dict[int, list[str]] = defaultdict(list)
    for movie_id, genre in rows:
        genres[movie_id].append(genre)
    return {movie_id: sorted(g) for movie_id, g in genres.items()}


async def movies_by_id(session: AsyncSession, movie_ids: Iterable[int]) -> dict[int, MoviePublic]:
    ids = list(dict.fromkeys(movie_ids))
    if not ids:
        return {}
    movies = (await session.scalars(select(Movie).where(Movie.id.in_(ids)))).all()
    genres = await genres_of(session, ids)
    return {
        m.id: MoviePublic(id=m.id, title=m.title, year=m.year, genres=genres.get(m.id, []))
        for m in movies
    }


async def get_movie(session: AsyncSession, movie_id: int) -> MoviePublic:
    movie = await session.get(Movie, movie_id)
    if movie is None:
        raise NotFound(f"movie {movie_id} not found", field="movie_id")
    stats = (
        await session.execute(
            select(func.count(), func.avg(Rating.rating)).where(Rating.movie_id == movie_id)
        )
    ).one()
    genres = await genres_of(session, [movie_id])
    return MoviePublic(
        id=movie.id,
        title=movie.title,
        year=movie.year,
        genres=genres.get(movie_id, []),
        n_ratings=int(stats[0]),
        mean_rating=float(stats[1]) if stats[1] is not None else None,
    )


async def create_movie(session: AsyncSession, payload: MovieCreate) -> MoviePublic:
    if await session.get(Movie, payload.id) is not None:
        raise Conflict(f"movie {payload.id} already exists", field="id")
    session.add(Movie(id=payload.id, title=payload.title, year=payload.year))
    session.add_all(MovieGenre(movie_id=payload.id, genre=g) for g in payload.genres)
    await session.flush()
    return MoviePublic(id=payload.id, title=payload.title, year=payload.year, genres=payload.genres)


async def search_movies(
    session: AsyncSession, *, search: str | None, genre: str | None, page: int, page_size: int
) -> tuple[list[MoviePublic], int]:
    query = select(Movie)
    if search:
        escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(Movie.title.ilike(f"%{escaped}%", escape="\\"))
    if genre:
        query = query.where(
            Movie.id.in_(select(MovieGenre.movie_id).where(func.lower(MovieGenre.genre) == genre.lower()))
        )
    total = int((await session.scalar(select(func.count()).select_from(query.subquery()))) or 0)
    movies = (
        await session.scalars(query.order_by(Movie.id).offset((page - 1) * page_size).limit(page_size))
    ).all()
    genres = await genres_of(session, [m.id for m in movies])
    return (
        [MoviePublic(id=m.id, title=m.title, year=m.year, genres=genres.get(m.id, [])) for m in movies],
        total,
    )
