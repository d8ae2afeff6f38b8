"""The training dashboard end to end in headless Chromium against the live stack: enter the
key, train and watch the job, read the new metrics, roll back, and rate in the try-it panel."""

from __future__ import annotations

import os
import shutil
import time

import httpx
import pytest

from service.testing.stack import Stack
from tests.browser.conftest import ARTIFACTS, REPO, screenshot
from tests.scenario import ADMIN

pytestmark = [pytest.mark.browser, pytest.mark.integration]

TRAIN = {"n_factors": 48, "epochs": 25, "seed": 7}
JOB_STATE = """(seedJob) => {
  const card = [...document.querySelectorAll('#jobs-body .job')].find((c) => c.dataset.jobId !== seedJob);
  if (!card) return null;
  const chart = card.querySelector('.chart-job');
  const track = card.querySelector('.progress');
  return {
    id: card.dataset.jobId, status: card.dataset.status, epoch: Number(card.dataset.epoch),
    points: chart.data ? chart.data[2].x.length : 0, progress: Number(track.getAttribute('aria-valuenow')),
    outcome: card.querySelector('.job-outcome').textContent,
  };
}"""


def api(seeded, path: str):
    return httpx.get(seeded.url + path, timeout=10).json()


def open_dashboard(page, seeded) -> None:
    page.goto(seeded.url + "/dashboard")
    page.wait_for_selector("#active-body [data-active-version]")
    page.wait_for_selector("#hp-n_factors")


def enter_key(page) -> None:
    page.click("#key-button")
    page.fill("#key-input", ADMIN["X-API-Key"])
    page.click("#key-dialog button[value=ok]")
    # The dialog's close event is dispatched as a task after the click returns.
    page.wait_for_function("document.querySelector('#key-button').textContent === 'Admin key ✓'")
    assert page.evaluate("sessionStorage.getItem('recsys.adminKey')") == ADMIN["X-API-Key"]


def train_from_form(page, hyperparams: dict) -> None:
    page.click("button[type=reset]")
    for name, value in hyperparams.items():
        page.fill(f"#hp-{name}", str(value))
    page.click("#train-submit")


def watch_job(page, seeded, timeout: float = 180) -> tuple[dict, list[dict]]:
    """Sample the job card until the job ends; returns the last state and every sample."""
    samples: list[dict] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = page.evaluate(JOB_STATE, seeded.job_id)
        if state:
            samples.append(state)
            if state["status"] == "running" and state["points"] >= 3 and not (ARTIFACTS / "02-training-running.png").exists():
                page.locator("#jobs").scroll_into_view_if_needed()
                screenshot(page, "02-training-running", full_page=False)
            if state["status"] in ("succeeded", "failed", "cancelled"):
                return state, samples
        page.wait_for_timeout(150)
    raise AssertionError(f"the job never finished on the page: {samples[-3:]}")


def test_api_field_errors_show_under_the_field(page, page_errors, seeded):
    open_dashboard(page, seeded)
    enter_key(page)
    train_from_form(page, {"n_factors": 0})
    error = page.locator("#hp-n_factors-error")
    error.wait_for(state="visible")
    assert "range [1, 1024]" in error.text_content()
    assert page.get_attribute("#hp-n_factors", "aria-invalid") == "true"
    assert page.evaluate("document.activeElement.id") == "hp-n_factors"
    assert page.locator("#hp-epochs-error").is_hidden()
    screenshot(page, "01-field-error", full_page=False)
    assert len(api(seeded, "/api/ml/training-status")) == 1  # nothing was queued
    page_errors.assert_none()


