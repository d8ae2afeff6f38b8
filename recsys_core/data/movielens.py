"""Readers for the GroupLens MovieLens archives.

One entry point, :func:`load_movielens`, takes a folder or a ``.zip`` archive
and recognises the layout from the files it holds:

========================  ======================================  ============
family                    files                                   scale
========================  ======================================  ============
ml-100k                   ``u.data`` (tab), ``u.item`` (pipe)     1 – 5
ml-1m                     ``ratings.dat``, ``movies.dat`` (``::``)  1 – 5
ml-10m (``ml-10M100K``)   ``ratings.dat``, ``movies.dat`` (``::``)  0.5 – 5
ml-latest(-small), ml-20m/25m/32m  ``ratings.csv``, ``movies.csv``  0.5 – 5
========================  ======================================  ============

Every reader returns the same two frames (see ``docs/recsys_core.md``):
ratings ``user_id, item_id, rating (float64), timestamp (int64)`` and movies
``item_id, title (year stripped), year (Int64), genres (list[str])``.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Self

import numpy as np
import pandas as pd

__all__ = ["RATING_SCALES", "MovieLensDataset", "load_movielens", "rating_scale_of"]

#: Rating scale of each known release.
RATING_SCALES: dict[str, tuple[float, float]] = {
    "ml-100k": (1.0, 5.0),
    "ml-1m": (1.0, 5.0),
    "ml-10m": (0.5, 5.0),
    "ml-20m": (0.5, 5.0),
    "ml-25m": (0.5, 5.0),
    "ml-32m": (0.5, 5.0),
    "ml-latest": (0.5, 5.0),
    "ml-latest-small": (0.5, 5.0),
}

# Folder / archive names as GroupLens ships them, mapped to the canonical name.
_NAME_ALIASES = {"ml-10m100k": "ml-10m"}

# ml-100k's u.genre, used when the file is absent.
_ML100K_GENRES = [
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
]

# "Title (1995)", "Title (1995) ", "Title (2007-2013)", "Title (1995) (V)"; the
# year is the last parenthesised four digits at the end of the title (a video
# release marker "(V)" after it is dropped with it).
_TITLE_YEAR = r"^(?P<title>.*?)\s*\((?P<year>\d{4})(?:[-\u2013]\d{0,4})?\)(?:\s*\(V\))?\s*$"

_RATING_COLUMNS = ["user_id", "item_id", "rating", "timestamp"]


@dataclass(frozen=True)
class MovieLensDataset:
    """A loaded MovieLens release.

    Attributes:
        name: canonical release name (``"ml-100k"``, ``"ml-1m"``, ``"ml-10m"``,
            ``"ml-latest-small"``, ``"ml-25m"``, ...).
        ratings: ``user_id, item_id, rating (float64), timestamp (int64)``.
        movies: ``item_id, title, year (Int64), genres (list[str])``.
        rating_scale: ``(lowest, highest)`` possible rating of the release.
    """

    name: str
    ratings: pd.DataFrame
    movies: pd.DataFrame
    rating_scale: tuple[float, float]

    @property
    def n_users(self) -> int:
        return int(self.ratings["user_id"].nunique())

    @property
    def n_items(self) -> int:
        return int(self.movies["item_id"].nunique())


def rating_scale_of(ratings: pd.DataFrame | pd.Series | np.ndarray) -> tuple[float, float]:
    """``(min, max)`` of the observed ratings, a fallback when the scale is unknown.

    Raises:
        ValueError: when there are no ratings or some are not finite.
    """
    values = ratings["rating"] if isinstance(ratings, pd.DataFrame) else ratings
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0:
        raise ValueError("cannot infer a rating scale from zero ratings")
    if not np.isfinite(arr).all():
        raise ValueError("ratings contain NaN or infinite values")
    return float(arr.min()), float(arr.max())


# ---------------------------------------------------------------------------
# Sources: a folder or a zip archive, seen as a flat set of file names.


class _Source:
    """Files of one release, read from a folder or from inside a zip archive."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._zip: zipfile.ZipFile | None = None
        self._members: dict[str, str] = {}
        if path.is_dir():
            self.label = path.name
            self._members = {p.name: p.name for p in path.iterdir() if p.is_file()}
        elif path.is_file():
            try:
                self._zip = zipfile.ZipFile(path)
            except zipfile.BadZipFile as exc:
                raise ValueError(f"{path} is neither a folder nor a readable zip archive") from exc
            members = [m for m in self._zip.namelist() if not m.endswith("/")]
            # GroupLens archives hold one top folder (``ml-100k/u.data``); accept
            # files at the root too. Files deeper than one folder are ignored.
            tops = {PurePosixPath(m).parts[0] for m in members if len(PurePosixPath(m).parts) == 2}
            self.label = tops.pop() if len(tops) == 1 else path.stem
            for m in members:
                parts = PurePosixPath(m).parts
                if len(parts) <= 2 and not parts[-1].startswith("._"):
                    self._members.setdefault(parts[-1], m)
        else:
            raise FileNotFoundError(f"no MovieLens folder or archive at {path}")

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._zip is not None:
            self._zip.close()

    def has(self, name: str) -> bool:
        return name in self._members

    def where(self, name: str) -> str:
        """Human-readable location of one file, for error messages."""
        if self._zip is None:
            return str(self.path / name)
        return f"{self.path}!{self._members[name]}"

    def open(self, name: str) -> IO[bytes]:
        if self._zip is None:
            return open(self.path / self._members[name], "rb")
        return self._zip.open(self._members[name])

    def read_bytes(self, name: str) -> bytes:
        with self.open(name) as fh:
            return fh.read()


