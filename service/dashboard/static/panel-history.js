// Training history: every job with its model type, outcome, duration, error text, the
// version made, and the hyperparameters it changed from its type's defaults. The latest
// ten are shown until the user asks for all: fifty jobs are a long scroll, on a phone most.

import { fill, h } from "./dom.js";
import * as fmt from "./format.js";
import { changedParams, expectedEpochs, flatten, isOneStep, paramText, typeTag } from "./model-types.js";

// On a phone each row reflows into a few lines (dashboard.css); `label` names the cells
// whose value alone would not say what it is.
const COLUMNS = [
  { title: "Created" }, { title: "Kind" }, { title: "Type" }, { title: "Status" },
  { title: "Epochs", label: "epochs" }, { title: "Duration", label: "took" }, { title: "Version", label: "version" },
  { title: "Hyperparameters", wide: true }, { title: "Error", wide: true },
];

const LATEST = 10;
const view = { body: null, more: null, hint: null };
let showAll = false;
let last = null; // what was drawn last, to redraw when "Show all" is toggled

export function init(section) {
  view.body = section.querySelector("#history-body");
  view.more = section.querySelector("#history-more");
  view.hint = section.querySelector("#history-hint");
  view.more.addEventListener("click", () => {
    showAll = !showAll;
    render(...last);
  });
}

/** `models`: every version, deleted ones included: a job's version may be gone since.
 * `complete`: false when `jobs` are only the latest the page asked for, not all there are. */
export function render(jobs, types, models, { complete = true } = {}) {
  last = [jobs, types, models, { complete }];
  const n = jobs.length;
  view.hint.textContent = n
    ? `${complete ? `${n} job${n === 1 ? "" : "s"}` : `${n} latest jobs`} · the last one ${jobs[0].status}`
    : "No jobs yet";
  view.more.hidden = n <= LATEST;
  view.more.textContent = showAll ? `Show the ${LATEST} latest` : complete ? `Show all ${n}` : `Show the ${n} latest`;
  view.more.setAttribute("aria-expanded", String(showAll));
  if (!n) {
    fill(view.body, h("p", { class: "muted", text: "No training jobs yet." }));
    return;
  }
  const shown = showAll ? jobs : jobs.slice(0, LATEST);
  fill(view.body, h("table", { class: "data-table", id: "history-table" },
    h("thead", {}, h("tr", {}, COLUMNS.map((c) => h("th", { scope: "col", text: c.title })))),
    h("tbody", {}, shown.map((job) => h("tr", { dataset: { jobId: job.id, status: job.status, modelType: job.model_type } },
      cells(job, types, models).map((cell, i) => {
        if (COLUMNS[i].label) cell.dataset.label = COLUMNS[i].label;
        if (COLUMNS[i].wide) cell.classList.add("wide");
        return cell;
      })))),
  ));
}

function cells(job, types, models) {
  return [
    h("td", { class: "nowrap", title: job.created_at, text: fmt.dateTime(job.created_at) }),
    h("td", { text: job.kind }),
    h("td", {}, typeTag(job.model_type, types)),
    h("td", {}, h("span", { class: `badge badge-${job.status}`, text: job.status })),
    h("td", { class: "num", text: isOneStep(job) ? "one step" : `${job.current_epoch}/${expectedEpochs(job) || "?"}` }),
    h("td", { class: "num", text: fmt.duration(job.duration_seconds) }),
    versionCell(job.model_version, models),
    h("td", { class: "small muted", title: words(job.hyperparams).join("\n"), text: summarize(job, types) }),
    h("td", { class: "error-text", text: job.error || "" }),
  ];
}

function versionCell(version, models) {
  if (!version) return h("td", { class: "num", text: "–" });
  const deleted = models.find((m) => m.version === version)?.status === "deleted";
  return h("td", { class: "num", dataset: { versionStatus: deleted ? "deleted" : "" } },
    `v${version}`, deleted ? h("span", { class: "badge badge-deleted", text: "deleted" }) : null);
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
