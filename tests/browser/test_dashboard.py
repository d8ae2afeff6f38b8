"""The training dashboard end to end in headless Chromium against the live stack: enter the
key, pick a model type, train and watch the job, read the new metrics, roll back, rate in
the try-it panel, and train the ranking types (EASE, the ensemble) through the form."""

from __future__ import annotations

import os
import shutil
import time
from datetime import datetime, timedelta

import httpx
import pytest

from service.testing.stack import Stack, train
from tests.browser.conftest import ARTIFACTS, PHONE, REPO, screenshot
from tests.scenario import ADMIN, CLIENT

pytestmark = [pytest.mark.browser, pytest.mark.integration]

MF = "matrix_factorization"
TRAIN = {"n_factors": 48, "epochs": 25, "seed": 7}
JOB_STATE = """(jobId) => {
  const card = document.querySelector(`#jobs-body .job[data-job-id="${jobId}"]`);
  if (!card) return null;
  const chart = card.querySelector('.chart-job');
  const track = card.querySelector('.progress');
  const curve = (name) => ((chart.data || []).find((t) => t.name === name)?.x || []).length;
  return {
    id: card.dataset.jobId, status: card.dataset.status, epoch: Number(card.dataset.epoch),
    points: curve('validation RMSE'), ndcg_points: curve('validation NDCG@10'),
    traces: (chart.data || []).map((t) => t.name), empty: chart.dataset.empty || null,
    curves: Object.fromEntries((chart.data || []).map((t) => [t.name, {x: Array.from(t.x), y: Array.from(t.y)}])),
    progress: Number(track.getAttribute('aria-valuenow')),
    title: card.querySelector('.job-title').textContent, epoch_text: card.querySelector('.job-epoch').textContent,
    params: card.querySelector('.job-params').textContent, outcome: card.querySelector('.job-outcome').textContent,
  };
}"""
CURVES = {"train_loss": "training loss", "train_rmse": "training RMSE", "validation_rmse": "validation RMSE",
          "validation_ndcg": "validation NDCG@10"}  # a history point's series -> its trace (panel-jobs.js)
METRICS_CHART = """() => document.getElementById('metrics-chart').data.map(
  (t) => ({name: t.name, metric: t.meta[0], type: t.meta[1], x: t.x, y: t.y, symbols: t.marker.symbol}))"""
# Every state the header's serving indicator shows, from the moment this runs.
WATCH_HEADER = """() => {
  const el = document.getElementById('serving');
  window.headerStates = [[el.dataset.state || null, el.textContent]];
  new MutationObserver(() => window.headerStates.push([el.dataset.state || null, el.textContent]))
    .observe(el, {attributes: true, childList: true, subtree: true, characterData: true});
}"""
CHARTED = ["rmse", "mae", "precision@10", "recall@10", "ndcg@10", "map@10", "hit_rate@10", "candidate_precision@10",
           "candidate_recall@10", "candidate_ndcg@10", "catalog_coverage@10"]  # metrics-catalog.js, n_test aside
# 7,833 px before the phone layout, 6,763 with one metrics chart (try-it alone was 2,079),
# about 2,400 with the occasional panels closed.
PHONE_PAGE_MAX_PX = 3_000
DESKTOP = {"width": 1280, "height": 900}
# Closed on a phone behind their heading: section -> its body (collapsible.js).
COLLAPSIBLE = {"train": "train-panel", "data": "data-panel", "versions": "versions-panel",
               "experiments": "experiments-panel", "try": "try-panel", "tuning": "tuning-panel",
               "history": "history-panel"}
PANELS = """() => [...document.querySelectorAll('[data-collapsible]')].map((s) => {
  const toggle = s.querySelector('h2 > .panel-toggle'), body = s.querySelector('.panel-body');
  return {id: s.id, body: body.id, hidden: body.hidden, expanded: toggle ? toggle.getAttribute('aria-expanded') : null,
    controls: toggle?.getAttribute('aria-controls') ?? null, hint: s.querySelector('.panel-hint').textContent,
    heading: s.querySelector('h2').innerText};
})"""
PAGE_SIZE = "({width: document.documentElement.scrollWidth, height: document.documentElement.scrollHeight})"


def api(seeded, path: str):
    return httpx.get(seeded.url + path, timeout=10).json()


def open_dashboard(page, seeded) -> None:
    page.goto(seeded.url + "/dashboard")
    page.wait_for_selector("#active-body [data-active-version]")
    page.wait_for_selector("#hyperparam-fields [data-path]", state="attached")  # closed on a phone


def enter_key(page) -> None:
    page.click("#key-button")
    page.fill("#key-input", ADMIN["X-API-Key"])
    page.click("#key-dialog button[value=ok]")
    # The dialog's close event is dispatched as a task after the click returns.
    page.wait_for_function("document.querySelector('#key-button').textContent === 'Admin key ✓'")
    assert page.evaluate("sessionStorage.getItem('recsys.adminKey')") == ADMIN["X-API-Key"]


def fill_form(page, model_type: str, hyperparams: dict) -> None:
    """Pick the type, reset its fields to the defaults, and type in `hyperparams`; a dotted
    name ("mf.epochs") is a field of a nested group, opened first as a user would."""
    page.select_option("#model_type", model_type)
    page.click("#train-defaults")
    for name, value in hyperparams.items():
        if "." in name:
            group = page.locator(f"#hyperparam-fields details[data-group='{name.split('.')[0]}']")
            if group.get_attribute("open") is None:
                group.locator("summary").click()
        page.fill(f"#hp-{name.replace('.', '-')}", str(value))


