"""Import a MovieLens dataset (folder, zip, name or URL) into the database in one transaction."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import pandas as pd
from sqlalchemy import Table, delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from recsys_core.data import (
    MovieLensDataset,
    download_movielens,
    load_movielens,
    official_movielens_split,
)
from service.db.models import Movie, MovieGenre, Rating
from service.db.session import sync_session

log = logging.getLogger(__name__)

CHUNK = 5_000


def resolve_source(source: str, download_dir: Path, base_url: str | None = None) -> Path:
    """A local folder or zip is used as is; a URL or a GroupLens name is downloaded first."""
    path = Path(source)
    if path.exists():
        return path
    if source.startswith(("http://", "https://")) or source.startswith("ml-"):
        kwargs = {"base_url": base_url} if base_url else {}
        return download_movielens(source, download_dir, **kwargs)
    raise FileNotFoundError(f"{source} is neither an existing folder/zip, a URL nor a GroupLens name like ml-100k")


class ImportRejected(ValueError):
    """The archive is not a readable MovieLens release; nothing was written."""


def import_archive(archive: Path, split: str | None = None) -> dict[str, object]:
    """Read an uploaded archive completely, then write it in one transaction."""
    try:
        dataset = load_movielens(archive)
        if split is not None:
            dataset = replace(dataset, ratings=official_movielens_split(archive, split).train)
        _require_integer_ids(dataset.ratings, dataset.movies)
    except Exception as exc:  # any failure to parse means the upload is unusable
        raise ImportRejected(f"not a readable MovieLens archive: {type(exc).__name__}: {exc}") from exc
    return {"dataset": dataset.name, **import_dataset(dataset)}


def import_dataset(dataset: MovieLensDataset) -> dict[str, int]:
    """Upsert movies, genres and ratings. All or nothing: a failure leaves the database as it was."""
    movies = dataset.movies
    ratings = dataset.ratings
    _require_integer_ids(ratings, movies)
    with sync_session() as session:
        _upsert(session, Movie.__table__, _movie_rows(movies), ["id"], ["title", "year"])
        movie_ids = [int(i) for i in movies["item_id"]]
        for start in range(0, len(movie_ids), CHUNK):
            session.execute(delete(MovieGenre).where(MovieGenre.movie_id.in_(movie_ids[start : start + CHUNK])))
        genre_rows = [
            {"movie_id": int(item_id), "genre": genre}
            for item_id, genres in zip(movies["item_id"], movies["genres"], strict=True)
            for genre in sorted(set(genres))
        ]
        _insert(session, MovieGenre.__table__, genre_rows)
        rating_rows = pd.DataFrame(
            {
                "user_id": ratings["user_id"].astype("int64"),
                "movie_id": ratings["item_id"].astype("int64"),
                "rating": ratings["rating"].astype("float64"),
                "timestamp": ratings["timestamp"].astype("int64"),
            }
        ).drop_duplicates(["user_id", "movie_id"], keep="last")
        _upsert(session, Rating.__table__, rating_rows.to_dict("records"), ["user_id", "movie_id"], ["rating", "timestamp"])
    return {"movies": len(movies), "genres": len(genre_rows), "ratings": len(rating_rows)}


def _require_integer_ids(ratings: pd.DataFrame, movies: pd.DataFrame) -> None:
    for frame, column in ((ratings, "user_id"), (ratings, "item_id"), (movies, "item_id")):
        if not pd.api.types.is_integer_dtype(frame[column]):
            raise ValueError(f"the service stores integer ids; column {column} is {frame[column].dtype}")
    unknown = set(ratings["item_id"].unique()) - set(movies["item_id"])
    if unknown:
        raise ValueError(f"{len(unknown)} rated movie ids are missing from the movies file, e.g. {sorted(unknown)[:5]}")


def _movie_rows(movies: pd.DataFrame) -> list[dict[str, object]]:
    return [
        {"id": int(item_id), "title": str(title)[:500], "year": None if pd.isna(year) else int(year)}
        for item_id, title, year in zip(movies["item_id"], movies["title"], movies["year"], strict=True)
    ]


def _insert_for(session: Session):
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def _insert(session: Session, table: Table, rows: list[dict[str, object]]) -> None:
    for start in range(0, len(rows), CHUNK):
        session.execute(table.insert(), rows[start : start + CHUNK])


def _upsert(session: Session, table: Table, rows: list[dict[str, object]], keys: list[str], updates: list[str]) -> None:
    insert = _insert_for(session)
    for start in range(0, len(rows), CHUNK):
        statement = insert(table)
        statement = statement.on_conflict_do_update(
            index_elements=keys, set_={name: statement.excluded[name] for name in updates}
        )
        session.execute(statement, rows[start : start + CHUNK])


def import_movielens(
    source: str, download_dir: Path, base_url: str | None = None, split: str | None = None
) -> dict[str, int]:
    """Import a release; with ``split`` (u1..u5, ua, ub) only that split's training part,
    so its test part stays unseen for an honest evaluation of the service."""
    path = resolve_source(source, download_dir, base_url)
    dataset = load_movielens(path)
    if split is not None:
        dataset = replace(dataset, ratings=official_movielens_split(path, split).train)
    counts = import_dataset(dataset)
    log.info("imported %s: %s", dataset.name, counts)
    return counts
