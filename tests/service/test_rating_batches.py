"""Single ratings posted at the same time are written together, and each answer is the
one the rating would have had alone."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from service.db.models import Rating
from tests.scenario import CLIENT


def post(client, user: int, movie: int, rating: float):
    return client.post("/api/ratings", json={"user_id": user, "movie_id": movie, "rating": rating}, headers=CLIENT)


async def stored(app) -> dict[tuple[int, int], float]:
    async with app.state.sessions() as session:
        rows = await session.execute(select(Rating.user_id, Rating.movie_id, Rating.rating).where(Rating.user_id >= 70_000))
        return {(u, m): r for u, m, r in rows}


async def test_concurrent_ratings_share_transactions_and_each_gets_its_own_answer(trained_app):
    app, client = trained_app
    batcher = app.state.rating_batcher
    before = batcher.batches
    responses = await asyncio.gather(*(post(client, 70_000 + k, 1 + k, 1.0 + k % 5) for k in range(40)))
    assert [r.status_code for r in responses] == [201] * 40
    assert batcher.batches - before < 40  # grouped
    for k, response in enumerate(responses):
        body = response.json()
        assert body["rating"] == {**body["rating"], "user_id": 70_000 + k, "movie_id": 1 + k, "rating": 1.0 + k % 5}
        assert body["replaced"] is False and body["fold_in"]["folded_in"]
    assert await stored(app) == {(70_000 + k, 1 + k): 1.0 + k % 5 for k in range(40)}
    # Each user was folded from exactly their own rating: the next list leaves it out.
    listed = (await client.get("/api/ml/recommendations/70003")).json()
    assert listed["strategy"] == "personalized" and 4 not in [i["movie_id"] for i in listed["items"]]


async def test_ratings_of_one_user_at_the_same_time_are_written_one_after_the_other(trained_app):
    app, client = trained_app
    first, second, third = await asyncio.gather(post(client, 70_100, 5, 2.0), post(client, 70_100, 5, 4.0),
                                                post(client, 70_100, 6, 3.0))
    assert [r.status_code for r in (first, second, third)] == [201, 201, 201]
    assert first.json()["replaced"] is False and second.json()["replaced"] is True  # as if posted in turn
    assert (await stored(app)) == {(70_100, 5): 4.0, (70_100, 6): 3.0}
    ratings = (await client.get("/api/users/70100/ratings")).json()
    assert {(r["movie_id"], r["rating"]) for r in ratings} == {(5, 4.0), (6, 3.0)}


async def test_a_bad_rating_among_good_ones_is_refused_alone(trained_app):
    app, client = trained_app
    responses = await asyncio.gather(
        post(client, 70_200, 1, 5.0), post(client, 70_201, 99_999_999, 5.0), post(client, 70_202, 2, 9.5),
        post(client, 70_203, 3, 3.0),
    )
    assert [r.status_code for r in responses] == [201, 404, 422, 201]
    assert responses[1].json()["error"]["field"] == "movie_id"
    assert responses[2].json()["error"]["field"] == "rating"
    assert await stored(app) == {(70_200, 1): 5.0, (70_203, 3): 3.0}
