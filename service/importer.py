"""Import a MovieLens release (folder, zip, name or URL) into the database.

All or nothing, in bounded memory: one transaction writes the movies, then the ratings
a chunk at a time, each chunk checked against the rules of POST /api/ratings
(import_validation) before it is written; a bad row anywhere rolls everything back and
is reported by file, line and field. A zip is read under the limits of
MAX_IMPORT_UNCOMPRESSED_BYTES and MAX_IMPORT_COMPRESSION_RATIO (zip bombs).

Concurrency: on PostgreSQL an import holds one advisory lock for its whole transaction,
so imports queue instead of deadlocking on each other's rows; one that cannot get the
lock within IMPORT_LOCK_WAIT_SECONDS, or that deadlocks with other writers twice, is a
409 to retry. After the commit the users whose ratings changed are refolded
(import_refold), so what they are served reflects the imported ratings.

Movies already in the catalogue are kept as they are unless ``movies="overwrite"``,
which replaces their title, year and genres with the archive's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Literal, TypeVar

import numpy as np
import pandas as pd
from sqlalchemy import Integer, Table, bindparam, cast, delete, func, literal, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from recsys_core.data import MovieLensDataset, download_movielens
from recsys_core.data.movielens import ArchiveLimitError, MovieLensFormatError, open_movielens
from service.core.config import Settings, get_settings
from service.core.errors import Conflict
from service.db import statements
from service.db.models import Movie, MovieGenre, Rating
from service.db.session import sync_session
from service.services.import_refold import refold_users
from service.services.import_validation import ImportRejected, check_movies, check_ratings

__all__ = ["ImportConflict", "ImportRejected", "ImportTooLarge", "import_archive", "import_dataset", "import_movielens"]

log = logging.getLogger(__name__)

MoviesPolicy = Literal["keep", "overwrite"]
ROWS_PER_STATEMENT = 5_000
RATINGS_PER_CHUNK = 100_000  # read, checked and written at a time: a few MB whatever the archive's size
# Two int4 keys: a space apart from the bigint advisory keys of users and versions.
IMPORT_LOCK = (0x7265_6373, 0x696D_7074)
IMPORT_LOCK_WAIT_SECONDS = 120
DEADLOCK_STATES = {"40P01", "40001"}  # deadlock detected, serialization failure
LOCK_TIMEOUT_STATE = "55P03"
NOT_A_RELEASE = (
    "not a readable MovieLens archive: expected a zip holding u.data + u.item (ml-100k), "
    "ratings.dat + movies.dat (ml-1m, ml-10m) or ratings.csv + movies.csv (ml-latest, ml-20m and later)"
)
T = TypeVar("T")


class ImportTooLarge(ImportRejected):
    """A file in the archive inflates past the import limits (a zip bomb?); nothing was written."""

    status_code = 413
    code = "payload_too_large"


class ImportConflict(Conflict):
    """Another import holds the import lock, or concurrent writes kept deadlocking; retry."""


def resolve_source(source: str, download_dir: Path, base_url: str | None = None) -> Path:
    """A local folder or zip is used as is; a URL or a GroupLens name is downloaded first."""
    path = Path(source)
    if path.exists():
        return path
    if source.startswith(("http://", "https://")) or source.startswith("ml-"):
        kwargs = {"base_url": base_url} if base_url else {}
        return download_movielens(source, download_dir, **kwargs)
    raise FileNotFoundError(f"{source} is neither an existing folder/zip, a URL nor a GroupLens name like ml-100k")


def import_archive(
    archive: Path, settings: Settings | None = None, split: str | None = None, movies: MoviesPolicy = "keep"
) -> dict[str, object]:
    """Import a release from a folder or a zip; with ``split`` (u1..u5, ua, ub) only that
    official split's training part, so its test part stays unseen."""
    settings = settings or get_settings()
    return _once_more_on_deadlock(lambda: _import_release(archive, settings, split, movies))


def import_movielens(
    source: str, download_dir: Path, base_url: str | None = None, split: str | None = None,
    movies: MoviesPolicy = "keep",
) -> dict[str, object]:
    """The CLI's import: a folder, a zip, a URL or a GroupLens name."""
    counts = import_archive(resolve_source(source, download_dir, base_url), get_settings(), split, movies)
    log.info("imported %s", counts)
    return counts


