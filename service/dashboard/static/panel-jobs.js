// Running jobs, live: status, epoch, progress, ETA and the per-epoch curves as the worker
// reports them; a running job can be cancelled (the worker stops at the next epoch).

import { adminApi } from "./api.js";
import { axis, COLORS, plot } from "./charts.js";
import { fill, h } from "./dom.js";
import { toast } from "./dialogs.js";
import * as fmt from "./format.js";

export const ACTIVE = new Set(["queued", "running"]);
const cards = new Map(); // job id -> { root, parts, chart }

/** Jobs worth watching: every queued or running one, else the latest job in its final state. */
function watched(jobs) {
  const live = jobs.filter((j) => ACTIVE.has(j.status));
  return live.length ? live : jobs.slice(0, 1);
}

export function render(container, note, jobs, { onChange }) {
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
    update(card, job, !jobs.some((j) => ACTIVE.has(j.status)));
    return card.root;
  });
  if (roots.length !== container.children.length || roots.some((r, i) => container.children[i] !== r)) {
    fill(container, roots);
  }
}

function createCard(job, onChange) {
  const parts = {
    title: h("h3", { class: "job-title" }),
    status: h("span", { class: "badge" }),
    epoch: h("span", { class: "job-epoch" }),
    eta: h("span", { class: "muted" }),
    bar: h("div", { class: "progress-fill" }),
    outcome: h("p", { class: "job-outcome" }),
    cancel: h("button", { type: "button", class: "btn btn-small btn-danger-outline", text: "Cancel" }),
  };
  const track = h("div", { class: "progress", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100", "aria-label": "Training progress" }, parts.bar);
  parts.track = track;
  const chart = h("div", { class: "chart chart-job", role: "img", "aria-label": "Training loss and validation RMSE per epoch" });
  const root = h("article", { class: "job", dataset: { jobId: job.id } },
    h("div", { class: "job-head" }, parts.title, parts.status, parts.cancel),
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

function update(card, job, isLastFinished) {
  const { parts, root } = card;
  root.dataset.status = job.status;
  root.dataset.epoch = job.current_epoch;
  const hp = job.hyperparams || {};
  parts.title.textContent = `${isLastFinished && !ACTIVE.has(job.status) ? "Last job · " : ""}${job.kind} · ${job.model_type} · ${hp.n_factors ?? "?"} factors`;
  parts.status.className = `badge badge-${job.status}`;
  parts.status.textContent = job.cancel_requested && ACTIVE.has(job.status) ? "cancelling" : job.status;
  parts.epoch.textContent = `Epoch ${job.current_epoch} / ${job.total_epochs || "?"}`;
  parts.eta.textContent = job.status === "running"
    ? `elapsed ${fmt.duration(job.duration_seconds)} · ETA ${job.eta_seconds != null ? fmt.duration(job.eta_seconds) : "…"}`
    : job.status === "queued" ? `queued ${fmt.ago(job.created_at)}` : `took ${fmt.duration(job.duration_seconds)}`;
  const pct = Math.round(job.progress * 100);
  parts.bar.style.width = `${pct}%`;
  parts.track.setAttribute("aria-valuenow", String(pct));
  parts.track.setAttribute("aria-valuetext", `${pct}%`);
  parts.cancel.hidden = !ACTIVE.has(job.status) || job.cancel_requested;
  parts.outcome.textContent = outcome(job);
  parts.outcome.className = `job-outcome ${job.status === "failed" ? "error-text" : ""}`;
  drawCurves(card, job);
}

function outcome(job) {
  if (job.status === "succeeded") return `Produced version v${job.model_version}.`;
  if (job.status === "failed") return job.error || "Failed.";
  if (job.status === "cancelled") return job.error || "Cancelled.";
  if (job.status === "running" && job.progress >= 0.6 && job.history.length) return "Evaluating on the holdout and refitting on all ratings…";
  return "";
}

/** Room above the plot for the legend, which wraps on narrow screens. */
function topMargin(el) {
  return el.clientWidth < 480 ? 64 : 30;
}

function drawCurves(card, job) {
  const key = `${job.history.length}:${card.chart.clientWidth}`;
  if (key === card.drawn) return;
  card.drawn = key;
  const epochs = job.history.map((p) => p.epoch);
  plot(card.chart, [
    { x: epochs, y: job.history.map((p) => p.train_loss), name: "training loss", mode: "lines+markers", line: { color: COLORS.muted }, yaxis: "y" },
    { x: epochs, y: job.history.map((p) => p.train_rmse), name: "training RMSE", mode: "lines", line: { color: COLORS.accent, dash: "dot" }, yaxis: "y2" },
    { x: epochs, y: job.history.map((p) => p.validation_rmse), name: "validation RMSE", mode: "lines+markers", line: { color: COLORS.accent2 }, yaxis: "y2" },
  ], {
    xaxis: axis({ title: { text: "epoch" }, range: [0.5, Math.max(job.total_epochs, epochs.length, 1) + 0.5], dtick: job.total_epochs > 20 ? undefined : 1 }),
    yaxis: axis({ title: { text: "loss" } }),
    yaxis2: axis({ title: { text: "RMSE" }, overlaying: "y", side: "right", showgrid: false, tickmode: "auto", tickformat: ".3f" }),
    margin: { l: 56, r: 60, t: topMargin(card.chart), b: 40 },
    legend: { orientation: "h", yanchor: "bottom", y: 1.02, x: 0 },
  });
}
