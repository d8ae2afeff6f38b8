// Hyperparameter search: the studies, and for the one picked its trials (state, values,
// objective, worker), the best-so-far curve, the parameter importances and the version the
// best trial became. A running study can be cancelled; a new one started over the type's
// default space.

import { adminApi } from "./api.js";
import { axis, COLORS, empty, plot } from "./charts.js";
import { toast } from "./dialogs.js";
import { fill, h, say } from "./dom.js";
import * as fmt from "./format.js";

export const ACTIVE = new Set(["running", "retraining"]);
const view = {};
let picked = null; // the study shown; the newest until one is clicked

export function init(section, { types, onChange }) {
  for (const name of ["studies", "detail", "trials", "curve", "importances", "version", "error", "hint", "form", "type", "trials-input", "cancel"]) {
    view[name] = section.querySelector(`#tuning-${name}`);
  }
  fill(view.type, types.map((t) => h("option", { value: t.model_type, text: t.title, selected: t.model_type === "matrix_factorization" })));
  view.form.addEventListener("submit", async (event) => {
    event.preventDefault();
    say(view.error, "");
    try {
      const body = { model_type: view.type.value, n_trials: Number(view["trials-input"].value) };
      const accepted = await adminApi("/api/ml/tune", { method: "POST", body });
      picked = accepted.study_id;
      toast(`Study started: ${body.n_trials} trials of ${body.model_type}`, "success");
    } catch (error) {
      if (error.code !== "no_key") say(view.error, error.field ? `${error.field}: ${error.message}` : error.message);
    }
    onChange();
  });
  view.cancel.addEventListener("click", async () => {
    if (!picked) return;
    say(view.error, "");
    try {
      await adminApi(`/api/ml/tune/${picked}/cancel`, { method: "POST" });
      toast("Study cancelled: no new trial starts", "success");
    } catch (error) {
      if (error.code !== "no_key") say(view.error, error.message);
    }
    onChange();
  });
}

/** The study to fetch in full: the one clicked, else the newest. */
export function pickedStudy(studies) {
  if (!studies.some((s) => s.id === picked)) picked = studies[0]?.id ?? null;
  return picked;
}

export async function render(studies, detail, { onPick }) {
  view.hint.textContent = studies.length ? `${studies.length} stud${studies.length === 1 ? "y" : "ies"} · the last one ${studies[0].status}` : "No studies yet";
  if (!studies.length) {
    fill(view.studies, h("p", { class: "muted", text: "No studies yet: start one, or POST /api/ml/tune." }));
    view.detail.hidden = true;
    return;
  }
  fill(view.studies, h("table", { class: "data-table", id: "tuning-table" },
    h("thead", {}, h("tr", {}, ["Started", "Type", "Objective", "Status", "Trials", "Best", "Version"].map((t) => h("th", { scope: "col", text: t })))),
    h("tbody", {}, studies.map((s) => h("tr", {
      dataset: { studyId: s.id, status: s.status }, class: s.id === picked ? "row-active" : "", tabindex: "0",
      onclick: () => { picked = s.id; onPick(); },
      onkeydown: (event) => { if (event.key === "Enter") { picked = s.id; onPick(); } },
    },
      h("td", { class: "nowrap", title: s.created_at, text: fmt.dateTime(s.created_at) }),
      h("td", { text: s.model_type }),
      h("td", { text: s.objective }),
      h("td", {}, h("span", { class: `badge badge-${s.status === "retraining" ? "running" : s.status}`, text: s.status })),
      h("td", { class: "num", dataset: { col: "trials" }, text: `${s.trials_finished}/${s.n_trials}${s.trials_running ? ` (${s.trials_running} running)` : ""}` }),
      h("td", { class: "num", dataset: { col: "best" }, text: fmt.num(s.best_value) }),
      h("td", { class: "num", dataset: { col: "version" }, text: s.model_version ? `v${s.model_version}` : "–" }),
    ))),
  ));
  if (!detail) return;
  view.detail.hidden = false;
  view.detail.dataset.studyId = detail.id;
  view.cancel.hidden = !ACTIVE.has(detail.status);
  renderTrials(detail);
  renderImportances(detail.importances);
  renderVersion(detail);
  await renderCurve(detail);
}

