// Training history: every job with its model type, outcome, duration, error text, the
// version made, and the hyperparameters it changed from its type's defaults.

import { fill, h } from "./dom.js";
import * as fmt from "./format.js";
import { changedParams, expectedEpochs, flatten, isOneStep, paramText, typeTag } from "./model-types.js";

export function render(container, jobs, types) {
  if (!jobs.length) {
    fill(container, h("p", { class: "muted", text: "No training jobs yet." }));
    return;
  }
  fill(container, h("table", { class: "data-table", id: "history-table" },
    h("thead", {}, h("tr", {},
      ["Created", "Kind", "Type", "Status", "Epochs", "Duration", "Version", "Hyperparameters", "Error"].map((t) => h("th", { scope: "col", text: t })))),
    h("tbody", {}, jobs.map((job) => h("tr", { dataset: { jobId: job.id, status: job.status, modelType: job.model_type } },
      h("td", { title: job.created_at, text: fmt.dateTime(job.created_at) }),
      h("td", { text: job.kind }),
      h("td", {}, typeTag(job.model_type, types)),
      h("td", {}, h("span", { class: `badge badge-${job.status}`, text: job.status })),
      h("td", { class: "num", text: isOneStep(job) ? "one step" : `${job.current_epoch}/${expectedEpochs(job) || "?"}` }),
      h("td", { class: "num", text: fmt.duration(job.duration_seconds) }),
      h("td", { class: "num", text: job.model_version ? `v${job.model_version}` : "–" }),
      h("td", { class: "small muted", title: words(job.hyperparams).join("\n"), text: summarize(job, types) }),
      h("td", { class: "error-text", text: job.error || "" }),
    ))),
  ));
}

/** Every hyperparameter as "name=value", nested ones as "group.name=value". */
function words(params) {
  return flatten(params).map(([name, value]) => `${name}=${paramText(value)}`);
}

function summarize(job, types) {
  const info = types.find((t) => t.model_type === job.model_type);
  if (!info) return words(job.hyperparams).join(" ");
  const changed = changedParams(job.hyperparams, info);
  return changed.length ? changed.join(" ") : "defaults";
}