def submit(page):
    """Click "Start training"; returns the API's answer to the form's POST."""
    with page.expect_response(lambda r: r.url.endswith("/api/ml/train") and r.request.method == "POST") as answer:
        page.click("#train-submit")
    return answer.value


def train_from_form(page, model_type: str, hyperparams: dict) -> str:
    fill_form(page, model_type, hyperparams)
    response = submit(page)
    assert response.status == 202, response.text()
    return response.json()["job_id"]


def watch_job(page, job_id: str, timeout: float = 180) -> tuple[dict, list[dict]]:
    """Sample the job's card until the job ends; returns the last state and every sample."""
    samples: list[dict] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = page.evaluate(JOB_STATE, job_id)
        if state:
            samples.append(state)
            if state["status"] == "running" and state["points"] >= 3 and not (ARTIFACTS / "02-training-running.png").exists():
                page.locator("#jobs").scroll_into_view_if_needed()
                screenshot(page, "02-training-running", full_page=False)
            if state["status"] in ("succeeded", "failed", "cancelled"):
                return state, samples
        page.wait_for_timeout(150)
    raise AssertionError(f"the job never finished on the page: {samples[-3:]}")


def curves_of(history: list[dict]) -> dict[str, dict[str, list]]:
    """The curves a job card draws from ``history``: one per series with a value (panel-jobs.js)."""
    curves = {}
    for key, name in CURVES.items():
        values = [p[key] for p in history]
        if any(v is not None for v in values):
            curves[name] = {"x": [p["epoch"] for p in history], "y": values}
    return curves


def activate_from_versions(page, version: int) -> None:
    page.click(f"#versions-table tr[data-version='{version}'] button:text('Activate')")
    page.wait_for_selector("#confirm-dialog[open]")
    page.click("#confirm-ok")
    page.wait_for_selector(f"#versions-table tr[data-version='{version}'][data-active='true']")
    page.wait_for_selector(f"#active-body [data-active-version='{version}']")
    page.wait_for_function(f"document.getElementById('serving').textContent.includes('serving v{version}')")


def test_a_single_version_shows_its_metrics_as_numbers_not_a_chart(page, page_errors, seeded):
    """One version is no history: eleven one-point charts on a 0-1 axis are unreadable."""
    evaluated = {r["model_version"] for r in api(seeded, "/api/ml/metrics/history")}
    assert evaluated == {seeded.version}, "runs first in this module, while only the seed version exists"
    metrics = next(m for m in api(seeded, "/api/ml/models") if m["version"] == seeded.version)["metrics"]
    open_dashboard(page, seeded)
    values = page.locator(f"#metrics-values dl[data-version='{seeded.version}']")
    values.wait_for()
    shown = page.eval_on_selector_all("#metrics-values dl > div", """(items) => items.map((d) => [
      d.dataset.metric, d.querySelector('dt').textContent, d.querySelector('dd').textContent])""")
    assert [key for key, _, _ in shown] == CHARTED
    assert all(value == f"{metrics[key]:.4f}" for key, _, value in shown), shown
    labels = {key: label for key, label, _ in shown}
    assert (labels["rmse"], labels["ndcg@10"], labels["candidate_ndcg@10"]) == ("RMSE", "NDCG@10", "NDCG@10 · cand.")
    assert f"Only v{seeded.version}" in page.text_content("#metrics-values")
    assert page.locator("#metrics-chart").is_hidden()
    assert page.evaluate("document.getElementById('metrics-chart').data") is None  # no plot drawn
    page.locator("#metrics").scroll_into_view_if_needed()
    screenshot(page, "00-single-version-metrics", full_page=False)
    page_errors.assert_none()


def test_the_form_offers_every_model_type_with_its_own_fields(page, page_errors, seeded):
    types = api(seeded, "/api/ml/model-types")
    open_dashboard(page, seeded)
    options = page.eval_on_selector_all("#model_type option", "(os) => os.map((o) => o.value)")
    assert options == [t["model_type"] for t in types]
    default = next(t for t in types if t["is_default"])
    assert page.input_value("#model_type") == default["model_type"] == "ensemble"

    # The ensemble: its scalars, then its ease, ials and mf groups, collapsed; the weights
    # chosen on validation are null by default, shown as a ticked "auto".
    assert page.locator("#hyperparam-fields > .fields").get_attribute("data-model-type") == "ensemble"
    groups = page.eval_on_selector_all("#hyperparam-fields details.hp-group", "(ds) => ds.map((d) => [d.dataset.group, d.open])")
    assert groups == [["ease", False], ["ials", False], ["mf", False]]
    assert page.locator("#hp-mf_weight-null").is_checked() and page.locator("#hp-mf_weight").is_disabled()
    assert float(page.input_value("#hp-ease-regularization")) == default["defaults"]["ease"]["regularization"]
    assert page.get_attribute("#hp-ials-n_factors", "max") == "1024"  # the range its description states
    assert "not used while ranker is ease" in page.text_content("details[data-group='ials'] summary")
    page.select_option("#hp-ranker", "ials")
    assert "not used while ranker is ials" in page.text_content("details[data-group='ease'] summary")

    # Each other type shows its own fields; switching back keeps what was typed.
    page.select_option("#model_type", "ease")
    assert page.locator("#hp-regularization").is_visible() and not page.locator("#hp-n_factors").count()
    page.fill("#hp-regularization", "321")
    page.select_option("#model_type", MF)
    assert page.locator("#hp-n_factors").is_visible() and page.locator("#hp-early_stopping_patience-null").is_checked()
    page.select_option("#model_type", "ease")
    assert page.input_value("#hp-regularization") == "321"
    page.click("#train-defaults")
    ease_default = next(t for t in types if t["model_type"] == "ease")["defaults"]["regularization"]
    assert float(page.input_value("#hp-regularization")) == ease_default
    page_errors.assert_none()


