"""Readers for the GroupLens MovieLens archives.

:func:`load_movielens` takes a folder or a ``.zip`` archive and recognises the layout
from the files it holds:

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

:func:`open_movielens` reads the same releases in bounded memory: the movies at once
(the largest release has under 100k), the ratings a chunk at a time, each frame indexed
by the line number of its rows in the file (from 1, a header line counted), so a caller
that checks rows can say where a bad one is.

A zip may be hostile. Both entry points take ``max_uncompressed_bytes`` and
``max_compression_ratio``, checked against the sizes a member declares before it is
read and against the bytes it actually inflates while it is read (a header can lie).

Every problem with the content raises :class:`MovieLensFormatError` (a ``ValueError``)
naming the file inside the release, and when known the line and the column.
"""

from __future__ import annotations

import io
import math
import re
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path, PurePosixPath
from typing import IO, Self

import numpy as np
import pandas as pd

__all__ = [
    "RATING_SCALES",
    "ArchiveLimitError",
    "InflateLimits",
    "MovieLensArchive",
    "MovieLensDataset",
    "MovieLensFormatError",
    "load_movielens",
    "open_movielens",
    "rating_scale_of",
]

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
_INT_COLUMNS = ("user_id", "item_id", "timestamp")
_INT64_MAX = int(np.iinfo(np.int64).max)
_INT_TEXT = re.compile(r"\s*[+-]?\d+\s*")

#: Ratings per chunk of :meth:`MovieLensArchive.iter_ratings`: a few MB of frame.
DEFAULT_CHUNK_ROWS = 100_000


class MovieLensFormatError(ValueError):
    """A file of a release is malformed.

    Attributes:
        file: its name inside the release (``"u.data"``), never a path.
        problem: what is wrong, without the file's location.
        line: the line in the file, from 1 with any header line; ``None`` when the
            whole file is at fault.
        field: the frame column at fault (``"rating"``, ``"item_id"``, ``"title"``...).
    """

    def __init__(
        self, file: str, problem: str, *, line: int | None = None, field: str | None = None,
        where: str | None = None,
    ) -> None:
        self.file, self.problem, self.line, self.field = file, problem, line, field
        at = f"line {line}: " if line is not None else ""
        super().__init__(f"{self._headline} {where or file}: {at}{problem}")

    _headline = "malformed MovieLens file"


class ArchiveLimitError(MovieLensFormatError):
    """A zip member inflates past the size or the compression-ratio limit (a zip bomb)."""

    _headline = "refused archive member"


@dataclass(frozen=True)
class InflateLimits:
    """How far one zip member may inflate; ``None`` is no limit."""

    max_bytes: int | None = None
    max_ratio: float | None = None
    # Under this size a member cannot hurt however well it compresses (a small file of
    # repeated lines beats any sane ratio), so the ratio is judged above it only.
    ratio_floor_bytes: int = 1 << 20

    def check(self, file: str, inflated: int, compressed: int, *, declared: bool) -> None:
        verb = "declares" if declared else "inflates to"
        if self.max_bytes is not None and inflated > self.max_bytes:
            raise ArchiveLimitError(
                file, f"{verb} {inflated} bytes uncompressed, over the limit of {self.max_bytes}"
            )
        ratio = inflated / max(compressed, 1)
        if self.max_ratio is not None and inflated > self.ratio_floor_bytes and ratio > self.max_ratio:
            raise ArchiveLimitError(
                file,
                f"{verb} {inflated} bytes from {compressed} compressed ({ratio:.0f}:1), "
                f"over the compression ratio limit of {self.max_ratio:g}:1",
            )


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


class _Inflating(io.RawIOBase):
    """A zip member's stream that counts the bytes it really inflates, since the sizes
    in a zip's headers are only the sender's word."""

    def __init__(self, raw: IO[bytes], file: str, compressed: int, limits: InflateLimits) -> None:
        super().__init__()
        self._raw, self._file, self._compressed, self._limits = raw, file, compressed, limits
        self.inflated = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._raw.read(len(buffer))
        buffer[: len(data)] = data
        self.inflated += len(data)
        self._limits.check(self._file, self.inflated, self._compressed, declared=False)
        return len(data)

    def close(self) -> None:
        self._raw.close()
        super().close()