def test_train_watch_compare_roll_back_and_try_it(page, page_errors, seeded):
    for old in ARTIFACTS.glob("0[2-5]-*.png"):
        old.unlink()
    # 1. Open the dashboard, enter the key, start a training job.
    open_dashboard(page, seeded)
    screenshot(page, "01-opened", full_page=False)
    enter_key(page)
    train_from_form(page, TRAIN)

    # 2. Progress and the curves grow epoch by epoch until the job succeeds.
    final, samples = watch_job(page, seeded)
    assert final["status"] == "succeeded", final
    running = [s for s in samples if s["status"] == "running"]
    partial_curves = {s["points"] for s in running if 0 < s["points"] < TRAIN["epochs"]}
    assert len(partial_curves) >= 2, f"the curve was not seen growing: {samples}"
    progress = [s["progress"] for s in samples]
    assert progress == sorted(progress) and progress[-1] == 100
    assert any(0 < s["progress"] < 100 for s in running)
    assert final["points"] == TRAIN["epochs"] and final["epoch"] == TRAIN["epochs"]
    job = api(seeded, f"/api/ml/training-status/{final['id']}")
    new = job["model_version"]
    assert final["outcome"] == f"Produced version v{new}."
    history_row = page.locator(f"#history-table tr[data-job-id='{final['id']}']")
    history_row.wait_for()
    assert history_row.get_attribute("data-status") == "succeeded"

    # 3. The new version's metrics, and the metrics-over-time chart with real points.
    models = {m["version"]: m for m in api(seeded, "/api/ml/models")}
    assert models[new]["is_active"], "a better model activates itself"
    page.wait_for_selector(f"#active-body [data-active-version='{new}']")
    rmse_row = page.locator("#active-metrics tr[data-metric='rmse'] td")
    assert rmse_row.nth(0).text_content() == f"{models[new]['metrics']['rmse']:.4f}"
    assert rmse_row.nth(1).text_content() == f"{models[seeded.version]['metrics']['rmse']:.4f}"
    assert page.text_content("#active-metrics thead th:nth-child(3)") == f"v{seeded.version}"
    page.wait_for_function(f"document.getElementById('metrics-chart').dataset.versions === '{seeded.version},{new}'")
    chart = page.evaluate("document.getElementById('metrics-chart').data.map((t) => ({name: t.name, x: t.x, y: t.y, symbols: t.marker.symbol}))")
    rmse = next(t for t in chart if t["name"] == "RMSE")
    assert rmse["x"] == [f"v{seeded.version}", f"v{new}"]
    assert rmse["y"] == pytest.approx([models[seeded.version]["metrics"]["rmse"], models[new]["metrics"]["rmse"]])
    assert rmse["symbols"] == ["circle", "star"]
    assert {t["name"] for t in chart} >= {"MAE", "NDCG@10", "NDCG@10 · cand.", "Catalog coverage@10"}
    screenshot(page, "03-new-version")

    # 4. Activate the older version (with confirmation) and see the active marker move.
    page.click(f"#versions-table tr[data-version='{seeded.version}'] button:text('Activate')")
    page.wait_for_selector("#confirm-dialog[open]")
    page.click("#confirm-ok")
    page.wait_for_selector(f"#versions-table tr[data-version='{seeded.version}'][data-active='true']")
    page.wait_for_selector(f"#versions-table tr[data-version='{new}'][data-active='false']")
    page.wait_for_selector(f"#active-body [data-active-version='{seeded.version}']")
    page.wait_for_function("document.getElementById('metrics-chart').data[0].marker.symbol[0] === 'star'")
    page.wait_for_function(f"document.getElementById('serving').textContent.includes('serving v{seeded.version}')")
    # Deleting the active version is refused, as the API refuses it.
    page.click(f"#versions-table tr[data-version='{seeded.version}'] button:text('Delete')", force=True)  # aria-disabled
    assert "activate another version first" in page.text_content("#versions-error")
    assert not page.locator("#confirm-dialog[open]").count()
    assert len(api(seeded, "/api/ml/models")) == 2
    screenshot(page, "04-rolled-back")

    # 5. Rate a movie in the try-it panel and watch the recommendations change.
    page.fill("#try-user", "1")
    page.click("#try-form button[type=submit]")
    page.wait_for_selector("#try-recs:not([aria-busy])")
    page.wait_for_function(f"document.getElementById('try-user-info').textContent.includes('personalized by v{seeded.version}')")
    recs = page.locator("#try-recs li.rec")
    assert recs.count() == 10
    before = page.get_attribute("#try-recs", "data-ids").split(",")
    assert page.locator("#try-recs li.rec .rec-why").count() == 10  # the one-line reason of each
    page.click("#try-recs li.rec:first-child .btn-link")  # "Why?"
    page.wait_for_selector("#try-recs li.rec:first-child .why .why-part h4")
    page.click("#try-recs li.rec:first-child button[data-stars='1']")
    page.wait_for_function(f"document.getElementById('try-recs').dataset.ids !== '{','.join(before)}'")
    after = page.get_attribute("#try-recs", "data-ids").split(",")
    assert before[0] not in after and len(after) == 10
    assert page.locator("#try-recs li.rec-new").count() >= 1
    assert f"Folded into v{seeded.version}" in page.text_content("#try-notice")
    rated = {r["movie_id"]: r["rating"] for r in api(seeded, "/api/users/1/ratings")}
    assert rated[int(before[0])] == 1
    # The prequential RMSE of that rating reaches the live chart.
    page.wait_for_function("(document.getElementById('live-chart').data || []).length >= 2")
    screenshot(page, "05-try-it")

    screenshot(page, "dashboard-desktop")
    page.evaluate("window.scrollTo(0, 0)")
    if os.environ.get("UPDATE_DOCS_SCREENSHOT"):
        shutil.copy(screenshot(page, "dashboard-top", full_page=False), REPO / "docs" / "dashboard.png")
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(600)  # charts redraw to the new width
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "no sideways scrolling on a phone"
    screenshot(page, "dashboard-phone")
    page_errors.assert_none()