def _read(source: _Source, name: str, reader: Callable[[IO[bytes]], pd.DataFrame]) -> pd.DataFrame:
    """Run a pandas reader on one file, turning parse failures into a ValueError naming it."""
    try:
        with source.open(name) as fh:
            return reader(fh)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"malformed MovieLens file {source.where(name)}: {exc}") from exc


# ---------------------------------------------------------------------------
# Frame helpers shared by the readers.


def _finish_ratings(frame: pd.DataFrame, where: str) -> pd.DataFrame:
    """Check and cast a parsed ratings frame to the contract's dtypes."""
    if frame.empty:
        raise ValueError(f"malformed MovieLens file {where}: no ratings")
    if frame[_RATING_COLUMNS].isna().to_numpy().any():
        bad = int(np.flatnonzero(frame[_RATING_COLUMNS].isna().to_numpy().any(axis=1))[0])
        raise ValueError(
            f"malformed MovieLens file {where}: row {bad + 1} has a missing or non-numeric field"
        )
    try:
        out = pd.DataFrame(
            {
                "user_id": frame["user_id"].astype(np.int64),
                "item_id": frame["item_id"].astype(np.int64),
                "rating": frame["rating"].astype(np.float64),
                "timestamp": frame["timestamp"].astype(np.int64),
            }
        )
    except (TypeError, ValueError) as exc:
        raise ValueError(f"malformed MovieLens file {where}: {exc}") from exc
    return out


