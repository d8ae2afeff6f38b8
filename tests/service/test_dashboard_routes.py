"""The dashboard is served by the app itself (page, modules, plotly bundle from the
installed plotly package) and /api/stats counts in SQL."""

from __future__ import annotations

import re
import time
from importlib.metadata import version

from tests.scenario import CLIENT

DAY = 86_400


async def test_dashboard_page_and_its_modules_are_served(client):
    page = await client.get("/dashboard")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "<title>recsys · ML training</title>" in html and 'id="train-form"' in html
    assert f"/dashboard/static/vendor/plotly.min.js?v={version('plotly')}" in html
    assert "cdn" not in html.lower()

    main = await client.get("/dashboard/static/main.js")
    assert main.status_code == 200 and main.headers["content-type"].startswith("text/javascript")
    # Every module the entry point imports (and they import) is served too.
    pending, served = ["main.js"], set()
    while pending:
        name = pending.pop()
        if name in served:
            continue
        response = await client.get(f"/dashboard/static/{name}")
        assert response.status_code == 200, name
        served.add(name)
        pending += re.findall(r'from "\./([\w-]+\.js)"', response.text)
    assert {"api.js", "panel-jobs.js", "panel-try-it.js"} <= served
    assert (await client.get("/dashboard/static/dashboard.css")).status_code == 200


async def test_static_route_refuses_paths_outside_the_dashboard(client):
    for path in ("../__init__.py", "..%2F__init__.py", "nope.js", "index.py"):
        response = await client.get(f"/dashboard/static/{path}")
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "not_found"


async def test_plotly_bundle_comes_from_the_installed_package(client):
    from service.dashboard import plotly_bundle_path

    raw = await client.get("/dashboard/static/vendor/plotly.min.js", headers={"Accept-Encoding": "identity"})
    assert raw.status_code == 200 and raw.content == plotly_bundle_path().read_bytes()
    assert "max-age" in raw.headers["cache-control"]
    zipped = await client.get("/dashboard/static/vendor/plotly.min.js", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.content == raw.content  # httpx decodes; the wire carried the gzip body


async def test_stats_on_an_empty_database(client):
    stats = (await client.get("/api/stats")).json()
    assert stats == {"users": 0, "movies": 0, "ratings": 0, "first_rating_at": None, "last_rating_at": None,
                     "days": 30, "per_day": []}


async def test_stats_count_and_bucket_ratings_per_utc_day(client):
    for movie_id in (1, 2, 3):
        await client.post("/api/movies", json={"id": movie_id, "title": f"M{movie_id}"}, headers=CLIENT)
    today = int(time.time()) // DAY * DAY
    ratings = [
        (1, 1, today + 10), (1, 2, today + 20), (2, 1, today - DAY + 5),
        (3, 3, today - 3 * DAY), (4, 2, today - 40 * DAY),  # outside a 3-day window
    ]
    body = {"ratings": [{"user_id": u, "movie_id": m, "rating": 4, "timestamp": t} for u, m, t in ratings]}
    assert (await client.post("/api/ratings/batch", json=body, headers=CLIENT)).status_code == 201

    stats = (await client.get("/api/stats", params={"days": 3})).json()
    assert (stats["users"], stats["movies"], stats["ratings"], stats["days"]) == (4, 3, 5, 3)
    assert [d["ratings"] for d in stats["per_day"]] == [0, 1, 2]  # day -2 empty, yesterday 1, today 2
    assert stats["per_day"][-1]["day"] == time.strftime("%Y-%m-%d", time.gmtime(today))
    assert stats["last_rating_at"].startswith(stats["per_day"][-1]["day"])

    refused = await client.get("/api/stats", params={"days": 0})
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "days"
