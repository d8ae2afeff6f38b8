// Experiments: the newest one's arms and shares, each arm's metrics with their confidence
// intervals, whether a difference is significant, and stop / promote with a confirmation.
// Starting one is an API call (POST /api/ml/experiments): its arms are versions chosen
// with care, not a form filled in passing.

import { adminApi } from "./api.js";
import { act, confirmAction } from "./dialogs.js";
import { $, fill, h } from "./dom.js";
import * as fmt from "./format.js";

const METRIC_LABEL = { rmse: "RMSE", hit_rate: "hit rate" };

/** `experiments`: GET /api/ml/experiments (newest first); `metrics`: the newest one's, or null. */
export function render(root, experiments, metrics, { onChange }) {
  const body = $("#experiments-body", root);
  const errorEl = $("#experiments-error", root);
  const latest = experiments[0];
  $("#experiments-hint").textContent = latest
    ? `${latest.status === "running" ? "Running" : "Last"}: ${latest.name}`
    : "No experiment yet";
  if (!latest) {
    fill(body, h("p", { class: "muted", text: "No experiment yet: start one with POST /api/ml/experiments (two or more arms, each a version or the popularity fallback, with a share of the traffic)." }));
    return;
  }
  const running = latest.status === "running";
  const byArm = new Map((metrics?.arms || []).map((m) => [m.arm, m]));
  fill(body,
    h("p", { class: "experiment-head", dataset: { experimentId: latest.id, status: latest.status } },
      h("strong", { text: `#${latest.id} ${latest.name} ` }),
      h("span", { class: `badge badge-${running ? "running" : latest.status === "promoted" ? "succeeded" : "cancelled"}`, text: latest.status }),
      h("span", { class: "muted small", text: ` · ${fmt.percent(latest.coverage)} of users · salt ${latest.salt}${latest.promoted_arm ? ` · promoted ${latest.promoted_arm}` : ""}` })),
    h("div", { class: "table-wrap" }, h("table", { class: "data-table", id: "experiment-arms" },
      h("thead", {}, h("tr", {}, ["Arm", "Serves", "Share", "Ratings", "RMSE (CI)", "Hits / shown", "Hit rate (CI)", ""]
        .map((t) => h("th", { scope: "col", text: t })))),
      h("tbody", {}, latest.arms.map((arm, index) => armRow(latest, arm, index, byArm.get(arm.name), running, errorEl, onChange))),
    )),
    metrics ? verdict(metrics) : h("p", { class: "muted", text: "Metrics unavailable." }),
    running ? h("div", { class: "row-actions" }, h("button", {
      type: "button", class: "btn btn-small btn-danger-outline", id: "experiment-stop", text: "Stop experiment",
      onclick: async () => {
        if (!(await confirmAction({
          title: `Stop experiment #${latest.id}?`,
          message: "Every user is served by the active version again within a second. The metrics stay.",
          confirmLabel: "Stop", danger: true,
        }))) return;
        await act(errorEl, onChange, () => adminApi(`/api/ml/experiments/${latest.id}/stop`, { method: "POST" }), `Experiment #${latest.id} stopped`);
      },
    })) : null,
  );
}

function armRow(experiment, arm, index, m, running, errorEl, onChange) {
  const serves = arm.model_version != null ? `v${arm.model_version}` : arm.fallback;
  const ci = (interval) => (interval && interval.low != null ? ` (${fmt.num(interval.low, 3)}–${fmt.num(interval.high, 3)})` : "");
  const promote = running && arm.model_version != null ? h("button", {
    type: "button", class: "btn btn-small", text: "Promote", "aria-label": `Promote arm ${arm.name}`,
    onclick: async () => {
      if (!(await confirmAction({
        title: `Promote ${arm.name} (v${arm.model_version})?`,
        message: `Experiment #${experiment.id} ends and v${arm.model_version} becomes the active version for everyone, in one step.`,
        confirmLabel: `Promote ${arm.name}`,
      }))) return;
      await act(errorEl, onChange, () => adminApi(`/api/ml/experiments/${experiment.id}/promote/${encodeURIComponent(arm.name)}`, { method: "POST" }),
        `v${arm.model_version} is now active`);
    },
  }) : null;
  return h("tr", { dataset: { arm: arm.name } },
    h("th", { scope: "row" }, arm.name, index === 0 ? h("span", { class: "badge badge-gate", text: "control" }) : null),
    h("td", { text: serves }),
    h("td", { class: "num", dataset: { metric: "share" }, text: fmt.percent(arm.share) }),
    h("td", { class: "num", dataset: { metric: "n_ratings" }, text: fmt.int(m?.n_ratings) }),
    h("td", { class: "num", dataset: { metric: "rmse" }, text: `${fmt.num(m?.rmse)}${ci(m?.rmse_ci)}` }),
    h("td", { class: "num", dataset: { metric: "hits" }, text: m ? `${fmt.int(m.hits)} / ${fmt.int(m.exposures)}` : "–" }),
    h("td", { class: "num", dataset: { metric: "hit_rate" }, text: `${fmt.num(m?.hit_rate)}${ci(m?.hit_rate_ci)}` }),
    h("td", {}, promote),
  );
}

function verdict(metrics) {
  const m = metrics.comparisons.length;
  return h("ul", { class: "experiment-verdict", id: "experiment-verdict", dataset: { significant: String(metrics.significant) } },
    metrics.comparisons.map((c) => h("li", { dataset: { metric: c.metric, arm: c.arm, significant: String(c.significant) } },
      `${METRIC_LABEL[c.metric]}, ${c.arm} vs ${c.control}: ${c.difference == null ? "–" : fmt.signed(c.difference)}, p = ${c.p_value == null ? "–" : c.p_value.toPrecision(2)} · `,
      h("strong", { text: c.significant ? `significant: ${c.better} is better` : "not significant" }),
      h("span", { class: "muted small", text: ` (${c.test}; alpha ${metrics.alpha}/${m})` }))));
}
