"""The movie catalogue in memory: titles, years and genres by id, and a genre index.

Filled from the database at start and kept in step by the change feed, so a read never
asks the database for a movie. A movie this process has not heard of yet (created
through another replica a moment ago) is simply not in it; writers that must know
(a rating of that movie) ask the database on a miss.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable

import numpy as np

from service.schemas.movies import MoviePublic

_generations = itertools.count(1)  # process-wide: a reloaded catalogue never repeats a generation


class Catalogue:
    def __init__(self, movies: Iterable[MoviePublic] = ()) -> None:
        self._movies: dict[int, MoviePublic] = {}
        self._by_genre: defaultdict[str, set[int]] = defaultdict(set)
        self._genre_names: dict[str, str] = {}  # lower case -> as first written
        self.generation = next(_generations)  # moves on every change: what is derived from it knows to rebuild
        self.put(movies)

    def put(self, movies: Iterable[MoviePublic]) -> None:
        changed = False
        for movie in movies:
            changed = True
            if (old := self._movies.get(movie.id)) is not None:
                for genre in old.genres:
                    self._by_genre[genre.lower()].discard(movie.id)
            self._movies[movie.id] = movie
            for genre in movie.genres:
                self._by_genre[genre.lower()].add(movie.id)
                self._genre_names.setdefault(genre.lower(), genre)
        if changed:
            self.generation = next(_generations)

    def get(self, movie_id: int) -> MoviePublic | None:
        return self._movies.get(movie_id)

    def get_many(self, movie_ids: Iterable[int]) -> dict[int, MoviePublic]:
        movies = self._movies
        return {m: movies[m] for m in movie_ids if m in movies}

    def known(self, movie_ids: Iterable[int]) -> set[int]:
        return {m for m in movie_ids if m in self._movies}

    def in_genres(self, genres: Iterable[str]) -> set[int]:
        """Movies with any of these genres (case-insensitive)."""
        found: set[int] = set()
        for genre in genres:
            found |= self._by_genre.get(genre.lower(), set())
        return found

    def genres(self) -> list[str]:
        """Every genre some movie has, sorted."""
        return sorted(name for key, name in self._genre_names.items() if self._by_genre[key])

    def unknown_genres(self, genres: Iterable[str]) -> list[str]:
        return [g for g in genres if not self._by_genre.get(g.lower())]

    def ids(self) -> np.ndarray:
        return np.fromiter(self._movies, np.int64, len(self._movies))

    def __len__(self) -> int:
        return len(self._movies)