def test_cancel_a_running_job(page, page_errors, seeded):
    open_dashboard(page, seeded)
    enter_key(page)
    train_from_form(page, {"n_factors": 32, "epochs": 1000})
    page.wait_for_function("[...document.querySelectorAll('#jobs-body .job')].some((c) => c.dataset.status === 'running' && Number(c.dataset.epoch) >= 2)")
    card = page.locator("#jobs-body .job[data-status='running']").first
    job_id = card.get_attribute("data-job-id")
    card.locator("button:text('Cancel')").click()
    page.wait_for_selector(f"#jobs-body .job[data-job-id='{job_id}'][data-status='cancelled']", timeout=60_000)
    job = api(seeded, f"/api/ml/training-status/{job_id}")
    assert job["status"] == "cancelled" and job["current_epoch"] < 1000 and job["model_version"] is None
    row = page.locator(f"#history-table tr[data-job-id='{job_id}']")
    row.wait_for()
    assert "cancelled on request" in row.text_content()
    screenshot(page, "06-cancelled", full_page=False)
    page_errors.assert_none()


def test_a_server_that_requires_a_key_for_reads_asks_for_it_once(stack, seeded, page, page_errors):
    """Production requires a key for reads by default: the dashboard asks for one instead of
    showing empty panels, and then shows what the open server shows."""
    keyed = Stack(env={**stack.env, "REQUIRE_KEY_FOR_READS": "true"}, log_dir=stack.log_dir)
    try:
        url = keyed.start_api()
        assert httpx.get(url + "/api/ml/models", timeout=10).status_code == 401
        page.goto(url + "/dashboard")
        page.wait_for_selector("#key-dialog[open]")
        assert "reads too" in page.text_content("#key-error")
        page.fill("#key-input", ADMIN["X-API-Key"])
        page.click("#key-dialog button[value=ok]")
        page.wait_for_selector(f"#active-body [data-active-version='{api(seeded, '/ready')['active_version']}']")
        page.wait_for_selector(f"#versions-table tr[data-version='{seeded.version}']")
        assert not page.locator("#key-dialog[open]").count()
        page_errors.assert_none()
    finally:
        for process in keyed.processes:
            keyed.stop(process)