def _split_title_year(titles: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Strip a trailing ``(YYYY)`` from each title; return ``(title, year)``."""
    titles = titles.fillna("").astype(str)
    parts = titles.str.extract(_TITLE_YEAR)
    has_year = parts["year"].notna()
    title = titles.str.strip().where(~has_year, parts["title"].str.strip())
    year = pd.to_numeric(parts["year"], errors="coerce").astype("Int64")
    return title.astype(str), year


def _parse_genres(genres: pd.Series) -> list[list[str]]:
    """``"A|B"`` -> ``["A", "B"]``; ``"(no genres listed)"`` or empty -> ``[]``."""
    out = []
    for value in genres.fillna("").astype(str):
        value = value.strip()
        if not value or value == "(no genres listed)":
            out.append([])
        else:
            out.append([g for g in value.split("|") if g])
    return out


def _movies_frame(item_id: pd.Series, titles: pd.Series, genres: list[list[str]]) -> pd.DataFrame:
    title, year = _split_title_year(titles)
    return pd.DataFrame(
        {
            "item_id": item_id.astype(np.int64).to_numpy(),
            "title": title.to_numpy(),
            "year": year.to_numpy(),
            "genres": pd.Series(genres, dtype=object).to_numpy(),
        }
    ).astype({"year": "Int64"})


def _decode(data: bytes) -> str:
    """ml-10m ships UTF-8 and ml-1m latin-1; try UTF-8 first, it fails loudly on latin-1."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


# ---------------------------------------------------------------------------
# Readers, one per family.


def _read_tab_ratings(source: _Source, name: str) -> pd.DataFrame:
    """ml-100k's ``u.data`` / ``uN.base`` / ``uN.test``: user, item, rating, timestamp (tabs)."""
    frame = _read(
        source,
        name,
        lambda fh: pd.read_csv(
            fh,
            sep="\t",
            header=None,
            names=_RATING_COLUMNS,
            engine="c",
            dtype={
                "user_id": np.int64,
                "item_id": np.int64,
                "rating": np.float64,
                "timestamp": np.int64,
            },
        ),
    )
    return _finish_ratings(frame, source.where(name))


def _load_100k(source: _Source) -> tuple[pd.DataFrame, pd.DataFrame]:
    ratings = _read_tab_ratings(source, "u.data")
    genre_names = _ML100K_GENRES
    if source.has("u.genre"):
        text = source.read_bytes("u.genre").decode("latin-1")
        names = [line.split("|")[0] for line in text.splitlines() if line.strip()]
        if names:
            genre_names = names
    n_fixed = 5
    items = _read(
        source,
        "u.item",
        lambda fh: pd.read_csv(
            fh,
            sep="|",
            header=None,
            encoding="latin-1",
            engine="c",
            names=range(n_fixed + len(genre_names)),
            dtype={1: str},
        ),
    )
    where = source.where("u.item")
    flag_cols = list(range(n_fixed, n_fixed + len(genre_names)))
    flags = items[flag_cols]
    if items[0].isna().any() or flags.isna().to_numpy().any():
        raise ValueError(
            f"malformed MovieLens file {where}: expected id|title|release|video|url and "
            f"{len(genre_names)} genre flags on every line"
        )
    flag_arr = flags.to_numpy(dtype=np.int8)
    keep = [j for j, g in enumerate(genre_names) if g.lower() != "unknown"]
    names_arr = np.array(genre_names, dtype=object)
    genres = [list(names_arr[keep][row[keep].astype(bool)]) for row in flag_arr]
    movies = _movies_frame(items[0], items[1], genres)
    return ratings, movies


def _load_dat(source: _Source) -> tuple[pd.DataFrame, pd.DataFrame]:
    """ml-1m and ml-10m: ``::``-separated ``ratings.dat`` and ``movies.dat``."""
    # The C engine takes one-character separators only; splitting on ':' turns
    # "a::b" into "a", "", "b" and the empty columns are dropped by usecols.
    ratings = _read(
        source,
        "ratings.dat",
        lambda fh: pd.read_csv(
            fh,
            sep=":",
            header=None,
            usecols=[0, 2, 4, 6],
            names=range(7),
            engine="c",
            dtype={0: np.int64, 2: np.int64, 4: np.float64, 6: np.int64},
        ).set_axis(_RATING_COLUMNS, axis=1),
    )
    ratings = _finish_ratings(ratings, source.where("ratings.dat"))

    where = source.where("movies.dat")
    text = _decode(source.read_bytes("movies.dat"))
    rows = [line.split("::") for line in text.splitlines() if line.strip()]
    bad = next((i for i, r in enumerate(rows) if len(r) != 3), None)
    if bad is not None:
        raise ValueError(
            f"malformed MovieLens file {where}: line {bad + 1} is not MovieID::Title::Genres"
        )
    ids = pd.Series([r[0] for r in rows])
    try:
        ids = ids.astype(np.int64)
    except ValueError as exc:
        raise ValueError(f"malformed MovieLens file {where}: non-integer MovieID ({exc})") from exc
    titles = pd.Series([r[1] for r in rows], dtype=object)
    movies = _movies_frame(ids, titles, _parse_genres(pd.Series([r[2] for r in rows])))
    return ratings, movies


def _load_csv(source: _Source) -> tuple[pd.DataFrame, pd.DataFrame]:
    """ml-latest(-small), ml-20m, ml-25m, ml-32m: ``ratings.csv`` and ``movies.csv``."""
    raw = _read(
        source,
        "ratings.csv",
        lambda fh: pd.read_csv(
            fh,
            engine="c",
            dtype={
                "userId": np.int64,
                "movieId": np.int64,
                "rating": np.float64,
                "timestamp": np.int64,
            },
        ),
    )
    expected = ["userId", "movieId", "rating", "timestamp"]
    if list(raw.columns[:4]) != expected:
        raise ValueError(
            f"malformed MovieLens file {source.where('ratings.csv')}: header is "
            f"{list(raw.columns)}, expected {expected}"
        )
    ratings = _finish_ratings(
        raw.set_axis(_RATING_COLUMNS + list(raw.columns[4:]), axis=1),
        source.where("ratings.csv"),
    )
    raw_movies = _read(
        source,
        "movies.csv",
        lambda fh: pd.read_csv(
            fh,
            engine="c",
            encoding="utf-8",
            dtype={"title": str, "genres": str},
            keep_default_na=False,
        ),
    )
    if list(raw_movies.columns[:3]) != ["movieId", "title", "genres"]:
        raise ValueError(
            f"malformed MovieLens file {source.where('movies.csv')}: header is "
            f"{list(raw_movies.columns)}, expected ['movieId', 'title', 'genres']"
        )
    try:
        ids = pd.to_numeric(raw_movies["movieId"], errors="raise").astype(np.int64)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"malformed MovieLens file {source.where('movies.csv')}: non-integer movieId"
        ) from exc
    movies = _movies_frame(ids, raw_movies["title"], _parse_genres(raw_movies["genres"]))
    return ratings, movies


