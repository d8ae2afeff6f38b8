"""Replicas serving from memory stay in step through the change feed, on the real stack:
two uvicorn processes, PostgreSQL, and a Redis of the test's own (so it can be stopped,
emptied and have its connections cut without touching the machine's shared one)."""

from __future__ import annotations

import asyncio
import time

import httpx
import psycopg
import pytest
import redis

from service.serving.feed import COUNTER
from service.testing.stack import launch_stack, private_redis
from tests.conftest import data_dir
from tests.scenario import CLIENT, FAST, train, wait_for_active

pytestmark = pytest.mark.integration

REDIS_DB = 3
BOUND_S = 1.0  # the README's stated bound for a change to reach every replica


@pytest.fixture(scope="module")
def feed_stack(tmp_path_factory):
    folder = tmp_path_factory.mktemp("feed")
    with private_redis(folder) as (redis_base, stop_redis, start_redis), \
            launch_stack(folder, REDIS_DB, data_dir() / "ml-100k", redis_base=redis_base) as stack:
        stack.start_api()
        yield stack, f"{redis_base}/{REDIS_DB}", stop_redis, start_redis


@pytest.fixture
async def replicas(feed_stack):
    stack, redis_url, stop_redis, start_redis = feed_stack
    async with httpx.AsyncClient(base_url=stack.api_urls[0], timeout=30) as a, \
            httpx.AsyncClient(base_url=stack.api_urls[1], timeout=30) as b:
        version = (await a.get("/ready")).json()["active_version"]
        if version is None:
            version = (await train(a, FAST))["model_version"]
        await wait_for_active(a, version)
        await wait_for_active(b, version)
        yield a, b, stack, redis_url, stop_redis, start_redis


async def top_movie(client: httpx.AsyncClient, user: int) -> int:
    return (await client.get(f"/api/ml/recommendations/{user}", params={"n": 10})).json()["items"][0]["movie_id"]


async def recommended(client: httpx.AsyncClient, user: int) -> list[int]:
    return [i["movie_id"] for i in (await client.get(f"/api/ml/recommendations/{user}", params={"n": 10})).json()["items"]]


async def seconds_until_gone(client: httpx.AsyncClient, user: int, movie: int, timeout: float) -> float:
    """How long until ``movie`` leaves the user's list on ``client``; fails past ``timeout``."""
    start = time.monotonic()
    while movie in await recommended(client, user):
        assert time.monotonic() - start < timeout, f"movie {movie} still recommended to user {user} on {client.base_url}"
        await asyncio.sleep(0.01)
    return time.monotonic() - start


async def resyncs(client: httpx.AsyncClient) -> int:
    return (await client.get("/ready")).json()["serving"]["resyncs"]


def write_behind_the_apis_back(stack, user: int, movie: int) -> None:
    """A rating no API process is told about: only a full reload from PostgreSQL shows it."""
    with psycopg.connect(stack.env["DATABASE_URL"], autocommit=True) as conn:
        conn.execute("INSERT INTO ratings (user_id, movie_id, rating, timestamp) VALUES (%s, %s, 1.0, 0)",
                     (user, movie))


async def test_a_rating_through_one_replica_reaches_the_other_within_the_bound(replicas):
    a, b, *_ = replicas
    lags = []
    for user in range(100, 130):
        movie = await top_movie(b, user)
        posted = await a.post("/api/ratings", json={"user_id": user, "movie_id": movie, "rating": 2.0}, headers=CLIENT)
        assert posted.status_code == 201
        assert movie not in await recommended(a, user)  # the writing replica: at once
        lags.append(await seconds_until_gone(b, user, movie, BOUND_S))
    print(f"cross-replica lag over {len(lags)} ratings: max {max(lags) * 1000:.1f} ms")

    created = await a.post("/api/movies", json={"id": 90_001, "title": "Fresh Film", "year": 2026,
                                                 "genres": ["Drama"]}, headers=CLIENT)
    assert created.status_code == 201
    deadline = time.monotonic() + BOUND_S
    while (await b.get("/api/ml/similar/90001")).status_code != 200:
        assert time.monotonic() < deadline, "the new movie never reached the other replica's catalogue"
        await asyncio.sleep(0.01)


