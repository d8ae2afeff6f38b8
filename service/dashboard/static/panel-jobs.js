// Running jobs, live: status, epoch, progress, ETA and the per-epoch curves as the worker
// reports them; a running job can be cancelled (the worker stops at the next epoch).

import { adminApi } from "./api.js";
import { axis, COLORS, empty, plot } from "./charts.js";
import { fill, h } from "./dom.js";
import { toast } from "./dialogs.js";
import * as fmt from "./format.js";
import { changedParams, expectedEpochs, isOneStep } from "./model-types.js";

export const ACTIVE = new Set(["queued", "running"]);
const cards = new Map(); // job id -> { root, parts, chart }

/** Jobs worth watching: every queued or running one, else the latest job in its final state. */
function watched(jobs) {
  const live = jobs.filter((j) => ACTIVE.has(j.status));
  return live.length ? live : jobs.slice(0, 1);
}

/** `models`: every version, deleted ones included, to say what became of a job's version. */
export function render(container, note, jobs, types, models, { onChange }) {
  const shown = watched(jobs);
  note.textContent = shown.some((j) => ACTIVE.has(j.status)) ? "updating every second" : "";
  if (!shown.length) {
    cards.clear();
    fill(container, h("p", { class: "muted", text: "No training jobs yet." }));
    return;
  }
  const ids = new Set(shown.map((j) => j.id));
  for (const id of [...cards.keys()]) if (!ids.has(id)) cards.delete(id);
  const roots = shown.map((job) => {
    const card = cards.get(job.id) || createCard(job, onChange);
    cards.set(job.id, card);
    const made = models.find((m) => m.version === job.model_version);
    update(card, job, types.find((t) => t.model_type === job.model_type), made, !jobs.some((j) => ACTIVE.has(j.status)));
    return card.root;
  });
  if (roots.length !== container.children.length || roots.some((r, i) => container.children[i] !== r)) {
    fill(container, roots);
  }
}

