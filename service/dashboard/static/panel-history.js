// Training history: every job with its outcome, duration, error text and the version made.

import { fill, h } from "./dom.js";
import * as fmt from "./format.js";

export function render(container, jobs) {
  if (!jobs.length) {
    fill(container, h("p", { class: "muted", text: "No training jobs yet." }));
    return;
  }
  fill(container, h("table", { class: "data-table", id: "history-table" },
    h("thead", {}, h("tr", {},
      ["Created", "Kind", "Status", "Epochs", "Duration", "Version", "Hyperparameters", "Error"].map((t) => h("th", { scope: "col", text: t })))),
    h("tbody", {}, jobs.map((job) => h("tr", { dataset: { jobId: job.id, status: job.status } },
      h("td", { title: job.created_at, text: fmt.dateTime(job.created_at) }),
      h("td", { text: job.kind }),
      h("td", {}, h("span", { class: `badge badge-${job.status}`, text: job.status })),
      h("td", { class: "num", text: `${job.current_epoch}/${job.total_epochs}` }),
      h("td", { class: "num", text: fmt.duration(job.duration_seconds) }),
      h("td", { class: "num", text: job.model_version ? `v${job.model_version}` : "–" }),
      h("td", { class: "small muted", text: summarize(job.hyperparams) }),
      h("td", { class: "error-text", text: job.error || "" }),
    ))),
  ));
}

function summarize(params = {}) {
  const keys = ["n_factors", "epochs", "regularization", "seed"];
  return keys.filter((k) => k in params).map((k) => `${k}=${params[k]}`).join(" ");
}
