"""Training uses the configured rating scale, never the data's extremes: a stray rating
once stretched a version's scale to (-5, 99) and its predictions followed."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import select

from recsys_core.model import MatrixFactorization
from service.db.models import ModelArtifact
from service.db.session import sync_session
from tests.scenario import ADMIN, CLIENT, FAST, train


@pytest.fixture
def ten_point_scale(monkeypatch) -> None:
    monkeypatch.setenv("RATING_MIN", "1")
    monkeypatch.setenv("RATING_MAX", "10")


async def test_a_version_predicts_on_the_configured_scale_not_the_datas(ten_point_scale, client):
    for movie in range(1, 13):
        created = await client.post("/api/movies", json={"id": movie, "title": f"Film {movie}"}, headers=ADMIN)
        assert created.status_code == 201, created.text
    rng = random.Random(0)
    # Every stored rating lies in 3..6 of a 1..10 scale.
    ratings = [
        {"user_id": user, "movie_id": movie, "rating": float(rng.randint(3, 6))}
        for user in range(1, 25)
        for movie in range(1, 13)
    ]
    assert (await client.post("/api/ratings/batch", json={"ratings": ratings}, headers=CLIENT)).status_code == 201

    job = await train(client, FAST)
    with sync_session() as session:
        data = session.scalar(select(ModelArtifact.data).where(ModelArtifact.version == job["model_version"]))
    assert MatrixFactorization.from_bytes(data).rating_scale == (1.0, 10.0)
