"""The rules of service.core.rating_rules applied to whole frames of an imported archive.

Each check is a numpy mask built from the same constants as the scalar rule; only the
first bad row is handed to the scalar rule, so an import's message is word for word
the one POST /api/ratings or POST /api/movies gives for the same value.

Frames come from recsys_core's MovieLens reader, indexed by line number in their file.
A problem is reported as message ``"<file> line <n>: <problem>"`` and field
``"<file>:<n>:<column>"``, with the column named as in the API's own schemas (user_id,
movie_id, rating, timestamp for ratings; id, title, genres for movies).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from service.core.config import Settings
from service.core.errors import InvalidInput
from service.core.rating_rules import (
    GENRE_MAX_CHARS,
    GENRES_PER_MOVIE_MAX,
    TIMESTAMP_MIN,
    TITLE_MAX_CHARS,
    latest_timestamp,
    rating_problem,
    text_problem,
    timestamp_problem,
)
from service.schemas.common import MAX_ID


class ImportRejected(InvalidInput):
    """The archive breaks a rule (or is not a MovieLens release); nothing was written."""

    def __init__(
        self, file: str | None, problem: str, *, line: int | None = None, column: str | None = None,
        field: str = "body",
    ) -> None:
        if file is None:  # the archive as a whole (or a parameter, named by ``field``)
            super().__init__(problem, field=field)
            return
        where = f"{file} line {line}" if line is not None else file
        field = ":".join(str(part) for part in (file, line, column) if part is not None)
        super().__init__(f"{where}: {problem}", field=field)


def id_problem(value: int, what: str) -> str | None:
    if not 1 <= value <= MAX_ID:
        return f"{what} must be an integer from 1 to {MAX_ID}, got {value}"
    return None


# One rule over a frame: the column it is about, a mask of the rows breaking it, and
# the message for one such row (by position).
Rule = tuple[str, np.ndarray, Callable[[int], str | None]]


def _first_broken(frame: pd.DataFrame, file: str, rules: list[Rule]) -> None:
    broken = np.zeros(len(frame), dtype=bool)
    for _, mask, _ in rules:
        broken |= mask
    if not broken.any():
        return
    row = int(np.argmax(broken))
    column, _, problem = next(rule for rule in rules if rule[1][row])
    line = int(frame.index[row])
    raise ImportRejected(file, problem(row) or f"{column} is invalid", line=line, column=column)


def check_ratings(
    frame: pd.DataFrame, file: str, movie_ids: np.ndarray, movies_file: str, settings: Settings, now: float
) -> None:
    """Ratings as POST /api/ratings takes them, for movies of the archive's movies file
    (``movie_ids`` sorted). Raises ImportRejected naming the first bad row."""
    users = frame["user_id"].to_numpy()
    items = frame["item_id"].to_numpy()
    ratings = frame["rating"].to_numpy()
    stamps = frame["timestamp"].to_numpy()
    lo, hi = settings.rating_min, settings.rating_max
    position = np.searchsorted(movie_ids, items).clip(max=max(len(movie_ids) - 1, 0))
    unknown = movie_ids[position] != items if len(movie_ids) else np.ones(len(items), dtype=bool)
    rules: list[Rule] = [
        ("user_id", users < 1, lambda row: id_problem(int(users[row]), "user_id")),
        ("movie_id", items < 1, lambda row: id_problem(int(items[row]), "movie_id")),
        ("movie_id", unknown, lambda row: f"movie {int(items[row])} is not in {movies_file}"),
        (
            "rating",
            ~np.isfinite(ratings) | (ratings < lo) | (ratings > hi),
            lambda row: rating_problem(float(ratings[row]), lo, hi),
        ),
        (
            "timestamp",
            (stamps < TIMESTAMP_MIN) | (stamps > latest_timestamp(now)),
            lambda row: timestamp_problem(int(stamps[row]), now),
        ),
    ]
    _first_broken(frame, file, rules)


def check_movies(frame: pd.DataFrame, file: str) -> None:
    """Movies as POST /api/movies takes them: ids in range and listed once, titles and
    genres within their columns and free of NUL."""
    ids = frame["item_id"].to_numpy()
    titles = frame["title"].astype(str)
    title_lengths = titles.str.len().to_numpy()
    title_nul = titles.str.contains("\x00", regex=False).to_numpy(dtype=bool)
    genres = frame["genres"]
    per_movie = genres.map(len).to_numpy()
    exploded = genres.explode().dropna().astype(str)
    positions = pd.Series(np.arange(len(frame)), index=frame.index)
    bad_genre = exploded[exploded.str.contains("\x00", regex=False) | (exploded.str.len() > GENRE_MAX_CHARS)]
    genre_rows = np.zeros(len(frame), dtype=bool)
    genre_rows[positions.loc[bad_genre.index.unique()].to_numpy()] = True
    duplicate = pd.Series(ids).duplicated().to_numpy()

    def first_listed(row: int) -> str:
        first = int(frame.index[int(np.argmax(ids == ids[row]))])
        return f"id {int(ids[row])} is listed twice in {file} (first on line {first})"

    def genre_problem(row: int) -> str | None:
        for genre in genres.iloc[row]:
            if problem := text_problem(str(genre), "genre", GENRE_MAX_CHARS):
                return problem
        return None

    rules: list[Rule] = [
        ("id", ids < 1, lambda row: id_problem(int(ids[row]), "id")),
        ("id", duplicate, first_listed),
        (
            "title",
            title_nul | (title_lengths > TITLE_MAX_CHARS),
            lambda row: text_problem(titles.iloc[row], "title", TITLE_MAX_CHARS),
        ),
        ("genres", genre_rows, genre_problem),
        (
            "genres",
            per_movie > GENRES_PER_MOVIE_MAX,
            lambda row: f"a movie has at most {GENRES_PER_MOVIE_MAX} genres, got {int(per_movie[row])}",
        ),
    ]
    _first_broken(frame, file, rules)
