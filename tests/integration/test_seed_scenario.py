"""The seed scenario over HTTP against live uvicorn, PostgreSQL, Redis and a Celery worker."""

from __future__ import annotations

import httpx
import pytest

from tests.scenario import CLIENT, seed_scenario

pytestmark = pytest.mark.integration


async def test_seed_scenario_on_the_real_stack(stack):
    async with httpx.AsyncClient(base_url=stack.api_urls[0], timeout=30) as client:
        ready = (await client.get("/ready")).json()
        assert ready["database"] and ready["broker"], ready
        await seed_scenario(client)


async def test_rating_round_trip_on_the_real_stack(stack):
    async with httpx.AsyncClient(base_url=stack.api_urls[0], timeout=30) as client:
        posted = await client.post("/api/ratings", json={"user_id": 100_001, "movie_id": 1, "rating": 4.5}, headers=CLIENT)
        assert posted.status_code == 201, posted.text
        stored = (await client.get("/api/users/100001/ratings")).json()
        assert [(r["movie_id"], r["rating"]) for r in stored] == [(1, 4.5)]
