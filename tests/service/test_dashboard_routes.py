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
                     "days": 30, "window": "calendar", "per_day": []}


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


async def test_the_rated_window_keeps_an_imported_history_in_view_after_a_rating_today(client):
    """A calendar window ends on the newest rating's day, so one rating today hides a
    1998 import; the rated window counts only days that have ratings."""
    await client.post("/api/movies", json={"id": 1, "title": "M1"}, headers=CLIENT)
    imported = 893_000_000 // DAY * DAY  # 1998-04-19, as MovieLens 100k ends
    now = int(time.time())
    ratings = [(u, imported - d * DAY + 60) for u, d in ((1, 0), (2, 0), (3, 1), (4, 5))] + [(5, now)]
    body = {"ratings": [{"user_id": u, "movie_id": 1, "rating": 4, "timestamp": t} for u, t in ratings]}
    assert (await client.post("/api/ratings/batch", json=body, headers=CLIENT)).status_code == 201

    calendar = (await client.get("/api/stats", params={"days": 30})).json()
    assert calendar["window"] == "calendar" and len(calendar["per_day"]) == 30
    assert sum(d["ratings"] for d in calendar["per_day"]) == 1  # only today's

    rated = (await client.get("/api/stats", params={"days": 30, "window": "rated"})).json()
    assert rated["window"] == "rated" and rated["days"] == 30
    day = lambda t: time.strftime("%Y-%m-%d", time.gmtime(t))
    assert rated["per_day"] == [
        {"day": day(imported - 5 * DAY), "ratings": 1}, {"day": day(imported - DAY), "ratings": 1},
        {"day": day(imported), "ratings": 2}, {"day": day(now), "ratings": 1},
    ]
    assert rated["first_rating_at"].startswith(day(imported - 5 * DAY)) and rated["last_rating_at"].startswith(day(now))
    # The most recent days win when there are more than asked for.
    latest = (await client.get("/api/stats", params={"days": 2, "window": "rated"})).json()
    assert [d["day"] for d in latest["per_day"]] == [day(imported), day(now)]

    refused = await client.get("/api/stats", params={"window": "weekly"})
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "window"


FORM_SCALARS = {"integer", "number", "string"}
NUMBERS = {"integer", "number"}


def _form_fields(schema: dict, root: dict, defaults: dict, path: str = "") -> list[str]:
    """The fields panel-train-form.js builds from a type's schema: a nested object (a $ref)
    becomes a group of fields, a list of numbers one text input, anything else one input or
    select; returns their paths."""
    fields = []
    for name, spec in schema["properties"].items():
        assert name in defaults, f"{path}{name} has no default to prefill"
        if "$ref" in spec:
            nested = root["$defs"][spec["$ref"].split("/")[-1]]
            assert nested["type"] == "object"
            fields += _form_fields(nested, root, defaults[name], f"{path}{name}.")
            continue
        if spec.get("type") == "array":
            items = spec.get("prefixItems") or [spec["items"]]
            assert {item["type"] for item in items} <= NUMBERS, (path + name, spec)
            fields.append(path + name)
            continue
        types = {option["type"] for option in spec.get("anyOf", [spec])}
        assert types - {"null"} <= FORM_SCALARS and len(types - {"null"}) == 1, (path + name, spec)
        assert "string" not in types or spec.get("enum"), f"{path}{name}: free text has no input"
        fields.append(path + name)
    return fields


async def test_model_types_describe_what_the_train_form_builds(client):
    """The dashboard's train form is generated from GET /api/ml/model-types: one default
    type, and per type a schema of scalars and nested groups with a default for each."""
    types = (await client.get("/api/ml/model-types")).json()
    assert [t["model_type"] for t in types if t["is_default"]] == ["ensemble"]
    fields = {t["model_type"]: _form_fields(t["hyperparams_schema"], t["hyperparams_schema"], t["defaults"]) for t in types}
    assert set(fields) == {"ensemble", "ease", "ials", "matrix_factorization"}
    assert {"ranker", "mf_weight", "ease.regularization", "ials.n_factors", "mf.epochs"} <= set(fields["ensemble"])
    assert {t["model_type"]: t["gate_metric"] for t in types}["matrix_factorization"] == "rmse"
    assert {t["gate_metric"] for t in types if t["model_type"] != "matrix_factorization"} == {"ndcg"}
