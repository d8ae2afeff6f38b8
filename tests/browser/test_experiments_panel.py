"""The dashboard's experiments panel in headless Chromium against the live stack: the
arms and shares, each arm's metrics and intervals as the API computes them, the verdict
(here a significant one, from ratings built to make it so), and promote with confirmation."""

from __future__ import annotations

import time

import httpx
import pytest

from service.testing.stack import train
from tests.browser.conftest import screenshot
from tests.browser.test_dashboard import enter_key, open_dashboard
from tests.scenario import ADMIN, CLIENT

pytestmark = [pytest.mark.browser, pytest.mark.integration]

WEAK = {"n_factors": 1, "epochs": 1, "regularization": 1000.0, "bias_regularization": 1000.0}


def _cell(value: float | None, interval: dict) -> str:
    text = "–" if value is None else f"{value:.4f}"
    return text + (f" ({interval['low']:.3f}–{interval['high']:.3f})" if interval["low"] is not None else "")


SHOWN = """() => Object.fromEntries([...document.querySelectorAll('#experiment-arms tbody tr')].map((tr) => [
  tr.dataset.arm, Object.fromEntries([...tr.querySelectorAll('td[data-metric]')].map((td) => [td.dataset.metric, td.textContent]))]))"""


def _expected(url: str, experiment: int) -> dict:
    metrics = httpx.get(f"{url}/api/ml/experiments/{experiment}/metrics").json()
    return {a["arm"]: {"share": "50%", "n_ratings": str(a["n_ratings"]), "rmse": _cell(a["rmse"], a["rmse_ci"]),
                       "hits": f"{a['hits']} / {a['exposures']}", "hit_rate": _cell(a["hit_rate"], a["hit_rate_ci"])}
            for a in metrics["arms"]}


def test_the_panel_shows_arms_metrics_significance_and_promotes_with_confirmation(page, page_errors, seeded):
    with httpx.Client(base_url=seeded.url, timeout=60) as api:
        weak = train(api, WEAK, model_type="matrix_factorization")
        body = {"name": "seed vs weak", "salt": "browser",
                "arms": [{"name": "control", "model_version": seeded.version, "share": 0.5},
                         {"name": "weak", "model_version": weak, "share": 0.5}]}
        created = api.post("/api/ml/experiments", json=body, headers=ADMIN)
        assert created.status_code == 201, created.text
        experiment = created.json()["id"]
        deadline = time.monotonic() + 30
        while api.get("/api/ml/recommendations/1").json()["experiment_id"] != experiment:
            assert time.monotonic() < deadline, "the API never served the experiment"
            time.sleep(0.1)
        # Control users rate exactly as predicted; weak-arm users far from it: RMSE must differ.
        counts = {"control": 0, "weak": 0}
        for user in range(1, 200):
            items = api.get(f"/api/ml/recommendations/{user}", params={"n": 3}).json()
            arm = items["arm"]
            if counts[arm] >= 15:
                continue
            counts[arm] += 1
            ratings = []
            for item in items["items"][:2]:
                predicted = api.post("/api/ml/predict", json={"user_id": user, "movie_id": item["movie_id"]}).json()
                guess = min(max(predicted["predicted_rating"], 1.0), 5.0)
                rating = guess if arm == "control" else (5.0 if guess < 3 else 1.0)
                ratings.append({"user_id": user, "movie_id": item["movie_id"], "rating": rating})
            assert api.post("/api/ratings/batch", json={"ratings": ratings}, headers=CLIENT).status_code == 201
            if min(counts.values()) >= 15:
                break
        metrics = api.get(f"/api/ml/experiments/{experiment}/metrics").json()
    rmse = next(c for c in metrics["comparisons"] if c["metric"] == "rmse")
    assert rmse["significant"] and rmse["better"] == "control", rmse

    open_dashboard(page, seeded)
    panel = page.locator("#experiments")
    page.wait_for_selector(f"#experiments .experiment-head[data-experiment-id='{experiment}'][data-status='running']")
    # The page polls; the try-it panel's own list adds exposures meanwhile. So the page is
    # compared with the API's latest answer until they agree (bounded).
    deadline = time.monotonic() + 30
    while (shown := page.evaluate(SHOWN)) != (wanted := _expected(seeded.url, experiment)):
        assert time.monotonic() < deadline, (shown, wanted)
        page.wait_for_timeout(250)
    page.locator("#experiments").scroll_into_view_if_needed()
    screenshot(page, "06-experiment", full_page=False)
    assert page.get_attribute("#experiment-verdict", "data-significant") == "true"
    line = panel.locator("#experiment-verdict li[data-metric='rmse']")
    assert line.get_attribute("data-significant") == "true"
    assert "significant: control is better" in line.text_content()

    # Promote asks first; cancelling changes nothing.
    enter_key(page)
    page.click("#experiment-arms tr[data-arm='weak'] button:text('Promote')")
    page.wait_for_selector("#confirm-dialog[open]")
    assert f"v{weak}" in page.text_content("#confirm-message")
    page.click("#confirm-dialog button[value=cancel]")
    page.wait_for_selector("#confirm-dialog:not([open])", state="attached")
    assert httpx.get(f"{seeded.url}/api/ml/experiments/{experiment}").json()["status"] == "running"
    page.click("#experiment-arms tr[data-arm='weak'] button:text('Promote')")
    page.wait_for_selector("#confirm-dialog[open]")
    page.click("#confirm-ok")
    page.wait_for_selector(f"#experiments .experiment-head[data-experiment-id='{experiment}'][data-status='promoted']")
    assert page.locator("#experiment-stop").count() == 0
    assert httpx.get(f"{seeded.url}/api/ml/experiments/{experiment}").json()["promoted_arm"] == "weak"
    assert [m["version"] for m in httpx.get(f"{seeded.url}/api/ml/models").json() if m["is_active"]] == [weak]
    page.wait_for_selector(f"#active-body [data-active-version='{weak}']")
    page_errors.assert_none()
