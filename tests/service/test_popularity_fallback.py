"""The popularity fallback through the API, against a small case worked by hand: the
damped mean ``(n * mean + m * global_mean) / (n + m)`` with ``m = POPULARITY_DAMPING``,
its order, its scores, the rated movies left out, and the ``?genres=`` filter."""

from __future__ import annotations

import pytest

from tests.scenario import CLIENT

pytestmark = pytest.mark.every_database  # the movie totals behind the damped means are read from the database

DAMPING = 4  # not the default 10, so a table that ignores the setting is caught
NEW_USER = 1000

# id: (title, genres, ratings); users 1, 2, ... give a movie's ratings in that order.
MOVIES = {
    1: ("One Perfect Vote", ["Drama"], [5.0]),
    2: ("Crowd Favourite", ["Comedy", "Drama"], [4.5] * 8),
    3: ("Panned", ["Comedy"], [2.0] * 4),
    4: ("Small Cult Hit", ["Sci-Fi"], [5.0, 4.0]),
    5: ("Middling", ["Comedy"], [3.0] * 5),
}

# 20 ratings summing to 5 + 36 + 8 + 9 + 15 = 73: global mean 73/20 = 3.65, and
# m * global_mean = 4 * 3.65 = 14.6. Each movie's damped mean (sum + 14.6) / (n + 4):
#   2: (36 + 14.6) / 12 = 253/60 = 4.21667   (raw mean 4.5 over 8 ratings)
#   4: ( 9 + 14.6) /  6 =  59/15 = 3.93333   (raw mean 4.5 over 2)
#   1: ( 5 + 14.6) /  5 =  98/25 = 3.92      (raw mean 5.0 over 1: the highest, yet third)
#   5: (15 + 14.6) /  9 = 148/45 = 3.28889
#   3: ( 8 + 14.6) /  8 = 113/40 = 2.825
# By raw mean the order would be 1, 2 = 4, 5, 3; with the default m = 10 the scores
# would be 4.02778, 3.79167, 3.77273, 3.43333, 3.17857.
DAMPED = {2: 253 / 60, 4: 59 / 15, 1: 98 / 25, 5: 148 / 45, 3: 113 / 40}
ORDER = [2, 4, 1, 5, 3]


@pytest.fixture
def settings_env(settings_env, monkeypatch):
    """The conftest's database, served with POPULARITY_DAMPING = 4."""
    from service.core.config import get_settings

    monkeypatch.setenv("POPULARITY_DAMPING", str(DAMPING))
    get_settings.cache_clear()
    return settings_env


async def fallback(client, user_id: int, **params) -> dict:
    response = await client.get(f"/api/ml/recommendations/{user_id}", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def ranked(body: dict) -> list[tuple[int, float]]:
    return [(item["movie_id"], item["score"]) for item in body["items"]]


def expected(order: list[int]) -> list[tuple[int, object]]:
    return [(m, pytest.approx(DAMPED[m], abs=1e-9)) for m in order]


@pytest.fixture
async def catalogue(client, app):
    assert app.state.settings.popularity_damping == DAMPING
    for movie_id, (title, genres, _) in MOVIES.items():
        created = await client.post("/api/movies", json={"id": movie_id, "title": title, "genres": genres},
                                    headers=CLIENT)
        assert created.status_code == 201, created.text
    batch = [
        {"user_id": user, "movie_id": movie_id, "rating": rating}
        for movie_id, (_, _, ratings) in MOVIES.items()
        for user, rating in enumerate(ratings, start=1)
    ]
    assert len(batch) == 20
    written = await client.post("/api/ratings/batch", json={"ratings": batch}, headers=CLIENT)
    assert written.status_code == 201, written.text
    return app


async def test_a_new_user_gets_the_damped_mean_order_worked_by_hand(client, catalogue):
    # No request has built the table yet, so the first one builds it from the writes above.
    cold = await fallback(client, NEW_USER, n=10)
    assert cold["strategy"] == "popularity_fallback" and cold["model_version"] is None
    assert ranked(cold) == expected(ORDER)
    assert [item["title"] for item in cold["items"]] == [MOVIES[m][0] for m in ORDER]
    assert [item["predicted_rating"] for item in cold["items"]] == [None] * 5

    # The same table rebuilt from the stored rows, as a restarted process would.
    await catalogue.state.serving.reload()
    assert ranked(await fallback(client, NEW_USER, n=10)) == expected(ORDER)
    assert ranked(await fallback(client, NEW_USER, n=2)) == expected([2, 4])

    explained = await fallback(client, NEW_USER, n=1, explain=True)
    assert explained["items"][0]["explanation"].startswith("Popular and well rated (damped mean 4.22)")


async def test_the_fallback_leaves_out_what_the_user_rated(client, catalogue):
    # User 3 rated movies 2, 3 and 5; with no model active they get the table without them.
    body = await fallback(client, 3, n=10)
    assert body["strategy"] == "popularity_fallback"
    assert ranked(body) == expected([4, 1])


async def test_the_genres_filter_keeps_the_order_within_those_genres(client, catalogue):
    comedy = await fallback(client, NEW_USER, n=10, genres="Comedy")
    assert comedy["strategy"] == "genre_fallback" and comedy["model_version"] is None
    assert ranked(comedy) == expected([2, 5, 3])

    either = await fallback(client, NEW_USER, n=10, genres="sci-fi, Drama")  # any of them, any case
    assert ranked(either) == expected([2, 4, 1])
    assert ranked(await fallback(client, NEW_USER, n=2, genres="Sci-Fi,Drama")) == expected([2, 4])

    unknown = await client.get(f"/api/ml/recommendations/{NEW_USER}", params={"genres": "Western"})
    assert unknown.status_code == 422 and unknown.json()["error"]["field"] == "genres"