def import_dataset(dataset: MovieLensDataset, movies: MoviesPolicy = "keep") -> dict[str, object]:
    """Import a release already in memory (tests, notebooks), with the same checks."""
    movie_frame = dataset.movies.set_axis(pd.RangeIndex(1, len(dataset.movies) + 1))
    ratings = dataset.ratings[["user_id", "item_id", "rating", "timestamp"]]
    ratings = ratings.set_axis(pd.RangeIndex(1, len(ratings) + 1))
    check_movies(movie_frame, "movies")
    return _once_more_on_deadlock(
        lambda: _store(dataset.name, movie_frame, "movies", iter([ratings]), "ratings", get_settings(), movies)
    )


def _import_release(archive: Path, settings: Settings, split: str | None, policy: MoviesPolicy) -> dict[str, object]:
    limits = {
        "max_uncompressed_bytes": settings.max_import_uncompressed_bytes,
        "max_compression_ratio": settings.max_import_compression_ratio,
    }
    try:
        release = open_movielens(archive, **limits)
    except (ValueError, FileNotFoundError) as exc:
        log.warning("import refused: %s", exc)
        raise ImportRejected(None, NOT_A_RELEASE) from exc
    try:
        with release:
            movies = release.read_movies()
            check_movies(movies, release.movies_file)
            ratings_file = f"{split}.base" if split else release.ratings_file
            try:
                chunks = release.iter_ratings(RATINGS_PER_CHUNK, file=ratings_file)
            except FileNotFoundError as exc:
                raise ImportRejected(
                    None, f"the archive has no {ratings_file} (official splits ship with ml-100k)", field="split"
                ) from exc
            return _store(release.name, movies, release.movies_file, chunks, ratings_file, settings, policy)
    except ArchiveLimitError as exc:
        log.warning("import refused: %s", exc)
        raise ImportTooLarge(exc.file, exc.problem) from exc
    except MovieLensFormatError as exc:
        # The full story (server paths, the parser's own words) stays in the log.
        log.warning("import refused: %s (%r)", exc, exc.__cause__)
        column = _column(exc)
        problem = exc.problem
        if exc.field and column and problem.startswith(exc.field):
            problem = column + problem.removeprefix(exc.field)
        raise ImportRejected(exc.file, problem, line=exc.line, column=column) from exc


def _column(exc: MovieLensFormatError) -> str | None:
    """The API's name for a reader's column: movie_id in a ratings file, id in a movies file."""
    if exc.field == "item_id":
        return "id" if exc.file in ("u.item", "movies.dat", "movies.csv") else "movie_id"
    return exc.field


def _store(
    name: str, movies: pd.DataFrame, movies_file: str, chunks: Iterator[pd.DataFrame], ratings_file: str,
    settings: Settings, policy: MoviesPolicy,
) -> dict[str, object]:
    """Write a checked movies frame and the ratings chunks in one transaction, then refold."""
    now = time.time()
    movie_ids = np.sort(movies["item_id"].to_numpy())
    n_ratings, changed = 0, set()
    with sync_session() as session:
        _lock_imports(session)
        existing, n_genres = _write_movies(session, movies, policy)
        for chunk in chunks:
            check_ratings(chunk, ratings_file, movie_ids, movies_file, settings, now)
            n_ratings += len(chunk)
            changed.update(_write_ratings(session, chunk))
        session.execute(statements.bump_data_generation())
    refolded = refold_users(sorted(changed))
    with sync_session() as session:  # again, so API processes also reload the refolded states
        session.execute(statements.bump_data_generation())
    return {
        "dataset": name,
        "movies": len(movies),
        "existing_movies": existing,
        "movies_policy": policy,
        "genres": n_genres,
        "ratings": n_ratings,
        "users_changed": len(changed),
        "users_refolded": refolded,
    }


def _lock_imports(session: Session) -> None:
    """One import at a time (PostgreSQL), until this transaction ends; SQLite has one
    writer at a time anyway."""
    if session.get_bind().dialect.name != "postgresql":
        return
    session.execute(text(f"SET LOCAL lock_timeout = '{IMPORT_LOCK_WAIT_SECONDS}s'"))
    session.execute(select(func.pg_advisory_xact_lock(*(literal(key, Integer) for key in IMPORT_LOCK))))
    session.execute(text("SET LOCAL lock_timeout TO DEFAULT"))