def test_api_field_errors_show_under_the_field(page, page_errors, seeded):
    open_dashboard(page, seeded)
    enter_key(page)
    fill_form(page, MF, {"n_factors": 0})
    assert submit(page).status == 422
    error = page.locator("#hp-n_factors-error")
    error.wait_for(state="visible")
    assert "range [1, 1024]" in error.text_content()
    assert page.get_attribute("#hp-n_factors", "aria-invalid") == "true"
    assert page.evaluate("document.activeElement.id") == "hp-n_factors"
    assert page.locator("#hp-epochs-error").is_hidden()
    screenshot(page, "01-field-error", full_page=False)

    # A nested field of the ensemble: the API names "hyperparams.ease.regularization", and
    # the message lands under that input, in its group, which opens to show it.
    fill_form(page, "ensemble", {"ease.regularization": 0, "mf.epochs": 3})
    page.locator("details[data-group='ease'] summary").click()  # the user closes it again
    response = submit(page)
    assert response.status == 422 and response.json()["error"]["field"] == "hyperparams.ease.regularization"
    error = page.locator("#hp-ease-regularization-error")
    error.wait_for(state="visible")
    assert "range (0" in error.text_content() and "got 0" in error.text_content()
    assert page.get_attribute("#hp-ease-regularization", "aria-invalid") == "true"
    assert page.evaluate("document.activeElement.id") == "hp-ease-regularization"
    assert page.evaluate("document.querySelector('details[data-group=ease]').open")
    # Only that field: not its namesake in another group, and no form-level error.
    assert page.locator("#hp-ials-regularization-error").is_hidden() and page.locator("#hp-mf-regularization-error").is_hidden()
    assert page.locator("#train-error").is_hidden()
    screenshot(page, "01-nested-field-error", full_page=False)

    # A list (EASE's rating weights) is typed as "0.1, 0.5"; the API names the missing items.
    fill_form(page, "ease", {"rating_weights": "0.1, 0.5"})
    response = submit(page)
    assert response.status == 422 and response.json()["error"]["field"] == "hyperparams.rating_weights.2"
    error = page.locator("#hp-rating_weights-error")
    error.wait_for(state="visible")
    assert error.text_content().startswith("item 3: Field required; item 4:")
    assert page.evaluate("document.activeElement.id") == "hp-rating_weights"
    assert len(api(seeded, "/api/ml/training-status")) == 1  # nothing was queued
    page_errors.assert_none()


def test_train_watch_compare_roll_back_and_try_it(page, page_errors, seeded):
    for old in ARTIFACTS.glob("0[2-5]-*.png"):
        old.unlink()
    # 1. Open the dashboard, enter the key, start a training job.
    open_dashboard(page, seeded)
    screenshot(page, "01-opened", full_page=False)
    page.wait_for_function("document.getElementById('serving').dataset.state === 'ready'")
    page.evaluate(WATCH_HEADER)
    enter_key(page)
    job_id = train_from_form(page, MF, TRAIN)

    # 2. Progress and the curves grow epoch by epoch until the job succeeds. What the card
    # draws is checked against the job's stored history: the whole curve at the end, and
    # a prefix of it at every state the page happened to show while the job ran (how many
    # polls landed mid-training depends on the machine's speed, so none is required).
    final, samples = watch_job(page, job_id)
    assert final["status"] == "succeeded", final
    stored = api(seeded, f"/api/ml/training-status/{job_id}")["history"]
    assert [p["epoch"] for p in stored] == list(range(1, TRAIN["epochs"] + 1))
    assert set(final["curves"]) >= {"training loss", "validation RMSE"}
    for sample in samples:
        n = sample["points"]
        assert n <= len(stored), sample
        assert sample["curves"] == curves_of(stored[:n]), (sample, stored[:n])
        if sample["status"] == "running" and n:
            assert sample["epoch"] >= n and sample["epoch_text"].startswith(f"Epoch {sample['epoch']} / "), sample
    points = [s["points"] for s in samples]
    progress = [s["progress"] for s in samples]
    assert points == sorted(points) and progress == sorted(progress) and progress[-1] == 100
    assert final["points"] == TRAIN["epochs"] and final["epoch"] == TRAIN["epochs"]
    assert final["title"] == f"Last job · train · {MF}" and final["params"] == "n_factors=48 epochs=25 seed=7"
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
    page.wait_for_selector("#metrics-chart[data-layout='grid']")
    assert page.locator("#metrics-values").is_hidden()  # two versions: a history to chart
    chart = page.evaluate(METRICS_CHART)
    rmse = next(t for t in chart if t["metric"] == "rmse" and t["type"] == MF)
    assert rmse["x"] == [f"v{seeded.version}", f"v{new}"]
    assert rmse["y"] == pytest.approx([models[seeded.version]["metrics"]["rmse"], models[new]["metrics"]["rmse"]])
    assert rmse["symbols"] == ["circle", "star"]
    assert {t["name"] for t in chart} >= {"MAE", "NDCG@10", "NDCG@10 · cand.", "Catalog coverage@10"}
    screenshot(page, "03-new-version")

    # The switch to the new version never turned the header red (a 503 from /ready while it
    # loaded did, for one poll). One more answer after it serves the new version, to be sure.
    page.wait_for_function(f"document.getElementById('serving').textContent === 'serving v{new}'")
    with page.expect_response(lambda r: r.url.endswith("/ready")):
        pass
    states = page.evaluate("window.headerStates")
    assert [s for s in states if s[0] == "not-ready" or "not ready" in s[1]] == [], states
    assert states[-1] == ["ready", f"serving v{new}"], states

    # 4. Activate the older version (with confirmation) and see the active marker move.
    activate_from_versions(page, seeded.version)
    page.wait_for_selector(f"#versions-table tr[data-version='{new}'][data-active='false']")
    page.wait_for_function("document.getElementById('metrics-chart').data[0].marker.symbol[0] === 'star'")
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
    page.set_viewport_size(PHONE)
    page.wait_for_selector("#metrics-chart[data-layout='single']")  # redrawn for the new width
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "no sideways scrolling on a phone"
    screenshot(page, "dashboard-phone")
    page_errors.assert_none()