class _Source:
    """Files of one release, read from a folder or from inside a zip archive."""

    def __init__(self, path: Path, limits: InflateLimits | None = None) -> None:
        self.path = path
        self._limits = limits or InflateLimits()
        self._zip: zipfile.ZipFile | None = None
        self._members: dict[str, str] = {}
        if path.is_dir():
            self.label = path.name
            self._members = {p.name: p.name for p in path.iterdir() if p.is_file()}
        elif path.is_file():
            try:
                self._zip = zipfile.ZipFile(path)
            except (zipfile.BadZipFile, OSError, EOFError) as exc:
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
        self.close()

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()

    @property
    def names(self) -> list[str]:
        return sorted(self._members)

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
        info = self._zip.getinfo(self._members[name])
        self._limits.check(name, info.file_size, info.compress_size, declared=True)
        counted = _Inflating(self._zip.open(info), name, info.compress_size, self._limits)
        return io.BufferedReader(counted, buffer_size=1 << 16)

    def read_bytes(self, name: str) -> bytes:
        try:
            with self.open(name) as fh:
                return fh.read()
        except _DAMAGE as exc:
            raise MovieLensFormatError(name, _problem_of(exc), where=self.where(name)) from exc


# What reading a file can raise besides our own errors: a parse failure, a bad encoding,
# or a damaged zip member (bad CRC, truncated deflate stream).
_DAMAGE = (zipfile.BadZipFile, zlib.error, EOFError)
_PARSE = (
    pd.errors.ParserError, pd.errors.EmptyDataError, ValueError, TypeError, OverflowError, UnicodeDecodeError, *_DAMAGE,
)


def _problem_of(exc: BaseException) -> str:
    """A plain statement of a reading failure; the exception itself stays the cause."""
    if isinstance(exc, _DAMAGE):
        return "the archive's copy is damaged (its data does not match its checksum or size)"
    if isinstance(exc, pd.errors.EmptyDataError):
        return "the file is empty"
    if isinstance(exc, UnicodeDecodeError):
        return "the file is not text in the expected encoding"
    return "the file could not be parsed"


def _read(source: _Source, name: str, reader: Callable[[IO[bytes]], pd.DataFrame]) -> pd.DataFrame:
    """Run a pandas reader on one file, turning failures into an error naming it."""
    try:
        with source.open(name) as fh:
            return reader(fh)
    except MovieLensFormatError:
        raise
    except _PARSE as exc:
        raise MovieLensFormatError(name, _problem_of(exc), where=source.where(name)) from exc


# ---------------------------------------------------------------------------
# Ratings: a chunked typed read; on failure a plain line scan finds where.


@dataclass(frozen=True)
class _RatingsLayout:
    """How one family writes its ratings file. ``read`` yields frames of the four
    rating columns plus ``extra``, true on a line with fields the format does not have."""

    separator: str  # between fields, as written
    header_lines: int
    read: Callable[[IO[bytes], int | None], Iterator[pd.DataFrame]]
    n_fields: int = 4


# Ids and timestamps are read as nullable integers so that an empty line is a row of
# NA (dropped, keeping every later row's line number) rather than a parse error.
_NULLABLE = {"user_id": "Int64", "item_id": "Int64", "rating": np.float64, "timestamp": "Int64"}


