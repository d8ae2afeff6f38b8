from __future__ import annotations

import pytest

from tests.scenario import CLIENT


@pytest.fixture
async def movies(client):
    for movie_id in (1, 2, 3):
        response = await client.post("/api/movies", json={"id": movie_id, "title": f"Movie {movie_id}"}, headers=CLIENT)
        assert response.status_code == 201


async def test_rating_is_stored_and_a_rerating_replaces_it(client, movies):
    first = await client.post("/api/ratings", json={"user_id": 7, "movie_id": 1, "rating": 4.0, "timestamp": 10}, headers=CLIENT)
    assert first.status_code == 201, first.text
    assert first.json()["replaced"] is False
    second = await client.post("/api/ratings", json={"user_id": 7, "movie_id": 1, "rating": 2.5, "timestamp": 20}, headers=CLIENT)
    assert second.json()["replaced"] is True
    stored = (await client.get("/api/users/7/ratings")).json()
    assert stored == [{"user_id": 7, "movie_id": 1, "rating": 2.5, "timestamp": 20}]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"user_id": 1, "movie_id": 1, "rating": 5.5}, "rating"),
        ({"user_id": 1, "movie_id": 1, "rating": 0.0}, "rating"),
        ({"user_id": 1, "movie_id": 1, "rating": "NaN"}, "rating"),
        ({"user_id": 1, "movie_id": 1, "rating": "Infinity"}, "rating"),
        ({"user_id": 1, "movie_id": 1, "rating": "four"}, "rating"),
        ({"user_id": 0, "movie_id": 1, "rating": 3}, "user_id"),
        ({"user_id": 2**70, "movie_id": 1, "rating": 3}, "user_id"),
        ({"movie_id": 1, "rating": 3}, "user_id"),
        ({"user_id": 1, "movie_id": 1, "rating": 3, "extra": 1}, "extra"),
    ],
)
async def test_invalid_rating_gets_422_naming_the_field(client, movies, body, field):
    response = await client.post("/api/ratings", json=body, headers=CLIENT)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field
    assert (await client.get("/api/users/1/ratings")).json() == []


async def test_unknown_movie_is_404(client, movies):
    response = await client.post("/api/ratings", json={"user_id": 1, "movie_id": 99, "rating": 3}, headers=CLIENT)
    assert response.status_code == 404 and response.json()["error"]["field"] == "movie_id"


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (b'{"user_id": 1,', "Expecting property name enclosed in double quotes at line 1, column 15"),
        (b'{"user_id": 1,\n "movie_id": 2, "rating": }', "Expecting value at line 2, column 27"),
        ('{"user_id": "Amélie", \n x'.encode(), "at line 2, column 2"),  # columns count characters, not bytes
        (b"nope", "Expecting value at line 1, column 1"),
    ],
)
async def test_malformed_json_says_where_it_broke_in_words(client, body, where):
    response = await client.post("/api/ratings", content=body, headers={**CLIENT, "content-type": "application/json"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_json" and error["field"] == "body"
    assert error["message"].startswith("the body is not valid JSON: ") and error["message"].endswith(where), error


async def test_batch_is_all_or_nothing(client, movies):
    good = {"user_id": 3, "movie_id": 1, "rating": 4}
    bad = {"user_id": 3, "movie_id": 2, "rating": 9}
    response = await client.post("/api/ratings/batch", json={"ratings": [good, bad]}, headers=CLIENT)
    assert response.status_code == 422 and response.json()["error"]["field"] == "ratings[1].rating"
    assert (await client.get("/api/users/3/ratings")).json() == []

    unknown = await client.post("/api/ratings/batch", json={"ratings": [good, {**good, "movie_id": 42}]}, headers=CLIENT)
    assert unknown.status_code == 404 and unknown.json()["error"]["field"] == "ratings[1].movie_id"
    assert (await client.get("/api/users/3/ratings")).json() == []


async def test_batch_keeps_the_last_of_duplicate_pairs(client, movies):
    batch = [
        {"user_id": 3, "movie_id": 1, "rating": 1, "timestamp": 1},
        {"user_id": 3, "movie_id": 2, "rating": 2, "timestamp": 2},
        {"user_id": 3, "movie_id": 1, "rating": 5, "timestamp": 3},
    ]
    response = await client.post("/api/ratings/batch", json={"ratings": batch}, headers=CLIENT)
    assert response.status_code == 201 and response.json()["count"] == 2
    stored = {r["movie_id"]: r["rating"] for r in (await client.get("/api/users/3/ratings")).json()}
    assert stored == {1: 5.0, 2: 2.0}


async def test_delete_rating(client, movies):
    await client.post("/api/ratings", json={"user_id": 4, "movie_id": 1, "rating": 3}, headers=CLIENT)
    assert (await client.delete("/api/ratings/4/1", headers=CLIENT)).status_code == 200
    assert (await client.get("/api/users/4/ratings")).json() == []
    again = await client.delete("/api/ratings/4/1", headers=CLIENT)
    assert again.status_code == 404