def test_ratings_per_day_cover_the_data_not_the_last_30_calendar_days(page, page_errors, seeded):
    """MovieLens 100k ends in April 1998: a rating today must not push all of it off the chart."""
    rated = httpx.post(seeded.url + "/api/ratings", json={"user_id": 2, "movie_id": 1, "rating": 4}, headers=CLIENT, timeout=10)
    assert rated.status_code == 201, rated.text
    stats = api(seeded, "/api/stats?days=30&window=rated")
    days, counts = [d["day"] for d in stats["per_day"]], [d["ratings"] for d in stats["per_day"]]
    assert days[0].startswith("1998") and days[-1] == stats["last_rating_at"][:10] > "2000", days  # the data's shape

    open_dashboard(page, seeded)
    page.wait_for_selector("#per-day-chart[data-window='rated']")
    page.wait_for_function("document.getElementById('per-day-chart').data?.[0]?.x.length > 0")
    chart = page.evaluate("""() => { const el = document.getElementById('per-day-chart');
      return {x: el.data[0].x, y: el.data[0].y, gaps: (el.layout.shapes || []).map((s) => s.x0)}; }""")
    assert (chart["x"], chart["y"]) == (days, counts)
    assert sum(n for day, n in zip(days, counts) if day.startswith("1998")) > 1000  # the import, in view
    jump = next(i for i in range(1, len(days)) if not days[i].startswith("1998"))
    assert jump - 0.5 in chart["gaps"]  # a dashed line where the days without ratings were left out
    note = page.text_content("#per-day-note")
    assert note.startswith(f"The {len(days)} latest days with ratings") and "1998" in note, note
    page.locator("#data").scroll_into_view_if_needed()
    screenshot(page, "05-ratings-per-day", full_page=False)
    page_errors.assert_none()


def test_a_phone_gets_one_metrics_chart_closed_panels_and_a_history_that_reflows(phone, page_errors, seeded):
    assert len({r["model_version"] for r in api(seeded, "/api/ml/metrics/history")}) >= 2, "runs after a second version"
    open_dashboard(phone, seeded)
    phone.wait_for_selector("#metrics-chart[data-layout='single']")
    phone.wait_for_selector("#history-table tbody tr", state="attached")
    phone.wait_for_selector("#try-recs li.rec", state="attached")  # the longest panel, filled while closed
    phone.wait_for_function("document.getElementById('per-day-chart').data")
    phone.wait_for_function("(el => el.data || el.dataset.empty)(document.getElementById('live-chart'))")

    # One chart and a picker instead of eleven small charts, on the active type's gate metric.
    assert phone.get_attribute("#metrics-chart", "data-metric") == "rmse"
    assert phone.eval_on_selector_all("#metrics-select option", "(os) => os.map((o) => o.value)") == CHARTED
    assert {t["metric"] for t in phone.evaluate(METRICS_CHART)} == {"rmse"}
    phone.select_option("#metrics-select", "ndcg@10")
    phone.wait_for_selector("#metrics-chart[data-metric='ndcg@10']")
    assert {t["metric"] for t in phone.evaluate(METRICS_CHART)} == {"ndcg@10"}
    metrics_height = phone.locator("#metrics").bounding_box()["height"]
    assert metrics_height < 650, metrics_height  # 1,178 px before

    # The occasional panels are closed, each under a button that says what is inside.
    panels = phone.evaluate(PANELS)
    assert {p["id"]: p["body"] for p in panels} == COLLAPSIBLE
    assert all(p["hidden"] and p["expanded"] == "false" and p["controls"] == p["body"] and p["hint"] for p in panels), panels
    hints = {p["id"]: p["hint"] for p in panels}
    assert hints["try"] == "Recommendations for a user, and why"
    studies = api(seeded, "/api/ml/tune")
    assert hints["tuning"] == (f"{len(studies)} stud{'y' if len(studies) == 1 else 'ies'} · the last one "
                               f"{studies[0]['status']}" if studies else "No studies yet")
    models = api(seeded, "/api/ml/models")
    active = next(m["version"] for m in models if m["is_active"])
    assert hints["versions"].startswith(f"{len(models)} versions") and hints["versions"].endswith(f"· v{active} active")
    jobs = api(seeded, "/api/ml/training-status?limit=50")
    assert hints["history"] == f"{len(jobs)} jobs · the last one {jobs[0]['status']}"
    assert hints["data"].startswith(f"{api(seeded, '/api/stats')['users']:,} users · ")
    # The active model's twelve metrics too, under its gate metric.
    assert phone.get_attribute("#active-metrics-title .panel-toggle", "aria-expanded") == "false"
    assert phone.locator("#active-metrics").is_hidden()
    assert phone.text_content("#active-metrics-title .panel-hint").startswith("RMSE 0.")

    size = phone.evaluate(PAGE_SIZE)
    assert size["width"] <= PHONE["width"], size
    assert size["height"] < PHONE_PAGE_MAX_PX, size
    assert phone.locator(".topbar").bounding_box()["height"] < 60  # a one-line sticky header
    screenshot(phone, "dashboard-phone-layout")

    # Every column of every job is on screen: rows reflow, nothing to scroll sideways.
    phone.locator("#history .panel-toggle").tap()
    phone.wait_for_selector("#history-table tbody tr")
    history = phone.evaluate("""() => {
      const wrap = document.getElementById('history-body');
      const cells = [...document.querySelectorAll('#history-table tbody td')].filter((td) => td.textContent.trim());
      const off = cells.filter((td) => { const r = td.getBoundingClientRect();
        return r.width === 0 || r.left < 0 || r.right > innerWidth; });
      return {scroll: wrap.scrollWidth, box: wrap.clientWidth, off: off.map((td) => td.textContent),
        columns: [...document.querySelectorAll('#history-table thead th')].map((th) => th.textContent),
        filled: [...document.querySelectorAll('#history-table tbody tr')].map((tr) => tr.querySelectorAll('td').length)};
    }""")
    assert history["scroll"] <= history["box"] and history["off"] == [], history
    assert history["columns"] == ["Created", "Kind", "Type", "Status", "Epochs", "Duration", "Version", "Hyperparameters", "Error"]
    assert set(history["filled"]) == {9}
    page_errors.assert_none()


