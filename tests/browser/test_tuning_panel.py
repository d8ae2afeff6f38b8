"""The dashboard's hyperparameter-search panel against the live stack: a study started
from the panel runs on the Celery worker, and what the page shows (the study, every trial's
state, values and worker, the best-so-far curve, the importances, the resulting version and
the gate's verdict) is what the API says."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.browser.conftest import screenshot
from tests.browser.test_dashboard import enter_key, open_dashboard

pytestmark = pytest.mark.browser

TRIALS = 4  # the pruner leaves the first 4 alone, so 4 complete trials: enough for importances
FINAL = ("succeeded", "failed", "cancelled")
PAGE_TRIALS = """() => [...document.querySelectorAll('#tuning-trials-table tbody tr')].map((r) => ({
  number: Number(r.dataset.trialNumber), state: r.dataset.state,
  value: r.querySelector('[data-col=value]').textContent, worker: r.querySelector('[data-col=worker]').textContent,
  params: r.querySelector('[data-col=params]').textContent}))"""
CURVE = """() => { const el = document.querySelector('#tuning-curve');
  return el.data ? el.data.map((t) => ({name: t.name, x: [...t.x], y: [...t.y]})) : null; }"""


def api(url: str, path: str):
    return httpx.get(url + path, timeout=10).json()


def test_a_study_started_from_the_panel_shows_what_the_api_says(page, page_errors, seeded):
    open_dashboard(page, seeded)
    enter_key(page)
    page.select_option("#tuning-type", "matrix_factorization")
    page.fill("#tuning-trials-input", str(TRIALS))
    page.click("#tuning-start")
    page.wait_for_selector("#tuning-table tbody tr[data-study-id]")
    study_id = page.locator("#tuning-table tbody tr").first.get_attribute("data-study-id")
    assert page.get_attribute("#tuning-detail", "data-study-id") == study_id

    deadline = time.monotonic() + 600
    while (study := api(seeded.url, f"/api/ml/tune/{study_id}"))["status"] not in FINAL:
        assert time.monotonic() < deadline, study
        time.sleep(0.5)
    assert study["status"] == "succeeded", study
    assert study["model_type"] == "matrix_factorization" and study["n_trials"] == TRIALS and study["origin"] == "api"

    # The page catches up with the final state within its polling interval.
    page.wait_for_selector(f"#tuning-table tr[data-study-id='{study_id}'][data-status='succeeded']")
    page.wait_for_selector(f"#tuning-version [data-version='{study['model_version']}']")
    row = page.locator(f"#tuning-table tr[data-study-id='{study_id}']")
    assert row.locator("[data-col=trials]").text_content() == f"{TRIALS}/{TRIALS}"
    assert row.locator("[data-col=best]").text_content() == f"{study['best_value']:.4f}"
    assert row.locator("[data-col=version]").text_content() == f"v{study['model_version']}"

    shown = page.evaluate(PAGE_TRIALS)
    assert [t["number"] for t in shown] == [t["number"] for t in study["trials"]]
    for on_page, trial in zip(shown, study["trials"]):
        assert on_page["state"] == trial["state"]
        assert on_page["value"] == (f"{trial['value']:.4f}" if trial["value"] is not None else "–")
        assert on_page["worker"] == trial["worker"]
        assert all(f"{name}=" in on_page["params"] for name in trial["params"])

    curve = {trace["name"]: trace for trace in page.evaluate(CURVE)}
    assert curve["best so far"]["y"] == study["best_so_far"]
    complete = [t for t in study["trials"] if t["state"] == "complete"]
    assert curve["trial"]["y"] == [t["value"] for t in complete]

    importances = page.eval_on_selector_all("#tuning-importances li", "els => els.map((e) => [e.dataset.param, Number(e.dataset.share)])")
    assert study["importances"] is not None and importances == [[k, v] for k, v in study["importances"].items()]

    version = study["version"]
    made = page.locator("#tuning-version [data-version]")
    assert made.get_attribute("data-gate-activated") == str(version["gate_activated"]).lower()
    assert version["gate_reason"] in made.text_content()
    listed = next(v for v in api(seeded.url, "/api/ml/models") if v["version"] == version["version"])
    assert (listed["gate_activated"], listed["gate_reason"]) == (version["gate_activated"], version["gate_reason"])
    assert page.locator("#tuning-cancel").is_hidden()
    page.locator("#tuning").scroll_into_view_if_needed()
    screenshot(page, "tuning-panel", full_page=False)
    page_errors.assert_none()