async def test_a_gap_in_the_feed_makes_the_replica_reload_everything(replicas):
    a, b, stack, redis_url, *_ = replicas
    hidden_user = 200
    hidden_movie = await top_movie(b, hidden_user)
    write_behind_the_apis_back(stack, hidden_user, hidden_movie)

    # An ordinary change arrives in sequence: B re-reads that user only.
    before = await resyncs(b)
    movie = await top_movie(b, 201)
    await a.post("/api/ratings", json={"user_id": 201, "movie_id": movie, "rating": 3.0}, headers=CLIENT)
    await seconds_until_gone(b, 201, movie, BOUND_S)
    assert await resyncs(b) == before
    assert hidden_movie in await recommended(b, hidden_user)

    # An entry that never arrives (its number is taken, nothing is appended): the next
    # entry shows the gap, and B reloads everything, the unannounced rating included.
    redis.Redis.from_url(redis_url).incr(COUNTER)
    movie = await top_movie(b, 202)
    await a.post("/api/ratings", json={"user_id": 202, "movie_id": movie, "rating": 3.0}, headers=CLIENT)
    await seconds_until_gone(b, hidden_user, hidden_movie, BOUND_S)
    assert await resyncs(b) == before + 1
    await seconds_until_gone(b, 202, movie, BOUND_S)


async def test_a_cut_connection_is_picked_up_where_it_left_off(replicas):
    a, b, _, redis_url, *_ = replicas
    before = await resyncs(b)
    server = redis.Redis.from_url(redis_url)
    for _ in range(3):
        server.client_kill_filter(_type="normal", skipme=True)  # every API's feed connections
        movie = await top_movie(b, 300)
        await a.post("/api/ratings", json={"user_id": 300, "movie_id": movie, "rating": 1.0}, headers=CLIENT)
        await seconds_until_gone(b, 300, movie, 5.0)
    # Nothing was missed, so nothing had to be reloaded: the follower read on from its last entry.
    assert await resyncs(b) == before


async def test_when_redis_restarts_empty_the_replicas_reload_and_no_rating_is_lost(replicas):
    a, b, stack, _, stop_redis, start_redis = replicas
    before = await resyncs(b)
    movie = await top_movie(b, 400)
    stop_redis()
    posted = await a.post("/api/ratings", json={"user_id": 400, "movie_id": movie, "rating": 1.0}, headers=CLIENT)
    assert posted.status_code == 201  # durable in PostgreSQL; the feed is retried
    assert movie not in await recommended(a, 400)
    assert movie in await recommended(b, 400)  # B cannot know yet
    assert not (await b.get("/ready")).json()["serving"]["feed_connected"]
    start_redis()  # empty: the counter starts again from zero
    await seconds_until_gone(b, 400, movie, 10.0)
    assert await resyncs(b) > before
    with psycopg.connect(stack.env["DATABASE_URL"]) as conn:
        assert conn.execute("SELECT rating FROM ratings WHERE user_id = 400 AND movie_id = %s",
                            (movie,)).fetchone() == (1.0,)
    # And the feed works as before once it is back.
    after = await resyncs(b)
    movie = await top_movie(b, 401)
    await a.post("/api/ratings", json={"user_id": 401, "movie_id": movie, "rating": 1.0}, headers=CLIENT)
    await seconds_until_gone(b, 401, movie, BOUND_S)
    assert await resyncs(b) == after


async def test_a_replica_that_starts_later_builds_its_state_from_postgresql(replicas):
    a, _, stack, *_ = replicas
    movie = await top_movie(a, 500)
    await a.post("/api/ratings", json={"user_id": 500, "movie_id": movie, "rating": 1.0}, headers=CLIENT)
    write_behind_the_apis_back(stack, 501, await top_movie(a, 501))
    late = stack.start_api()
    async with httpx.AsyncClient(base_url=late, timeout=30) as c:
        await wait_for_active(c, (await a.get("/ready")).json()["active_version"])
        assert movie not in await recommended(c, 500)
        with psycopg.connect(stack.env["DATABASE_URL"]) as conn:
            hidden = conn.execute("SELECT movie_id FROM ratings WHERE user_id = 501 AND rating = 1.0 "
                                  "AND timestamp = 0").fetchone()[0]
        assert hidden not in await recommended(c, 501)
    stack.stop(stack.processes[-1])
    stack.api_urls.pop()