def _once_more_on_deadlock(run: Callable[[], T]) -> T:
    for attempt in (1, 2):
        try:
            return run()
        except OperationalError as exc:
            state = getattr(exc.orig, "sqlstate", None)
            if state == LOCK_TIMEOUT_STATE:
                raise ImportConflict("another import is running; retry once it has finished") from exc
            if state not in DEADLOCK_STATES:
                raise
            if attempt == 2:
                raise ImportConflict("the import conflicted with concurrent writes twice; retry") from exc
            log.warning("import conflicted with concurrent writes (%s); retrying once", state)
    raise AssertionError("unreachable")


def _insert_for(session: Session, table: Table):
    return (pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert)(table)


def _batches(rows: list[T], size: int = ROWS_PER_STATEMENT) -> Iterable[list[T]]:
    return (rows[start : start + size] for start in range(0, len(rows), size))


def _write_movies(session: Session, movies: pd.DataFrame, policy: MoviesPolicy) -> tuple[int, int]:
    """Insert new movies (and, with ``overwrite``, replace existing ones) in id order.
    Returns how many were already in the catalogue, and the genre rows written."""
    movies = movies.sort_values("item_id")
    ids = movies["item_id"].tolist()
    existing: set[int] = set()
    for batch in _batches(ids):
        existing.update(session.scalars(select(Movie.id).where(Movie.id.in_(batch))))
    if policy == "keep":
        movies = movies[~movies["item_id"].isin(existing)]
    rows = [
        {"id": int(item_id), "title": title, "year": None if pd.isna(year) else int(year)}
        for item_id, title, year in zip(movies["item_id"], movies["title"], movies["year"], strict=True)
    ]
    insert = _insert_for(session, Movie.__table__)
    if policy == "keep":
        statement = insert.on_conflict_do_nothing(index_elements=["id"])
    else:
        statement = insert.on_conflict_do_update(
            index_elements=["id"], set_={"title": insert.excluded.title, "year": insert.excluded.year}
        )
    for batch in _batches(rows):
        session.execute(statement, batch)
    written = [row["id"] for row in rows]
    if policy == "overwrite":
        for batch in _batches(written):
            session.execute(delete(MovieGenre).where(MovieGenre.movie_id.in_(batch)))
    genre_rows = [
        {"movie_id": int(item_id), "genre": genre}
        for item_id, genres in zip(movies["item_id"], movies["genres"], strict=True)
        for genre in sorted(set(genres))
    ]
    genre_insert = _insert_for(session, MovieGenre.__table__).on_conflict_do_nothing()
    for batch in _batches(genre_rows):
        session.execute(genre_insert, batch)
    return len(existing), len(genre_rows)


def _write_ratings(session: Session, chunk: pd.DataFrame) -> set[int]:
    """Upsert one checked chunk in key order (the last of a repeated pair wins); returns
    the users whose stored ratings changed (a rating or timestamp new or different)."""
    frame = chunk.drop_duplicates(["user_id", "item_id"], keep="last").sort_values(["user_id", "item_id"])
    columns = {
        "user_id": frame["user_id"].tolist(),
        "movie_id": frame["item_id"].tolist(),
        "rating": frame["rating"].tolist(),
        "timestamp": frame["timestamp"].tolist(),
    }
    table = Rating.__table__
    if session.get_bind().dialect.name == "postgresql":
        # The chunk as four arrays in one statement: RETURNING over a multi-row VALUES
        # costs more to build and parse than the write itself.
        arrays = func.unnest(
            *(cast(bindparam(name), ARRAY(table.c[name].type)) for name in columns)
        ).table_valued(*columns).render_derived()
        insert = pg_insert(table).from_select(list(columns), select(*(arrays.c[name] for name in columns)))
        return set(session.execute(_changed_only(insert, table), columns).scalars())
    insert = sqlite_insert(table)
    rows = [dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)]
    changed: set[int] = set()
    for batch in _batches(rows):
        changed.update(session.execute(_changed_only(insert, table), batch).scalars())
    return changed


def _changed_only(insert, table: Table):
    return insert.on_conflict_do_update(
        index_elements=["user_id", "movie_id"],
        set_={"rating": insert.excluded.rating, "timestamp": insert.excluded.timestamp},
        where=(table.c.rating != insert.excluded.rating) | (table.c.timestamp != insert.excluded.timestamp),
    ).returning(table.c.user_id)
