// Wires the panels to the API: one poller per data source, faster while a job runs, and
// an immediate refresh after every action.

import { api, apiOptional } from "./api.js";
import { initAuth } from "./auth.js";
import { onResize } from "./charts.js";
import { initPanels } from "./collapsible.js";
import { $ } from "./dom.js";
import { Poller } from "./poller.js";
import * as activeModel from "./panel-active-model.js";
import * as dataStats from "./panel-data-stats.js";
import * as experimentsPanel from "./panel-experiments.js";
import * as history from "./panel-history.js";
import * as jobsPanel from "./panel-jobs.js";
import * as liveChart from "./panel-live-chart.js";
import * as metricsChart from "./panel-metrics-chart.js";
import * as serving from "./panel-serving.js";
import * as trainForm from "./panel-train-form.js";
import * as tryIt from "./panel-try-it.js";
import * as tuning from "./panel-tuning.js";
import * as versions from "./panel-versions.js";

const JOBS_LISTED = 50;
const FAST_MS = 800;
const SLOW_MS = 4000;
const READY_MS = 5000;
const state = { types: [], jobs: null, models: [], metricsHistory: [], live: undefined, stats: null };
const seen = { models: "", history: "", experiments: "" };

const jobsPoller = new Poller(refreshJobs, SLOW_MS);
const modelsPoller = new Poller(refreshModels, 5000);
// Its own loop: the header must say "not ready" even when the database is down and the
// models poll fails.
const readyPoller = new Poller(refreshReady, READY_MS);
const livePoller = new Poller(refreshLive, 10000);
const statsPoller = new Poller(refreshStats, 30000);
const experimentsPoller = new Poller(refreshExperiments, 5000);
const tuningPoller = new Poller(refreshTuning, SLOW_MS);

async function refreshJobs() {
  const before = new Map((state.jobs || []).map((j) => [j.id, j.status]));
  state.jobs = await api(`/api/ml/training-status?limit=${JOBS_LISTED}`);
  const anyActive = state.jobs.some((j) => jobsPanel.ACTIVE.has(j.status));
  jobsPoller.setInterval(anyActive ? FAST_MS : SLOW_MS);
  renderJobs();
  const finished = state.jobs.some((j) => before.has(j.id) && jobsPanel.ACTIVE.has(before.get(j.id)) && !jobsPanel.ACTIVE.has(j.status));
  if (finished) {
    modelsPoller.now();
    readyPoller.now();
  }
}

/** The job cards and the history, from the jobs and the versions (a job's version may be deleted since). */
function renderJobs() {
  if (!state.jobs) return; // not loaded yet: the panels keep "Loading…"
  jobsPanel.render($("#jobs-body"), $("#jobs-note"), state.jobs, state.types, state.models, { onChange: () => jobsPoller.now() });
  const key = JSON.stringify([
    state.jobs.map((j) => [j.id, j.status, j.current_epoch, j.model_version]),
    state.models.map((m) => [m.version, m.status]),
  ]);
  if (key !== seen.history) {
    seen.history = key;
    history.render(state.jobs, state.types, state.models, { complete: state.jobs.length < JOBS_LISTED });
  }
}

async function refreshModels() {
  const [models, metricsHistory] = await Promise.all([api("/api/ml/models"), api("/api/ml/metrics/history")]);
  const key = JSON.stringify([models, metricsHistory]);
  if (key === seen.models) return;
  seen.models = key;
  state.models = models;
  state.metricsHistory = metricsHistory;
  activeModel.render($("#active-body"), $("#active-badge"), models, state.types);
  versions.render($("#versions-body"), $("#versions-error"), models, state.types, { onChange: refreshAfterAction });
  renderJobs();
  livePoller.now(); // the live chart depends on the active version's type
  await metricsChart.render({ history: metricsHistory, models, types: state.types });
}

async function refreshReady() {
  // A 503's body is a readiness answer too; only a failed request has none.
  const ready = await api("/ready").catch((error) => (error.body && "ready" in error.body ? error.body : { ready: false, detail: error.message }));
  const shown = serving.render($("#serving"), ready);
  readyPoller.setInterval(shown === "switching" ? FAST_MS : READY_MS);
}

async function refreshLive() {
  state.live = await apiOptional("/api/ml/metrics/live");
  const active = state.models.find((m) => m.is_active);
  const ranksOnly = active && state.types.find((t) => t.model_type === active.model_type)?.predicts_ratings === false;
  await liveChart.render($("#live-chart"), $("#drift-badge"), $("#live-note"), state.live, ranksOnly ? active : null);
}

async function refreshStats() {
  // The days that have ratings, not calendar days: one rating today would hide an import from 1998.
  state.stats = await api("/api/stats?days=30&window=rated");
  await dataStats.render($("#data-counts"), $("#data-hint"), $("#per-day-chart"), $("#per-day-note"), state.stats);
}

async function refreshExperiments() {
  const experiments = await api("/api/ml/experiments");
  const metrics = experiments.length ? await api(`/api/ml/experiments/${experiments[0].id}/metrics`) : null;
  const key = JSON.stringify([experiments, metrics]);
  if (key === seen.experiments) return;
  seen.experiments = key;
  experimentsPanel.render($("#experiments"), experiments, metrics, { onChange: refreshAfterAction });
}

async function refreshTuning() {
  const studies = await api("/api/ml/tune?limit=20");
  const id = tuning.pickedStudy(studies);
  const detail = id ? await api(`/api/ml/tune/${id}`) : null;
  tuningPoller.setInterval(studies.some((s) => tuning.ACTIVE.has(s.status)) ? FAST_MS : SLOW_MS);
  await tuning.render(studies, detail, { onPick: () => tuningPoller.now() });
  if (detail?.model_version && !state.models.some((m) => m.version === detail.model_version)) modelsPoller.now();
}

function refreshAfterAction() {
  seen.models = "";
  seen.experiments = "";
  modelsPoller.now();
  readyPoller.now();
  livePoller.now();
  experimentsPoller.now();
}

function redrawCharts() {
  seen.models = "";
  modelsPoller.now();
  livePoller.now();
  statsPoller.now();
}

initAuth();
initPanels(); // before the first await, so a phone never shows them open for a moment
// The model types (what the form offers, each type's defaults and gate metric) come first:
// every panel reads them, and they do not change while the page is open.
let typesError = "";
state.types = await api("/api/ml/model-types").catch((error) => {
  typesError = error.message;
  return [];
});
metricsChart.init($("#metrics"));
history.init($("#history"));
trainForm.init($("#train-form"), { types: state.types, loadError: typesError, onQueued: () => jobsPoller.now() });
// The scale too: the rating buttons offer only what the service takes (none if unknown).
const scale = await api("/api/ratings/scale").catch(() => null);
tryIt.init($("#try"), { scale, onRated: () => { livePoller.now(); statsPoller.now(); } });
tuning.init($("#tuning"), { types: state.types, onChange: () => { tuningPoller.now(); jobsPoller.now(); } });
for (const poller of [jobsPoller, modelsPoller, readyPoller, livePoller, statsPoller, experimentsPoller, tuningPoller]) poller.start();
onResize(redrawCharts);
