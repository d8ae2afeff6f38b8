// Model versions: activate (roll back) and delete, with a confirmation; the active version
// cannot be deleted, as the API refuses it, and a deleted one stays listed as history.

import { adminApi } from "./api.js";
import { act, confirmAction } from "./dialogs.js";
import { $, fill, h, say } from "./dom.js";
import * as fmt from "./format.js";
import { gateMetricKey, typeTag } from "./model-types.js";

const NARROW_HIDDEN = new Set(["Trained", "Ratings"]);

export function render(container, errorEl, models, types, { onChange }) {
  const active = models.find((m) => m.is_active);
  const deleted = models.filter((m) => m.status === "deleted").length;
  $("#versions-hint").textContent = models.length
    ? `${models.length} version${models.length === 1 ? "" : "s"}${deleted ? ` (${deleted} deleted)` : ""} · ${active ? `v${active.version} active` : "none active"}`
    : "No versions yet";
  if (!models.length) {
    fill(container, h("p", { class: "muted", text: "No versions yet." }));
    return;
  }
  fill(container, h("table", { class: "data-table", id: "versions-table" },
    h("thead", {}, h("tr", {},
      ["Version", "Trained", "Ratings", "RMSE", "NDCG@10", "Actions"].map((t) => h("th", { scope: "col", class: NARROW_HIDDEN.has(t) ? "hide-narrow" : undefined, text: t })))),
    h("tbody", {}, models.map((model) => row(model, types, errorEl, onChange))),
  ));
}

function row(model, types, errorEl, onChange) {
  const v = model.version;
  const activate = h("button", {
    type: "button", class: "btn btn-small", text: "Activate", disabled: model.is_active || model.status !== "ready",
    "aria-label": `Activate version ${v}`,
    onclick: async () => {
      if (!(await confirmAction({
        title: `Activate v${v}?`,
        message: `Every API process switches to v${v} within a second. Users who rated since v${v} was trained are re-solved from their ratings.`,
        confirmLabel: `Activate v${v}`,
      }))) return;
      await act(errorEl, onChange, () => adminApi(`/api/ml/models/activate/${v}`, { method: "POST" }), `v${v} is now active`);
    },
  });
  const remove = h("button", {
    type: "button", class: "btn btn-small btn-danger-outline", text: "Delete", disabled: model.status === "deleted",
    "aria-label": `Delete version ${v}`, "aria-disabled": model.is_active ? "true" : undefined,
    title: model.is_active ? "The active version cannot be deleted; activate another first" : undefined,
    onclick: async () => {
      if (model.is_active) {
        say(errorEl, `Model version ${v} is active; activate another version first.`);
        return;
      }
      if (!(await confirmAction({
        title: `Delete v${v}?`, message: `Version ${v}'s artifact is deleted, so it can never be activated again. Its record and metrics stay in the history.`,
        confirmLabel: `Delete v${v}`, danger: true,
      }))) return;
      await act(errorEl, onChange, () => adminApi(`/api/ml/models/${v}`, { method: "DELETE" }), `v${v} deleted`);
    },
  });
  const gate = gateMetricKey(types.find((t) => t.model_type === model.model_type));
  const metric = (key, holdout) => h("td", {
    class: `num${key === gate ? " gate-metric" : ""}`, dataset: { metric: key },
    title: key === gate ? `the quality gate judges ${model.model_type} versions on this metric` : undefined,
    text: fmt.num(model.metrics?.[key] ?? holdout),
  });
  return h("tr", { dataset: { version: v, active: String(model.is_active), modelType: model.model_type }, class: model.is_active ? "row-active" : "" },
    h("th", { scope: "row" }, `v${v} `, model.is_active ? h("span", { class: "badge badge-active", text: "active" }) : null,
      model.status !== "ready" ? h("span", { class: "badge badge-failed", text: model.status }) : null,
      h("span", { class: "model-type small" }, typeTag(model.model_type, types)),
      model.gate_activated === false ? h("p", { class: "gate-reason small muted", text: `Kept out by the quality gate: ${model.gate_reason}` }) : null),
    h("td", { class: "hide-narrow", title: model.trained_at, text: fmt.dateTime(model.trained_at) }),
    h("td", { class: "num hide-narrow", text: fmt.int(model.n_train_ratings) }),
    metric("rmse", model.holdout_rmse),
    metric("ndcg@10", model.holdout_ndcg),
    h("td", {}, h("div", { class: "row-actions" }, activate, remove)), // a flex td would lose its row's border
  );
}
