"""The service on rating scales other than the default 0.5-5: ml-100k mapped linearly
onto 1-10 and onto 0.5-4.0, imported, trained, predicted, recommended and explained
through the HTTP API. Every number the API answers must stay on the configured scale,
and the thresholds derived from it must move with it."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import httpx
import numpy as np
import pytest

from service.core.config import get_settings
from tests.scenario import ADMIN, CLIENT, rating_scale, train, wait_for_active

SCALES = [pytest.param((1.0, 10.0), id="1-10"), pytest.param((0.5, 4.0), id="0.5-4")]

STAR_WARS = (50, 172, 181)  # the trilogy: each other's nearest neighbours in ml-100k
DISLIKED = (1, 71, 95)  # Toy Story, The Lion King, Aladdin
FAN = 90_001
OPPOSITE = 90_002  # rates the same movies the other way round

# The default model on ml-100k at the default 0.5-5 scale: candidate_precision@10 =
# 0.732 and ndcg@10 = 0.0888 (0.081 and 0.083 on these scales). The holdout's true ratings map linearly, so a threshold that
# moves with the scale finds the same relevant movies and about the same figures;
# one fixed at 3.5 gives 0.88 on 1-10 (nearly every rating "relevant") and 0.22 on
# 0.5-4 (only the top rating).
REFERENCE_CANDIDATE_PRECISION = 0.732
REFERENCE_NDCG = 0.0888


def on_scale(rating_1_to_5: np.ndarray | float, scale: tuple[float, float]) -> np.ndarray | float:
    lo, hi = scale
    return lo + (rating_1_to_5 - 1.0) / 4.0 * (hi - lo)


def write_release(ml100k_dir: Path, folder: Path, scale: tuple[float, float]) -> Path:
    """ml-100k in its own layout with every rating mapped onto ``scale``."""
    folder.mkdir(parents=True)
    for name in ("u.item", "u.genre"):
        shutil.copyfile(ml100k_dir / name, folder / name)
    rows = np.loadtxt(ml100k_dir / "u.data", dtype=np.int64)
    mapped = on_scale(rows[:, 2].astype(np.float64), scale)
    with (folder / "u.data").open("w") as out:
        for (user, movie, _, stamp), rating in zip(rows.tolist(), mapped.tolist(), strict=True):
            out.write(f"{user}\t{movie}\t{rating:.6g}\t{stamp}\n")
    return folder


def zipped(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.iterdir()):
            archive.write(path, f"ml-100k/{path.name}")
    return buffer.getvalue()


@pytest.fixture(params=SCALES)
def scale(request) -> tuple[float, float]:
    return request.param


@pytest.fixture
def settings_env(scale, monkeypatch, settings_env):
    """The conftest's database, served on ``scale``."""
    monkeypatch.setenv("RATING_MIN", str(scale[0]))
    monkeypatch.setenv("RATING_MAX", str(scale[1]))
    get_settings.cache_clear()
    return settings_env


async def rate(client: httpx.AsyncClient, user_id: int, movie_id: int, rating: float) -> httpx.Response:
    return await client.post("/api/ratings", json={"user_id": user_id, "movie_id": movie_id, "rating": rating},
                             headers=CLIENT)


def sci_fi(recs: dict) -> int:
    return sum("Sci-Fi" in item["genres"] for item in recs["items"])


def inside(value: float, scale: tuple[float, float]) -> bool:
    return scale[0] <= value <= scale[1]


