"""Rendered recommendation lists: served again only while what they depend on is
unchanged, and the fast path answers exactly what FastAPI answered."""

from __future__ import annotations

import pytest

from tests.scenario import CLIENT, FAST, train, wait_for_active


async def test_a_cached_list_is_the_computed_one_until_something_it_depends_on_changes(trained_app):
    app, client = trained_app
    cache = app.state.serving.rendered
    first = await client.get("/api/ml/recommendations/7")
    hits, early = cache.hits, cache.served_early
    again = await client.get("/api/ml/recommendations/7")
    assert cache.hits == hits + 1 and cache.served_early == early + 1  # answered before the framework
    assert again.content == first.content and again.headers["content-type"] == "application/json"
    assert int(again.headers["content-length"]) == len(first.content)

    # A rating of the user's top movie: the next list is computed, and reflects it.
    top = first.json()["items"][0]["movie_id"]
    await client.post("/api/ratings", json={"user_id": 7, "movie_id": top, "rating": 1.0}, headers=CLIENT)
    hits = cache.hits
    after = (await client.get("/api/ml/recommendations/7")).json()
    assert cache.hits == hits and top not in [i["movie_id"] for i in after["items"]]

    # Another user's rating leaves this user's list cached.
    await client.post("/api/ratings", json={"user_id": 8, "movie_id": top, "rating": 1.0}, headers=CLIENT)
    hits = cache.hits
    await client.get("/api/ml/recommendations/7")
    assert cache.hits == hits + 1

    # A new version: computed again, by the new version.
    job = await train(client, {**FAST, "seed": 3})
    activated = await client.post(f"/api/ml/models/activate/{job['model_version']}",
                                  headers={"X-API-Key": app.state.settings.admin_api_key})
    assert activated.status_code == 200
    await wait_for_active(client, job["model_version"])
    assert (await client.get("/api/ml/recommendations/7")).json()["model_version"] == job["model_version"]

    # A catalogue change: computed again.
    await client.get("/api/ml/recommendations/7")
    created = await client.post("/api/movies", json={"id": 99_001, "title": "New", "year": 2026, "genres": ["Drama"]},
                                headers=CLIENT)
    assert created.status_code == 201
    hits = cache.hits
    await client.get("/api/ml/recommendations/7")
    assert cache.hits == hits


@pytest.mark.parametrize(("path", "same_as"), [
    ("/api/ml/recommendations/007", "/api/ml/recommendations/7"),  # not canonical: FastAPI parses it
    ("/api/ml/recommendations/7?n=010", "/api/ml/recommendations/7?n=10"),
    ("/api/ml/recommendations/7?explain=1", "/api/ml/recommendations/7?explain=true"),
    ("/api/ml/recommendations/7?n=10&other=1", "/api/ml/recommendations/7?n=10"),
    ("/api/ml/recommendations/7?n=10&n=5", None),
    ("/api/ml/recommendations/7?n=0", None),  # FastAPI's 422
])
async def test_other_spellings_go_to_fastapi_and_get_its_answer(trained_app, path, same_as):
    app, client = trained_app
    await client.get("/api/ml/recommendations/7")
    await client.get("/api/ml/recommendations/7?explain=true")
    early = app.state.serving.rendered.served_early
    response = await client.get(path)
    assert app.state.serving.rendered.served_early == early  # FastAPI answered it
    if same_as is not None:
        assert response.status_code == 200 and response.content == (await client.get(same_as)).content
    elif path.endswith("n=0"):
        assert response.status_code == 422 and response.json()["error"]["field"] == "n"
    else:
        assert response.status_code == 200


async def test_a_cached_list_still_needs_the_key_when_reads_need_one(trained_app):
    app, client = trained_app
    app.state.settings.require_key_for_reads = True
    try:
        assert (await client.get("/api/ml/recommendations/9", headers=CLIENT)).status_code == 200
        refused = await client.get("/api/ml/recommendations/9")
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthorized"
        wrong = await client.get("/api/ml/recommendations/9", headers={"X-API-Key": "not-the-key"})
        assert wrong.status_code == 403
        early = app.state.serving.rendered.served_early
        assert (await client.get("/api/ml/recommendations/9", headers=CLIENT)).status_code == 200
        assert app.state.serving.rendered.served_early == early + 1
    finally:
        app.state.settings.require_key_for_reads = False