def test_on_a_phone_a_closed_panel_opens_with_a_tap_or_a_key_and_fits_the_screen(phone, page_errors, seeded):
    open_dashboard(phone, seeded)
    phone.wait_for_selector("#try[data-collapsed='true']")
    closed_height = phone.evaluate(PAGE_SIZE)["height"]

    # Try it: one tap opens it, and it works there as on a desktop.
    toggle = phone.locator("#try .panel-toggle")
    assert toggle.get_attribute("aria-expanded") == "false" and phone.locator("#try-form").is_hidden()
    toggle.tap()
    phone.locator("#try-form").wait_for()
    assert toggle.get_attribute("aria-expanded") == "true"
    phone.fill("#try-user", "2")  # user 1's are those it showed on opening
    phone.locator("#try-form button[type=submit]").tap()
    phone.wait_for_selector("#try-recs[data-user='2']:not([aria-busy])")
    assert "personalized by" in phone.text_content("#try-user-info")
    recs = phone.locator("#try-recs li.rec")
    assert recs.count() == 10 and all(recs.nth(i).is_visible() for i in range(10))
    phone.locator("#try-recs li.rec:first-child .btn-link").tap()  # "Why?"
    terms = phone.locator("#try-recs li.rec:first-child .why table.terms")
    terms.wait_for()
    box = terms.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box

    # The training form, from the keyboard: Enter opens it, Space closes it again.
    train = phone.locator("#train .panel-toggle")
    train.focus()
    phone.keyboard.press("Enter")
    phone.locator("#model_type").wait_for()
    assert train.get_attribute("aria-expanded") == "true" and phone.locator("#train-submit").is_visible()
    phone.keyboard.press("Space")
    phone.locator("#train-form").wait_for(state="hidden")
    assert train.get_attribute("aria-expanded") == "false"
    train.tap()
    phone.locator("#train-submit").wait_for()

    # The versions table fits the screen, every button on it.
    phone.locator("#versions .panel-toggle").tap()
    phone.wait_for_selector(f"#versions-table tr[data-version='{seeded.version}']")
    versions = phone.evaluate("""() => { const wrap = document.getElementById('versions-body');
      const off = [...wrap.querySelectorAll('button')].filter((b) => { const r = b.getBoundingClientRect();
        return r.left < 0 || r.right > innerWidth; });
      return {scroll: wrap.scrollWidth, box: wrap.clientWidth, off: off.map((b) => b.getAttribute('aria-label'))}; }""")
    assert versions["scroll"] <= versions["box"] and versions["off"] == [], versions

    # A chart drawn while its panel was closed is as wide as the panel once it opens.
    phone.locator("#data .panel-toggle").tap()
    phone.wait_for_function("""() => { const el = document.getElementById('per-day-chart');
      const svg = el.querySelector('.main-svg');
      return el.offsetParent !== null && svg && Math.abs(svg.getBoundingClientRect().width - el.clientWidth) < 2; }""")

    # The experiments, from the section menu (none yet here: the panel says how to start one).
    phone.locator(".section-nav a[href='#experiments']").tap()
    phone.locator("#experiments-body").wait_for()
    assert phone.get_attribute("#experiments .panel-toggle", "aria-expanded") == "true"

    # The search panel: its form fits the screen.
    phone.locator("#tuning .panel-toggle").tap()
    phone.locator("#tuning-start").wait_for()
    start = phone.locator("#tuning-start").bounding_box()
    assert start["x"] >= 0 and start["x"] + start["width"] <= PHONE["width"], start

    # The active model's metrics, and the history from the section menu.
    phone.locator("#active-metrics-title .panel-toggle").tap()
    phone.locator("#active-metrics tr[data-metric='rmse']").wait_for()
    phone.locator(".section-nav a[href='#history']").tap()
    phone.wait_for_selector("#history-table tbody tr")
    assert phone.get_attribute("#history .panel-toggle", "aria-expanded") == "true"

    # All open, the page is long but still never wider than the screen.
    assert all(not p["hidden"] and p["expanded"] == "true" for p in phone.evaluate(PANELS))
    size = phone.evaluate(PAGE_SIZE)
    assert size["width"] <= PHONE["width"] and size["height"] > closed_height + 2_000, size
    screenshot(phone, "dashboard-phone-opened")
    toggle.tap()
    phone.locator("#try-form").wait_for(state="hidden")
    assert toggle.get_attribute("aria-expanded") == "false"
    page_errors.assert_none()