async def scale_scenario(client: httpx.AsyncClient, scale: tuple[float, float]) -> None:
    """With the scaled release imported: train, then check the scale everywhere the API
    takes or gives a rating. Shared by the in-process run and the real stack's."""
    lo, hi = scale
    assert await rating_scale(client) == scale  # what the dashboard's rating buttons are built from
    stored = (await client.get("/api/users/1/ratings")).json()  # imported, each star in its place
    assert {r["rating"] for r in stored} == {float(on_scale(r, scale)) for r in (1.0, 2.0, 3.0, 4.0, 5.0)}
    step = (hi - lo) / 4  # one star of the original 1-5 scale

    # Just outside either end is refused, naming the field; exactly at each end is taken.
    # A 1-5 rule would refuse 7 on 1-10 and take 4.5 on 0.5-4: both are tried.
    for bad in (lo - step / 2, hi + step / 2, hi + 0.5):
        refused = await rate(client, FAN + 1, 50, bad)
        assert refused.status_code == 422 and refused.json()["error"]["field"] == "rating", refused.text
        assert f"between {lo} and {hi}" in refused.json()["error"]["message"]
    batch = await client.post("/api/ratings/batch", headers=CLIENT, json={"ratings": [
        {"user_id": FAN + 1, "movie_id": 50, "rating": hi}, {"user_id": FAN + 1, "movie_id": 1, "rating": hi + step}]})
    assert batch.status_code == 422 and batch.json()["error"]["field"] == "ratings[1].rating", batch.text

    job = await train(client, {})  # the default model: a second on ml-100k, and it learns genres
    version = job["model_version"]
    await wait_for_active(client, version)
    metrics = (await client.get("/api/ml/metrics")).json()["values"]
    # The error in units of the scale's width: about 0.23 at any scale. Predicting the
    # global mean gives 0.28 (ml-100k's standard deviation, 1.13 of 4).
    assert 0.2 < metrics["rmse"] / (hi - lo) < 0.25, metrics
    assert metrics["candidate_precision@10"] == pytest.approx(REFERENCE_CANDIDATE_PRECISION, abs=0.05), metrics
    assert metrics["ndcg@10"] == pytest.approx(REFERENCE_NDCG, abs=0.02), metrics

    errors: list[float] = []  # of the model's prediction before each rating, as live metrics score it

    async def learn(user_id: int, movie_id: int, rating: float) -> None:
        posted = await rate(client, user_id, movie_id, rating)
        assert posted.status_code == 201, posted.text
        before = posted.json()["fold_in"]["predicted_before"]
        if before is not None:  # a new user's first rating has nothing to be predicted from
            assert inside(before, scale), before
            errors.append(before - rating)

    cold = (await client.get(f"/api/ml/recommendations/{FAN}", params={"n": 20})).json()
    assert cold["strategy"] == "popularity_fallback"
    for movie_id in STAR_WARS:
        await learn(FAN, movie_id, hi)
    for movie_id in DISLIKED:
        await learn(FAN, movie_id, lo)
    assert {r["rating"] for r in (await client.get(f"/api/users/{FAN}/ratings")).json()} == {lo, hi}

    recs = (await client.get(f"/api/ml/recommendations/{FAN}", params={"n": 20, "explain": True})).json()
    assert recs["strategy"] == "personalized" and recs["model_version"] == version
    listed = [item["movie_id"] for item in recs["items"]]
    assert listed != [item["movie_id"] for item in cold["items"]]
    assert not set(listed) & {*STAR_WARS, *DISLIKED}
    assert all(inside(item["predicted_rating"], scale) for item in recs["items"]), recs["items"]
    # A fan at the top of the scale: the best of the list is predicted near the top.
    assert recs["items"][0]["predicted_rating"] > lo + 0.75 * (hi - lo), recs["items"][0]

    # The model learned what the ratings say: the same six movies rated the other way
    # round give a list with far less Sci-Fi.
    for movie_id in STAR_WARS:
        await learn(OPPOSITE, movie_id, lo)
    for movie_id in DISLIKED:
        await learn(OPPOSITE, movie_id, hi)
    other = (await client.get(f"/api/ml/recommendations/{OPPOSITE}", params={"n": 20})).json()
    assert other["strategy"] == "personalized"
    assert sci_fi(recs) >= sci_fi(other) + 3, (sci_fi(recs), sci_fi(other))
    explained = (await client.get(f"/api/ml/explain/{FAN}/{listed[0]}")).json()
    assert inside(explained["predicted_rating"], scale)
    assert explained["predicted_rating"] == pytest.approx(recs["items"][0]["predicted_rating"], abs=1e-9)
    assert explained["predicted_rating"] == pytest.approx(min(max(explained["score"], lo), hi), abs=1e-9)
    # The movies rated at the top are "liked" with the scale's top rating; those at the
    # bottom are never "liked".
    raised_by = [c for c in explained["because_you_rated"] if c["contribution"] > 0 and c["movie_id"] in STAR_WARS]
    assert raised_by and all(c["your_rating"] == hi for c in raised_by), explained["because_you_rated"]
    text = explained["summary"]
    for movie_id in (*STAR_WARS, *DISLIKED):
        title = (await client.get(f"/api/movies/{movie_id}")).json()["title"]
        if movie_id in STAR_WARS and title in text:
            assert f"you liked {title} ({hi:g})" in text, text
        if movie_id in DISLIKED:
            assert f"liked {title}" not in text, text
    with_reasons = [item["explanation"] for item in recs["items"]]
    assert any(f"({hi:g})" in reason for reason in with_reasons), with_reasons

    # Predictions for every kind of pair stay on the scale: the fan's favourites and
    # list (pushed up), the movies they hate (pushed down), and other users'.
    pairs = [{"user_id": FAN, "movie_id": m} for m in (*STAR_WARS, *DISLIKED, *listed)]
    pairs += [{"user_id": u, "movie_id": m} for u in range(1, 40) for m in (1, 50, 100, 181, 258, 286, 294, 300)]
    predicted = await client.post("/api/ml/predict/batch", json={"pairs": pairs})
    assert predicted.status_code == 200, predicted.text
    values = [p["predicted_rating"] for p in predicted.json()["predictions"]]
    assert len(values) == len(pairs) and all(inside(v, scale) for v in values), (min(values), max(values))
    assert max(values) > lo + 0.75 * (hi - lo) and min(values) < lo + 0.5 * (hi - lo)  # both halves are used
    one = (await client.post("/api/ml/predict", json={"user_id": FAN, "movie_id": DISLIKED[0]})).json()
    assert inside(one["predicted_rating"], scale) and one["predicted_rating"] < lo + 0.5 * (hi - lo)

    # Each rating was scored before it was learned, on the scale, and counted live: the
    # top of the fan's list rated at the bottom is an error of over half the scale.
    await learn(FAN, listed[0], lo)
    assert errors[-1] > 0.5 * (hi - lo)
    live = (await client.get("/api/ml/metrics/live")).json()
    assert live["n"] == len(errors) >= 11
    assert live["rmse"] == pytest.approx(float(np.sqrt(np.mean(np.square(errors)))), abs=1e-9)


async def test_import_train_predict_recommend_explain_on_the_scale(client, scale, ml100k_dir, tmp_path):
    release = write_release(ml100k_dir, tmp_path / "ml-100k", scale)
    imported = await client.post("/api/import/movielens", content=zipped(release),
                                 headers={**ADMIN, "Content-Type": "application/zip"})
    assert imported.status_code == 200, imported.text
    assert imported.json()["ratings"] == 100_000
    await scale_scenario(client, scale)