def _frames(read: pd.DataFrame | Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    return iter([read]) if isinstance(read, pd.DataFrame) else iter(read)


def _read_tab(fh: IO[bytes], chunksize: int | None) -> Iterator[pd.DataFrame]:
    # One column more than the format has: a line with an extra field fills it instead
    # of silently shifting its fields (pandas would take the first as the index).
    for chunk in _frames(pd.read_csv(
        fh, sep="\t", header=None, names=[*_RATING_COLUMNS, "extra"], dtype={**_NULLABLE, "extra": str},
        engine="c", skip_blank_lines=False, index_col=False, chunksize=chunksize,
    )):
        yield chunk.assign(extra=chunk["extra"].notna())


def _read_dat(fh: IO[bytes], chunksize: int | None) -> Iterator[pd.DataFrame]:
    # The C engine takes one-character separators only; splitting on ':' turns
    # "a::b" into "a", "", "b": the odd columns must stay empty, and two more catch a
    # line with too many fields.
    for chunk in _frames(pd.read_csv(
        fh, sep=":", header=None, names=range(9), engine="c",
        dtype={0: "Int64", 2: "Int64", 4: np.float64, 6: "Int64", **dict.fromkeys((1, 3, 5, 7, 8), str)},
        skip_blank_lines=False, index_col=False, chunksize=chunksize,
    )):
        frame = chunk[[0, 2, 4, 6]].set_axis(_RATING_COLUMNS, axis=1)
        yield frame.assign(extra=chunk[[1, 3, 5, 7, 8]].notna().any(axis=1))


def _read_csv(fh: IO[bytes], chunksize: int | None, width: int = 4) -> Iterator[pd.DataFrame]:
    # Columns after the four are allowed when the header names them. The header is
    # skipped rather than read: pandas wants no more names than it has.
    names = [*_RATING_COLUMNS, *(f"column{i}" for i in range(4, width)), "extra"]
    for chunk in _frames(pd.read_csv(
        fh, header=None, skiprows=1, names=names, dtype={**_NULLABLE, "extra": str}, engine="c",
        skip_blank_lines=False, index_col=False, chunksize=chunksize,
    )):
        yield chunk[_RATING_COLUMNS].assign(extra=chunk["extra"].notna())


_TAB = _RatingsLayout("\t", 0, _read_tab)
_DAT = _RatingsLayout("::", 0, _read_dat)


def _csv_layout(width: int) -> _RatingsLayout:
    return _RatingsLayout(",", 1, partial(_read_csv, width=width), n_fields=width)


def _iter_ratings(
    source: _Source, name: str, layout: _RatingsLayout, chunksize: int | None
) -> Iterator[pd.DataFrame]:
    where = source.where(name)
    rows = 0
    try:
        with source.open(name) as fh:
            for chunk in layout.read(fh, chunksize):
                chunk = _finish_ratings(chunk, name, where, layout.header_lines)
                rows += len(chunk)
                yield chunk
    except MovieLensFormatError:
        raise
    except _PARSE as exc:
        found = _diagnose_ratings(source, name, layout)
        raise found or MovieLensFormatError(name, _problem_of(exc), where=where) from exc
    if rows == 0:
        raise MovieLensFormatError(name, "no ratings", where=where)


def _finish_ratings(frame: pd.DataFrame, name: str, where: str, header_lines: int) -> pd.DataFrame:
    """Index a parsed chunk by line number, drop empty lines, check and cast to the contract."""
    frame.index = frame.index + 1 + header_lines
    extra = frame["extra"].to_numpy(dtype=bool)
    if extra.any():
        line = int(frame.index[np.argmax(extra)])
        raise MovieLensFormatError(name, "has more fields than the format", line=line, where=where)
    frame = frame[_RATING_COLUMNS]
    missing = frame.isna().to_numpy()
    blank = missing.all(axis=1)
    if blank.any():
        frame, missing = frame[~blank], missing[~blank]
    incomplete = missing.any(axis=1)
    if incomplete.any():
        row = int(np.argmax(incomplete))
        column = _RATING_COLUMNS[int(np.argmax(missing[row]))]
        raise MovieLensFormatError(
            name, f"{column} is missing or not a number", line=int(frame.index[row]), field=column, where=where
        )
    return pd.DataFrame(
        {
            "user_id": frame["user_id"].to_numpy(dtype=np.int64),
            "item_id": frame["item_id"].to_numpy(dtype=np.int64),
            "rating": frame["rating"].to_numpy(dtype=np.float64),
            "timestamp": frame["timestamp"].to_numpy(dtype=np.int64),
        },
        index=frame.index,
    )


def _diagnose_ratings(source: _Source, name: str, layout: _RatingsLayout) -> MovieLensFormatError | None:
    """The first line the typed reader could not take, found by a plain scan (only ever
    run after a failure, so its speed does not matter)."""
    where = source.where(name)
    try:
        with source.open(name) as fh:
            for number, raw in enumerate(fh, start=1):
                text = raw.decode("latin-1").rstrip("\r\n")
                if number <= layout.header_lines or not text.strip():
                    continue
                fields = text.split(layout.separator)
                if len(fields) != layout.n_fields:
                    problem = f"has {len(fields)} fields, expected {layout.n_fields}"
                    return MovieLensFormatError(name, problem, line=number, where=where)
                for column, value in zip(_RATING_COLUMNS, fields):  # a CSV may have more columns
                    if problem := _field_problem(column, value):
                        return MovieLensFormatError(name, problem, line=number, field=column, where=where)
    except _DAMAGE as exc:
        return MovieLensFormatError(name, _problem_of(exc), where=where)
    return None


def _field_problem(column: str, value: str) -> str | None:
    shown = repr(value[:40])
    if not value.strip():
        return f"{column} is missing"
    if column in _INT_COLUMNS:
        if not _INT_TEXT.fullmatch(value):
            return f"{column} must be an integer, got {shown}"
        if abs(int(value)) > _INT64_MAX:
            return f"{column} must fit in 64 bits (at most {_INT64_MAX}), got {shown}"
        return None
    try:
        number = float(value)
    except ValueError:
        return f"{column} must be a number, got {shown}"
    return f"{column} is missing or not a number" if math.isnan(number) else None


# ---------------------------------------------------------------------------
# Movies, indexed by line number.


def _parse_ids(texts: pd.Series, name: str, where: str) -> np.ndarray:
    """Integer movie ids from their text, or an error naming the first bad line."""
    stripped = texts.fillna("").astype(str).str.strip()
    ok = np.array(stripped.str.fullmatch(r"[+-]?\d{1,18}"), dtype=bool)
    if not ok.all():  # 19 digits or more may still fit in 64 bits: ask Python, row by row
        long_ok = np.array([bool(_INT_TEXT.fullmatch(v)) and abs(int(v)) <= _INT64_MAX for v in stripped[~ok]])
        ok[~ok] = long_ok
    if not ok.all():
        row = int(np.argmax(~ok))
        line, value = int(texts.index[row]), stripped.iloc[row]
        problem = _field_problem("item_id", value) or f"item_id must be an integer, got {value[:40]!r}"
        raise MovieLensFormatError(name, problem, line=line, field="item_id", where=where)
    return stripped.astype(np.int64).to_numpy()


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


def _movies_frame(item_id: np.ndarray, titles: pd.Series, genres: list[list[str]], lines: pd.Index) -> pd.DataFrame:
    title, year = _split_title_year(titles.reset_index(drop=True))
    return pd.DataFrame(
        {
            "item_id": np.asarray(item_id, dtype=np.int64),
            "title": title.to_numpy(),
            "year": year.to_numpy(),
            "genres": pd.Series(genres, dtype=object).to_numpy(),
        },
        index=pd.Index(np.asarray(lines, dtype=np.int64), name="line"),
    ).astype({"year": "Int64"})


def _without_blank_rows(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[~(frame.fillna("").astype(str) == "").all(axis=1)]


def _decode(data: bytes) -> str:
    """ml-10m ships UTF-8 and ml-1m latin-1; try UTF-8 first, it fails loudly on latin-1."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _read_u_item(source: _Source) -> pd.DataFrame:
    genre_names = _ML100K_GENRES
    if source.has("u.genre"):
        text = source.read_bytes("u.genre").decode("latin-1")
        names = [line.split("|")[0] for line in text.splitlines() if line.strip()]
        if names:
            genre_names = names
    n_fixed, n_genres = 5, len(genre_names)
    where = source.where("u.item")
    items = _read(
        source,
        "u.item",
        lambda fh: pd.read_csv(
            fh, sep="|", header=None, encoding="latin-1", engine="c", names=range(n_fixed + n_genres + 1),
            dtype=str, keep_default_na=False, skip_blank_lines=False, index_col=False,
        ),
    )
    items.index = items.index + 1
    items = _without_blank_rows(items)
    flags = items[list(range(n_fixed, n_fixed + n_genres))].fillna("").apply(lambda s: s.str.strip())
    well_formed = (flags.isin(["0", "1"]).all(axis=1) & items[n_fixed + n_genres].fillna("").eq("")).to_numpy()
    if not well_formed.all():
        line = int(items.index[np.argmax(~well_formed)])
        problem = f"expected id|title|release|video|url and {n_genres} genre flags (0 or 1)"
        raise MovieLensFormatError("u.item", problem, line=line, where=where)
    ids = _parse_ids(items[0], "u.item", where)
    flag_arr = flags.eq("1").to_numpy(dtype=bool)
    keep = [j for j, g in enumerate(genre_names) if g.lower() != "unknown"]
    names_arr = np.array(genre_names, dtype=object)
    genres = [list(names_arr[keep][row[keep]]) for row in flag_arr]
    return _movies_frame(ids, items[1], genres, items.index)


def _read_movies_dat(source: _Source) -> pd.DataFrame:
    where = source.where("movies.dat")
    lines, rows = [], []
    for number, line in enumerate(_decode(source.read_bytes("movies.dat")).split("\n"), start=1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        parts = line.split("::")
        if len(parts) != 3:
            raise MovieLensFormatError("movies.dat", "is not MovieID::Title::Genres", line=number, where=where)
        lines.append(number)
        rows.append(parts)
    ids = _parse_ids(pd.Series([r[0] for r in rows], index=lines, dtype=object), "movies.dat", where)
    titles = pd.Series([r[1] for r in rows], dtype=object)
    return _movies_frame(ids, titles, _parse_genres(pd.Series([r[2] for r in rows])), pd.Index(lines))


def _read_movies_csv(source: _Source) -> pd.DataFrame:
    where = source.where("movies.csv")
    raw = _read(
        source,
        "movies.csv",
        lambda fh: pd.read_csv(
            fh, engine="c", encoding="utf-8", dtype=str, keep_default_na=False, skip_blank_lines=False,
            index_col=False,
        ),
    )
    if list(raw.columns[:3]) != ["movieId", "title", "genres"]:
        raise MovieLensFormatError(
            "movies.csv", f"header is {list(raw.columns)}, expected ['movieId', 'title', 'genres']", field="header",
            where=where,
        )
    raw.index = raw.index + 2
    raw = _without_blank_rows(raw)
    ids = _parse_ids(raw["movieId"], "movies.csv", where)
    return _movies_frame(ids, raw["title"], _parse_genres(raw["genres"]), raw.index)


def _csv_header(source: _Source) -> int:
    """Check the ratings.csv header; returns its number of columns."""
    expected = ["userId", "movieId", "rating", "timestamp"]
    header = _read(source, "ratings.csv", lambda fh: pd.read_csv(fh, nrows=0, engine="c"))
    if list(header.columns[:4]) != expected:
        raise MovieLensFormatError(
            "ratings.csv", f"header is {list(header.columns)}, expected {expected}", field="header",
            where=source.where("ratings.csv"),
        )
    return len(header.columns)


# ---------------------------------------------------------------------------
# Entry points.


def _canonical(label: str) -> str:
    label = label.lower()
    return _NAME_ALIASES.get(label, label)


@dataclass
class MovieLensArchive:
    """An opened release; see :func:`open_movielens`.

    Attributes:
        name: canonical release name (as in :class:`MovieLensDataset`).
        rating_scale: ``(lowest, highest)`` possible rating of the release.
        movies_file / ratings_file: the names of its two files (``u.item``, ``u.data``).
    """

    name: str
    rating_scale: tuple[float, float]
    movies_file: str
    ratings_file: str
    _source: _Source = field(repr=False)
    _layout: _RatingsLayout | None = field(repr=False)  # None: the CSV family, set by its header

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self._source.close()

    def read_movies(self) -> pd.DataFrame:
        """The movies frame, indexed by each movie's line in the movies file."""
        reader = {"u.item": _read_u_item, "movies.dat": _read_movies_dat, "movies.csv": _read_movies_csv}
        return reader[self.movies_file](self._source)

    def iter_ratings(self, chunksize: int | None = DEFAULT_CHUNK_ROWS, file: str | None = None) -> Iterator[pd.DataFrame]:
        """Ratings frames of at most ``chunksize`` rows (all at once for ``None``), each
        indexed by the line numbers of its rows; empty lines are skipped.

        ``file`` reads another file of the same layout instead of the ratings file
        (ml-100k's official splits, ``u1.base``).

        Raises:
            FileNotFoundError: ``file`` is not in the release.
            MovieLensFormatError: a line is malformed (raised when its chunk is read).
        """
        name = file or self.ratings_file
        if not self._source.has(name):
            raise FileNotFoundError(f"{name} is not in the release (it holds {self._source.names})")
        layout = self._layout
        if layout is None:
            layout = _csv_layout(_csv_header(self._source))
        return _iter_ratings(self._source, name, layout, chunksize)


def open_movielens(
    path: str | Path, *, max_uncompressed_bytes: int | None = None, max_compression_ratio: float | None = None
) -> MovieLensArchive:
    """Open a release (folder or zip) to read its movies, then its ratings in chunks.

    The layout and the name are recognised as by :func:`load_movielens`. The limits
    apply to each zip member read (folders are read as they are): a member that
    declares or inflates more than ``max_uncompressed_bytes``, or more than
    ``max_compression_ratio`` times its compressed size (members over 1 MiB), raises
    :class:`ArchiveLimitError` before or while it is read. Use as a context manager.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: not a zip, or not a recognised MovieLens layout.
    """
    path = Path(path)
    limits = InflateLimits(max_bytes=max_uncompressed_bytes, max_ratio=max_compression_ratio)
    source = _Source(path, limits)
    try:
        label = _canonical(source.label)
        if source.has("u.data") and source.has("u.item"):
            return MovieLensArchive("ml-100k", RATING_SCALES["ml-100k"], "u.item", "u.data", source, _TAB)
        if source.has("ratings.dat") and source.has("movies.dat"):
            if label in ("ml-1m", "ml-10m"):
                name = label
            else:
                name = "ml-1m" if source.has("users.dat") else "ml-10m"
            return MovieLensArchive(name, RATING_SCALES[name], "movies.dat", "ratings.dat", source, _DAT)
        if source.has("ratings.csv") and source.has("movies.csv"):
            family = label in RATING_SCALES and label not in ("ml-100k", "ml-1m", "ml-10m")
            name = label if family else "ml-latest"
            return MovieLensArchive(name, RATING_SCALES[name], "movies.csv", "ratings.csv", source, None)
    except BaseException:
        source.close()
        raise
    source.close()
    raise ValueError(
        f"{path} is not a recognised MovieLens release: expected u.data + u.item "
        "(ml-100k), ratings.dat + movies.dat (ml-1m, ml-10m) or ratings.csv + "
        f"movies.csv (ml-latest, ml-20m, ml-25m, ml-32m); found {source.names}"
    )


def load_movielens(
    path: str | Path, *, max_uncompressed_bytes: int | None = None, max_compression_ratio: float | None = None
) -> MovieLensDataset:
    """Load a MovieLens release from a folder or a GroupLens ``.zip`` archive.

    The layout is recognised from the files present (``u.data`` + ``u.item``;
    ``ratings.dat`` + ``movies.dat``; ``ratings.csv`` + ``movies.csv``). A zip may
    hold its files under one top folder (``ml-100k/u.data``) or at its root.

    The release name comes from the folder (or the archive's top folder, or its
    file name) when it is a known GroupLens name; otherwise it is inferred:
    ``ml-1m`` when ``users.dat`` is present next to ``ratings.dat``, ``ml-10m``
    otherwise, and ``ml-latest`` for the CSV family. The limits are those of
    :func:`open_movielens`.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the layout is not a MovieLens one, or a file is malformed
            (:class:`MovieLensFormatError`, naming the file).
    """
    with open_movielens(
        path, max_uncompressed_bytes=max_uncompressed_bytes, max_compression_ratio=max_compression_ratio
    ) as archive:
        ratings = pd.concat(list(archive.iter_ratings(chunksize=None)))
        movies = archive.read_movies()
    return MovieLensDataset(
        name=archive.name,
        ratings=ratings.reset_index(drop=True),
        movies=movies.reset_index(drop=True),
        rating_scale=archive.rating_scale,
    )


def _read_official_split_file(folder: Path, name: str) -> pd.DataFrame:
    """Read one ml-100k split file (``u1.base`` ...), used by :mod:`.splits`."""
    with _Source(folder) as source:
        if not source.has(name):
            raise FileNotFoundError(name)
        return pd.concat(list(_iter_ratings(source, name, _TAB, None))).reset_index(drop=True)