def test_on_a_desktop_every_panel_is_open_under_a_plain_heading(page, page_errors, seeded):
    page.set_viewport_size(DESKTOP)
    open_dashboard(page, seeded)
    page.wait_for_selector("#try-recs li.rec")
    page.wait_for_selector("#history-table tbody tr")

    def assert_all_open() -> None:
        panels = page.evaluate(PANELS)
        assert all(not p["hidden"] and p["expanded"] is None for p in panels), panels
        assert {p["id"]: p["heading"].strip() for p in panels} == {
            "train": "Train a new model", "data": "Data at a glance", "versions": "Model versions",
            "experiments": "Experiments", "try": "Try it", "tuning": "Hyperparameter search",
            "history": "Training history"}  # no hint, no arrow
        assert page.locator(".panel-toggle").count() == 0
        assert page.locator("#active-metrics").is_visible() and page.locator("#active-metrics-title").is_hidden()
        for selector in ("#model_type", "#per-day-chart", f"#versions-table tr[data-version='{seeded.version}']",
                         "#try-form", "#history-table"):
            assert page.locator(selector).is_visible(), selector

    assert_all_open()
    # Narrowed to a phone's width they close; widened again, they are all open again.
    page.set_viewport_size(PHONE)
    page.wait_for_selector("#try[data-collapsed='true']")
    assert page.locator("#try-form").is_hidden()
    page.set_viewport_size(DESKTOP)
    page.wait_for_function("!document.querySelector('[data-collapsed]')")
    assert_all_open()
    page_errors.assert_none()


def test_the_history_lists_the_ten_latest_jobs_and_all_of_them_on_request(page, page_errors, seeded):
    """Fifty jobs are a long page; the API's list is padded here with older cancelled jobs."""
    total = 23
    listed: list[str] = []

    def padded(route) -> None:
        jobs = route.fetch().json()
        oldest = datetime.fromisoformat(jobs[-1]["created_at"].replace("Z", "+00:00"))
        older = [{**jobs[-1], "id": f"00000000-0000-4000-8000-{i:012d}", "status": "cancelled", "model_version": None,
                  "error": "cancelled on request", "created_at": (oldest - timedelta(minutes=i + 1)).isoformat()}
                 for i in range(total - len(jobs))]
        listed[:] = [job["id"] for job in jobs + older]
        route.fulfill(json=jobs + older)

    page.route(lambda url: "/api/ml/training-status?" in url, padded)
    shown = "() => [...document.querySelectorAll('#history-table tbody tr')].filter((tr) => tr.offsetParent).map((tr) => tr.dataset.jobId)"
    rows = f"(n) => ({shown})().length === n"
    more = page.locator("#history-more")
    open_dashboard(page, seeded)
    page.wait_for_function(rows, arg=10)
    assert page.evaluate(shown) == listed[:10]
    assert more.text_content() == f"Show all {total}" and more.get_attribute("aria-expanded") == "false"
    more.click()
    page.wait_for_function(rows, arg=total)
    assert page.evaluate(shown) == listed
    assert more.text_content() == "Show the 10 latest" and more.get_attribute("aria-expanded") == "true"
    more.click()
    page.wait_for_function(rows, arg=10)

    # On a phone too, inside the history panel once it is opened.
    page.set_viewport_size(PHONE)
    page.wait_for_selector("#history[data-collapsed='true']")
    page.locator("#history .panel-toggle").click()
    page.wait_for_function(rows, arg=10)
    assert page.text_content("#history .panel-hint") == f"{total} jobs · the last one {api(seeded, '/api/ml/training-status')[0]['status']}"
    more.click()
    page.wait_for_function(rows, arg=total)
    assert page.evaluate(PAGE_SIZE)["width"] <= PHONE["width"]
    page_errors.assert_none()


def test_a_deleted_version_reads_as_deleted_on_its_job_card_and_in_the_history(page, page_errors, seeded):
    last = api(seeded, "/api/ml/training-status?limit=50")[0]
    made = last["model_version"]
    models = {m["version"]: m for m in api(seeded, "/api/ml/models")}
    assert last["status"] == "succeeded" and not models[made]["is_active"] and models[made]["status"] == "ready", \
        "runs after the roll back to the seed version"
    open_dashboard(page, seeded)
    card = page.locator(f"#jobs-body .job[data-job-id='{last['id']}']")
    card.wait_for()
    assert card.locator(".job-outcome").text_content() == f"Produced version v{made}."
    enter_key(page)
    page.click(f"#versions-table tr[data-version='{made}'] button:text('Delete')")
    page.wait_for_selector("#confirm-dialog[open]")
    page.click("#confirm-ok")
    page.wait_for_selector(f"#jobs-body .job[data-job-id='{last['id']}'][data-version-status='deleted']")
    assert card.locator(".job-outcome").text_content() == f"Produced version v{made}, since deleted."
    cell = page.locator(f"#history-table tr[data-job-id='{last['id']}'] td[data-version-status='deleted']")
    cell.wait_for()
    assert cell.text_content() == f"v{made}deleted" and cell.locator(".badge-deleted").is_visible()
    assert page.text_content(f"#versions-table tr[data-version='{made}'] .badge-failed") == "deleted"
    assert next(m for m in api(seeded, "/api/ml/models") if m["version"] == made)["status"] == "deleted"
    page_errors.assert_none()