function createCard(job, onChange) {
  const parts = {
    title: h("h3", { class: "job-title" }),
    params: h("p", { class: "job-params small muted" }),
    status: h("span", { class: "badge" }),
    epoch: h("span", { class: "job-epoch" }),
    eta: h("span", { class: "muted" }),
    bar: h("div", { class: "progress-fill" }),
    outcome: h("p", { class: "job-outcome" }),
    cancel: h("button", { type: "button", class: "btn btn-small btn-danger-outline", text: "Cancel" }),
  };
  const track = h("div", { class: "progress", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100", "aria-label": "Training progress" }, parts.bar);
  parts.track = track;
  const chart = h("div", { class: "chart chart-job", role: "img", "aria-label": "Training loss and validation metrics per epoch" });
  const root = h("article", { class: "job", dataset: { jobId: job.id, modelType: job.model_type } },
    h("div", { class: "job-head" }, parts.title, parts.status, parts.cancel),
    parts.params,
    h("div", { class: "job-meta" }, parts.epoch, parts.eta),
    track,
    parts.outcome,
    chart,
  );
  parts.cancel.addEventListener("click", async () => {
    parts.cancel.disabled = true;
    try {
      await adminApi(`/api/ml/training-status/${job.id}/cancel`, { method: "POST" });
      toast("Cancel requested: the worker stops at the next epoch", "info");
      onChange();
    } catch (error) {
      parts.cancel.disabled = false;
      if (error.code !== "no_key") toast(error.message, "error");
    }
  });
  return { root, parts, chart, drawn: "" };
}

function update(card, job, info, made, isLastFinished) {
  const { parts, root } = card;
  root.dataset.status = job.status;
  root.dataset.versionStatus = made?.status || "";
  root.dataset.epoch = job.current_epoch;
  parts.title.textContent = `${isLastFinished && !ACTIVE.has(job.status) ? "Last job · " : ""}${job.kind} · ${job.model_type}`;
  parts.params.textContent = info ? changedParams(job.hyperparams, info).join(" ") || "default hyperparameters" : "";
  parts.status.className = `badge badge-${job.status}`;
  parts.status.textContent = job.cancel_requested && ACTIVE.has(job.status) ? "cancelling" : job.status;
  parts.epoch.textContent = isOneStep(job)
    ? `One-step fit${job.status === "succeeded" ? " · done" : ""}`
    : `Epoch ${job.current_epoch} / ${expectedEpochs(job) || "?"}`;
  parts.eta.textContent = job.status === "running"
    ? `elapsed ${fmt.duration(job.duration_seconds)} · ETA ${job.eta_seconds != null ? fmt.duration(job.eta_seconds) : "…"}`
    : job.status === "queued" ? `queued ${fmt.ago(job.created_at)}` : `took ${fmt.duration(job.duration_seconds)}`;
  const pct = Math.round(job.progress * 100);
  parts.bar.style.width = `${pct}%`;
  parts.track.setAttribute("aria-valuenow", String(pct));
  parts.track.setAttribute("aria-valuetext", `${pct}%`);
  parts.cancel.hidden = !ACTIVE.has(job.status) || job.cancel_requested;
  parts.outcome.textContent = outcome(job, made);
  parts.outcome.className = `job-outcome ${job.status === "failed" ? "error-text" : ""}`;
  drawCurves(card, job);
}

function outcome(job, made) {
  if (job.status === "succeeded") {
    return `Produced version v${job.model_version}${made?.status === "deleted" ? ", since deleted" : ""}.`;
  }
  if (job.status === "failed") return job.error || "Failed.";
  if (job.status === "cancelled") return job.error || "Cancelled.";
  if (job.status === "running" && job.progress >= 0.6 && job.history.length) return "Evaluating on the holdout and refitting on all ratings…";
  return "";
}

/** Room above the plot for the legend, which wraps on narrow screens. */
function topMargin(el) {
  return el.clientWidth < 480 ? 64 : 30;
}

/** The per-epoch series a job reported: only those with at least one value. */
function series(history) {
  const all = [
    { key: "train_loss", name: "training loss", axis: "loss", style: { mode: "lines+markers", line: { color: COLORS.muted } } },
    { key: "train_rmse", name: "training RMSE", axis: "rmse", style: { mode: "lines", line: { color: COLORS.accent, dash: "dot" } } },
    { key: "validation_rmse", name: "validation RMSE", axis: "rmse", style: { mode: "lines+markers", line: { color: COLORS.accent2 } } },
    { key: "validation_ndcg", name: "validation NDCG@10", axis: "ndcg", style: { mode: "lines+markers", line: { color: COLORS.good } } },
  ];
  return all.filter((s) => history.some((p) => p[s.key] != null));
}

function drawCurves(card, job) {
  const oneStep = isOneStep(job);
  const key = `${job.history.length}:${job.status}:${card.chart.clientWidth}:${oneStep}`;
  if (key === card.drawn) return;
  card.drawn = key;
  card.root.dataset.points = String(job.history.length);
  if (oneStep) {
    // A closed-form fit (EASE) has one "epoch": there is no curve to draw, only its result.
    const point = job.history[job.history.length - 1];
    const result = point
      ? series(job.history).map((s) => `${s.name} ${fmt.num(point[s.key])}`).concat(`in ${fmt.duration(point.seconds)}`).join(" · ")
      : job.status === "queued" ? "waiting for a worker" : "fitting…";
    card.root.dataset.series = point ? series(job.history).map((s) => s.key).join(",") : "";
    return empty(card.chart, `One-step fit (no epochs to plot): ${result}`);
  }
  const shown = series(job.history);
  card.root.dataset.series = shown.map((s) => s.key).join(",");
  const epochs = job.history.map((p) => p.epoch);
  const axes = [...new Set(shown.map((s) => s.axis))];
  const axisOf = (name) => (axes.indexOf(name) === 0 ? "y" : `y${axes.indexOf(name) + 1}`);
  const titles = { loss: "loss", rmse: "RMSE", ndcg: "NDCG@10" };
  const layout = {
    xaxis: axis({ title: { text: "epoch" }, range: [0.5, Math.max(expectedEpochs(job), epochs.length, 1) + 0.5],
      dtick: expectedEpochs(job) > 20 ? undefined : 1, domain: [0, axes.length > 2 ? 0.86 : 1] }),
    margin: { l: 56, r: 60, t: topMargin(card.chart), b: 40 },
    legend: { orientation: "h", yanchor: "bottom", y: 1.02, x: 0 },
  };
  axes.forEach((name, i) => {
    const extra = i === 0 ? {} : i === 1
      ? { overlaying: "y", side: "right", showgrid: false, tickformat: ".3f" }
      : { overlaying: "y", side: "right", anchor: "free", position: 1, showgrid: false, tickformat: ".3f" };
    layout[i === 0 ? "yaxis" : `yaxis${i + 1}`] = axis({ title: { text: titles[name] }, ...extra });
  });
  return plot(card.chart, shown.map((s) => ({
    x: epochs, y: job.history.map((p) => p[s.key]), name: s.name, yaxis: axisOf(s.axis), ...s.style,
  })), layout);
}