def _canonical(label: str) -> str:
    label = label.lower()
    return _NAME_ALIASES.get(label, label)


def load_movielens(path: str | Path) -> MovieLensDataset:
    """Load a MovieLens release from a folder or a GroupLens ``.zip`` archive.

    The layout is recognised from the files present (``u.data`` + ``u.item``;
    ``ratings.dat`` + ``movies.dat``; ``ratings.csv`` + ``movies.csv``). A zip may
    hold its files under one top folder (``ml-100k/u.data``) or at its root.

    The release name comes from the folder (or the archive's top folder, or its
    file name) when it is a known GroupLens name; otherwise it is inferred:
    ``ml-1m`` when ``users.dat`` is present next to ``ratings.dat``, ``ml-10m``
    otherwise, and ``ml-latest`` for the CSV family.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the layout is not a MovieLens one, or a file is malformed
            (the message names the file).
    """
    path = Path(path)
    with _Source(path) as source:
        label = _canonical(source.label)
        if source.has("u.data") and source.has("u.item"):
            name = "ml-100k"
            ratings, movies = _load_100k(source)
        elif source.has("ratings.dat") and source.has("movies.dat"):
            if label in ("ml-1m", "ml-10m"):
                name = label
            else:
                name = "ml-1m" if source.has("users.dat") else "ml-10m"
            ratings, movies = _load_dat(source)
        elif source.has("ratings.csv") and source.has("movies.csv"):
            name = (
                label
                if label in RATING_SCALES and label not in ("ml-100k", "ml-1m", "ml-10m")
                else "ml-latest"
            )
            ratings, movies = _load_csv(source)
        else:
            raise ValueError(
                f"{path} is not a recognised MovieLens release: expected u.data + u.item "
                "(ml-100k), ratings.dat + movies.dat (ml-1m, ml-10m) or ratings.csv + "
                f"movies.csv (ml-latest, ml-20m, ml-25m, ml-32m); found {sorted(source._members)}"
            )
    return MovieLensDataset(
        name=name, ratings=ratings, movies=movies, rating_scale=RATING_SCALES[name]
    )


def _read_official_split_file(folder: Path, name: str) -> pd.DataFrame:
    """Read one ml-100k split file (``u1.base`` ...), used by :mod:`.splits`."""
    with _Source(folder) as source:
        if not source.has(name):
            raise FileNotFoundError(name)
        return _read_tab_ratings(source, name)