def test_a_version_the_gate_kept_out_says_why(page, page_errors, seeded):
    weak = {"n_factors": 1, "epochs": 1, "regularization": 1000.0, "bias_regularization": 1000.0}
    with httpx.Client(base_url=seeded.url, timeout=30) as client:
        kept_out = train(client, weak, model_type="matrix_factorization")
    model = next(m for m in api(seeded, "/api/ml/models") if m["version"] == kept_out)
    assert model["gate_activated"] is False and not model["is_active"], model
    open_dashboard(page, seeded)
    reason = page.locator(f"#versions-table tr[data-version='{kept_out}'] .gate-reason")
    reason.wait_for()
    assert reason.text_content() == f"Kept out by the quality gate: {model['gate_reason']}"
    assert "stays active" in model["gate_reason"]
    page_errors.assert_none()


def test_the_header_turns_red_only_when_the_server_cannot_serve(page, page_errors, seeded):
    """Amber while a version switch is under way, however the server answers it (older
    servers with a 503); red when the database is down. /ready's answers are faked here."""
    real = api(seeded, "/ready")
    served, next_version = real["model_version"], real["model_version"] + 100
    answers: list[tuple[int, dict]] = []  # the last one answers every /ready
    page.route("**/ready", lambda route: route.fulfill(status=answers[-1][0], json=answers[-1][1]))
    header = "document.getElementById('serving')"

    answers.append((503, {**real, "ready": False, "active_version": next_version, "detail": None}))
    open_dashboard(page, seeded)
    page.wait_for_function(f"{header}.dataset.state === 'switching'")
    assert page.text_content("#serving") == f"serving v{served} · switching to v{next_version}"
    page.evaluate(WATCH_HEADER)
    detail = f"serving version {served} while version {next_version} loads"
    answers.append((200, {**real, "ready": True, "active_version": next_version, "detail": detail}))
    with page.expect_response(lambda r: r.url.endswith("/ready")):
        pass
    page.wait_for_function(f"{header}.title === {detail!r}")
    assert page.get_attribute("#serving", "data-state") == "switching"
    assert [s for s in page.evaluate("window.headerStates") if s[0] != "switching"] == []

    answers.append((503, {**real, "ready": False, "database": False}))
    page.wait_for_function(f"{header}.dataset.state === 'not-ready'")
    assert page.text_content("#serving") == "not ready · database unreachable"
    page.unroute("**/ready")
    page.wait_for_function(f"{header}.dataset.state === 'ready'")
    assert page.text_content("#serving") == f"serving v{served}"
    page_errors.assert_none()


def test_cancel_a_running_job(page, page_errors, seeded):
    open_dashboard(page, seeded)
    enter_key(page)
    train_from_form(page, MF, {"n_factors": 32, "epochs": 1000})
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


