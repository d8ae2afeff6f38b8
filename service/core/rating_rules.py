"""The rules every stored rating and movie obeys, whichever way it arrives: one rating,
a batch, or an imported archive. Each check returns what is wrong, or None."""

from __future__ import annotations

import math
import time

# Timestamps are Unix seconds. Nothing is rated before 1970, and a clock a little ahead
# is tolerated; anything further out is a bad value, and it breaks date arithmetic later
# (Python's datetime ends at year 9999).
TIMESTAMP_MIN = 0
FUTURE_SLACK_SECONDS = 86_400

TITLE_MAX_CHARS = 500  # movies.title is VARCHAR(500)
GENRE_MAX_CHARS = 100  # movie_genres.genre is VARCHAR(100)
GENRES_PER_MOVIE_MAX = 30


def latest_timestamp(now: float | None = None) -> int:
    return int(time.time() if now is None else now) + FUTURE_SLACK_SECONDS


def rating_problem(value: float, rating_min: float, rating_max: float) -> str | None:
    if not math.isfinite(value):
        return f"rating must be a finite number, got {value}"
    if not rating_min <= value <= rating_max:
        return f"rating must be between {rating_min} and {rating_max}, got {value}"
    return None


def timestamp_problem(value: int, now: float | None = None) -> str | None:
    latest = latest_timestamp(now)
    if not TIMESTAMP_MIN <= value <= latest:
        return (
            f"timestamp must be Unix seconds from {TIMESTAMP_MIN} (1970) to {latest} "
            f"(at most a day ahead of now), got {value}"
        )
    return None


def text_problem(value: str, what: str, max_chars: int) -> str | None:
    if "\x00" in value:
        return f"{what} must not contain a NUL character"
    if len(value) > max_chars:
        return f"{what} must be at most {max_chars} characters, got {len(value)}"
    return None