function renderTrials(detail) {
  const best = detail.best_trial;
  fill(view.trials, h("table", { class: "data-table", id: "tuning-trials-table" },
    h("thead", {}, h("tr", {}, ["#", "State", "Hyperparameters", detail.objective, "Epochs", "Worker"].map((t) => h("th", { scope: "col", text: t })))),
    h("tbody", {}, detail.trials.map((t) => h("tr", { dataset: { trialNumber: t.number, state: t.state }, class: t.number === best ? "row-active" : "" },
      h("th", { scope: "row", text: String(t.number) }),
      h("td", {}, h("span", { class: `badge badge-${badge(t.state)}`, text: t.state, title: t.note || undefined })),
      h("td", { class: "small", dataset: { col: "params" }, text: Object.entries(t.params).map(([k, v]) => `${k}=${typeof v === "number" ? +v.toPrecision(4) : v}`).join(" ") }),
      h("td", { class: "num", dataset: { col: "value" }, text: fmt.num(t.value) }),
      h("td", { class: "num", text: String(t.intermediate.length || "–") }),
      h("td", { class: "small muted", dataset: { col: "worker" }, text: t.worker || "–" }),
    ))),
  ));
}

function badge(state) {
  return { complete: "succeeded", pruned: "cancelled", failed: "failed", running: "running" }[state] || "queued";
}

function renderImportances(importances) {
  if (!importances) {
    fill(view.importances, h("p", { class: "muted small", text: "Importances appear once 4 trials are complete." }));
    return;
  }
  fill(view.importances, h("ul", { class: "importances" }, Object.entries(importances).map(([name, share]) => h("li", { dataset: { param: name, share: String(share) } },
    h("span", { class: "importance-name", text: name }),
    h("span", { class: "importance-bar", style: `width:${Math.round(share * 100)}%` }),
    h("span", { class: "num small", text: fmt.percent(share) }),
  ))));
}

function renderVersion(detail) {
  const v = detail.version;
  if (!v) {
    const text = detail.status === "retraining" ? "Retraining the best trial on all training data…"
      : detail.error ? detail.error : "The best trial becomes a version once the budget is spent.";
    fill(view.version, h("p", { class: "muted", text }));
    return;
  }
  fill(view.version, h("p", { dataset: { version: v.version, gateActivated: String(v.gate_activated) } },
    h("strong", { text: `v${v.version}` }), " ",
    v.is_active ? h("span", { class: "badge badge-active", text: "active" }) : null, " ",
    `holdout RMSE ${fmt.num(v.holdout_rmse)} · NDCG@10 ${fmt.num(v.holdout_ndcg)}`,
    h("span", { class: "gate-reason small muted", text: ` · ${v.gate_activated ? "" : "kept out by the quality gate: "}${v.gate_reason || ""}` }),
  ));
}

async function renderCurve(detail) {
  const done = detail.trials.filter((t) => t.state === "complete");
  if (!done.length) {
    await empty(view.curve, "No complete trial yet");
    return;
  }
  await plot(view.curve, [
    { name: "trial", x: done.map((t) => t.number), y: done.map((t) => t.value), mode: "markers", type: "scatter", marker: { color: COLORS.muted } },
    { name: "best so far", x: detail.trials.map((t) => t.number), y: detail.best_so_far, mode: "lines", type: "scatter", line: { color: COLORS.accent, shape: "hv" } },
  ], { xaxis: axis({ title: { text: "trial" }, dtick: 1 }), yaxis: axis({ title: { text: detail.objective } }) });
}