def test_train_ease_and_the_ensemble_from_the_form_and_serve_each(page, page_errors, seeded):
    open_dashboard(page, seeded)
    enter_key(page)

    # EASE: a closed-form fit, so the job card says "one-step fit" instead of an empty chart.
    ease_job = train_from_form(page, "ease", {"regularization": 300, "rating_weights": "0.05, 0.25 0.55,0.85, 1"})
    final, _ = watch_job(page, ease_job)
    assert final["status"] == "succeeded", final
    job = api(seeded, f"/api/ml/training-status/{ease_job}")
    assert job["model_type"] == "ease" and job["hyperparams"]["regularization"] == 300
    assert job["hyperparams"]["rating_weights"] == [0.05, 0.25, 0.55, 0.85, 1]
    assert final["title"].endswith("train · ease")
    assert final["params"] == "regularization=300 rating_weights=0.05,0.25,0.55,0.85,1"
    assert final["traces"] == [] and final["empty"].startswith("One-step fit")
    assert "validation NDCG@10" in final["empty"] or job["history"][-1]["validation_ndcg"] is None
    assert final["epoch_text"] == "One-step fit · done"
    ease = job["model_version"]

    # The ensemble, with its MF shortened in the nested "mf" group; the blend weights stay
    # "auto" (null: chosen on validation). Its curve is its MF's epochs.
    ensemble_job = train_from_form(page, "ensemble", {"mf.epochs": 5})
    final, _ = watch_job(page, ensemble_job)
    assert final["status"] == "succeeded", final
    job = api(seeded, f"/api/ml/training-status/{ensemble_job}")
    hp = job["hyperparams"]
    assert job["model_type"] == "ensemble" and hp["mf"]["epochs"] == 5 and hp["mf_weight"] is None and hp["ranker"] == "ease"
    assert final["params"] == "mf.epochs=5"
    assert final["points"] == len(job["history"]) == 5 and final["empty"] is None
    assert final["ndcg_points"] == sum(p["validation_ndcg"] is not None for p in job["history"])
    ensemble = job["model_version"]

    # Both versions are listed with their types; a ranking-only type has no RMSE, and the
    # gate's metric of each type is marked.
    models = {m["version"]: m for m in api(seeded, "/api/ml/models")}
    assert models[ease]["model_type"] == "ease" and models[ensemble]["model_type"] == "ensemble"
    for version, model_type in ((ease, "ease"), (ensemble, "ensemble")):
        row = page.locator(f"#versions-table tr[data-version='{version}']")
        row.wait_for()
        assert row.get_attribute("data-model-type") == model_type
        assert row.locator(".model-type").text_content() == model_type
        assert row.locator("td[data-metric='ndcg@10']").text_content() == f"{models[version]['metrics']['ndcg@10']:.4f}"
        assert "gate-metric" in row.locator("td[data-metric='ndcg@10']").get_attribute("class")
    assert models[ease]["holdout_rmse"] is None
    assert page.text_content(f"#versions-table tr[data-version='{ease}'] td[data-metric='rmse']") == "–"
    assert page.text_content(f"#versions-table tr[data-version='{ensemble}'] td[data-metric='rmse']") == f"{models[ensemble]['metrics']['rmse']:.4f}"
    for kind in ("ease", "ensemble"):
        assert page.locator(f"#history-table tr[data-model-type='{kind}'][data-status='succeeded']").count() >= 1

    # The metrics chart draws one line per type: EASE on NDCG@10 but not on RMSE.
    page.wait_for_function(f"document.getElementById('metrics-chart').dataset.versions.split(',').includes('{ensemble}')")
    chart = page.evaluate(METRICS_CHART)
    ndcg = {t["type"]: dict(zip(t["x"], t["y"])) for t in chart if t["metric"] == "ndcg@10"}
    assert ndcg["ease"][f"v{ease}"] == pytest.approx(models[ease]["metrics"]["ndcg@10"])
    assert ndcg["ensemble"][f"v{ensemble}"] == pytest.approx(models[ensemble]["metrics"]["ndcg@10"])
    assert {t["type"] for t in chart if t["metric"] == "rmse"} == {MF, "ensemble"}
    assert page.locator("#metrics-types [data-model-type='ease']").text_content() == "ease (gate: NDCG@10)"
    screenshot(page, "07-ranking-types")

    # Each serves through the dashboard once active: EASE ranks without predicted ratings...
    if not models[ease]["is_active"]:
        activate_from_versions(page, ease)
    assert page.text_content("#active-type").strip() == "ease"
    assert "gate" in page.text_content("#active-metrics tr[data-metric='ndcg@10'] th")
    assert page.text_content("#active-metrics tr[data-metric='rmse'] td") == "–"
    page.wait_for_function("document.getElementById('live-chart').dataset.empty?.includes('predicts no ratings')")
    page.fill("#try-user", "1")
    page.click("#try-form button[type=submit]")
    page.wait_for_function(f"document.getElementById('try-user-info').textContent.includes('personalized by v{ease} (ease)')")
    assert page.locator("#try-recs li.rec").count() == 10
    assert all(meta.split(" · ")[-1].startswith("score ") for meta in page.locator("#try-recs .rec-meta").all_text_contents())
    explain_first(page, user=1, seeded=seeded)

    # ...and the ensemble shows its nested hyperparameters and MF's predicted ratings.
    activate_from_versions(page, ensemble)
    assert page.text_content("#active-type").strip() == "ensemble"
    groups = page.eval_on_selector_all("#active-hyperparams .hp-row", "(rows) => rows.map((r) => [r.dataset.group, r.classList.contains('hp-unused')])")
    assert groups == [["ease", False], ["ials", True], ["mf", False]]
    assert page.text_content("#active-hyperparams > .chips [data-param='mf_weight']") == "mf_weight auto"
    assert page.text_content("#active-hyperparams .hp-row[data-group='mf'] [data-param='epochs']") == "epochs 5"
    page.click("#try-form button[type=submit]")
    page.wait_for_function(f"document.getElementById('try-user-info').textContent.includes('personalized by v{ensemble} (ensemble)')")
    assert all("predicted " in meta for meta in page.locator("#try-recs .rec-meta").all_text_contents())
    explain_first(page, user=1, seeded=seeded)
    screenshot(page, "08-ensemble-active")
    page_errors.assert_none()


def explain_first(page, user: int, seeded) -> None:
    """Open "Why?" on the first recommendation: its terms add up to the score the API gives."""
    page.wait_for_selector("#try-recs:not([aria-busy])")
    movie = page.get_attribute("#try-recs li.rec:first-child", "data-movie-id")
    page.click("#try-recs li.rec:first-child .btn-link")
    table = page.locator("#try-recs li.rec:first-child .why table.terms")
    table.wait_for()
    explained = api(seeded, f"/api/ml/explain/{user}/{movie}")
    assert float(table.get_attribute("data-score")) == pytest.approx(explained["score"])
    shown = [float(v.replace("−", "-").replace("±", "")) for v in table.locator("tbody td.num").all_text_contents()]
    assert sum(shown) == pytest.approx(explained["score"], abs=0.01 * len(shown))
    assert table.locator("tfoot td.num").first.text_content() == f"{explained['score']:.2f}"


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


def test_the_rating_buttons_offer_the_servers_scale(stack, seeded, page, page_errors):
    """A server on 0.5-4 offers 1 to 4 (it would refuse the 5 of a fixed 1-5 row), and the
    top button's rating is stored as given."""
    scaled = Stack(env={**stack.env, "RATING_MIN": "0.5", "RATING_MAX": "4.0"}, log_dir=stack.log_dir)
    user = 777_001
    try:
        url = scaled.start_api()
        page.goto(url + "/dashboard")
        page.wait_for_selector("#active-body [data-active-version]")
        enter_key(page)
        page.fill("#try-user", str(user))
        page.click("#try-form button[type=submit]")
        page.wait_for_selector(f"#try-recs[data-user='{user}']:not([aria-busy]) li.rec")
        first = page.locator("#try-recs li.rec:first-child")
        assert first.locator("button.star").evaluate_all("bs => bs.map((b) => b.dataset.stars)") == ["1", "2", "3", "4"]
        movie_id = int(first.get_attribute("data-movie-id"))
        first.locator("button[data-stars='4']").click()
        page.wait_for_function("document.getElementById('try-notice').textContent.includes('Rated')")
        stored = httpx.get(f"{url}/api/users/{user}/ratings", timeout=10).json()
        assert [(r["movie_id"], r["rating"]) for r in stored] == [(movie_id, 4.0)]
        page_errors.assert_none()
    finally:
        for process in scaled.processes:
            scaled.stop(process)
