"""Movies: create, look up, search, and the per-movie rating aggregates."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.core.errors import Conflict, InvalidInput, NotFound
from service.db.models import Movie, MovieGenre, Rating
from service.schemas.movies import MovieCreate, MoviePublic
from service.serving.catalogue import Catalogue

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


async def refuse_unknown_genres(
    catalogue: Catalogue, wanted: list[str], field: str, session: AsyncSession | None = None
) -> None:
    """A misspelt genre is refused with the known ones listed, rather than matching nothing.

    With a session, a genre this process has not heard of yet (a movie added through another
    replica a moment ago) is looked up in the database before it is refused.
    """
    unknown = catalogue.unknown_genres(wanted)
    if unknown and session is not None:
        rows = await session.scalars(select(MovieGenre.genre).distinct())
        in_database = {g.lower() for g in rows}
        unknown = [g for g in unknown if g.lower() not in in_database]
    if unknown:
        names = ", ".join(repr(g) for g in unknown)
        raise InvalidInput(f"unknown genre {names}; known genres: {', '.join(catalogue.genres())}", field=field)


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
    return (await _with_stats(session, [movie]))[0]


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
    return await _with_stats(session, movies), total


async def _with_stats(session: AsyncSession, movies: Sequence[Movie]) -> list[MoviePublic]:
    """Movies with their genres, rating count and mean: a list shows what a single lookup does."""
    ids = [m.id for m in movies]
    genres = await genres_of(session, ids)
    rows = await session.execute(
        select(Rating.movie_id, func.count(), func.avg(Rating.rating))
        .where(Rating.movie_id.in_(ids))
        .group_by(Rating.movie_id)
    ) if ids else []
    stats: dict[int, tuple[int, float | None]] = {movie_id: (int(n), float(mean)) for movie_id, n, mean in rows}
    public = []
    for m in movies:
        n_ratings, mean_rating = stats.get(m.id, (0, None))
        public.append(MoviePublic(
            id=m.id, title=m.title, year=m.year, genres=genres.get(m.id, []), n_ratings=n_ratings, mean_rating=mean_rating,
        ))
    return public
