// What the dashboard knows about model types, all of it from GET /api/ml/model-types:
// colours, the metric each is gated on, and hyperparameters as flat "group.name" paths.

import { COLORS } from "./charts.js";
import { h } from "./dom.js";

// Not COLORS.accent2: that orange marks the active version in the charts.
const PALETTE = [COLORS.accent, "#0b7285", COLORS.good, "#862e9c", "#5c940d", "#a61e4d"];

/** A colour per type, stable across panels (the API's order); unknown types are grey. */
export function typeColor(modelType, types) {
  const i = types.findIndex((t) => t.model_type === modelType);
  return i < 0 ? COLORS.muted : PALETTE[i % PALETTE.length];
}

/** A model type's name with its colour dot, as the metrics chart draws it. Where it has to
 * wrap (a phone's versions table), "matrix_factorization" breaks after the underscore. */
export function typeTag(modelType, types) {
  const words = String(modelType).split("_");
  const name = words.flatMap((word, i) => (i < words.length - 1 ? [`${word}_`, h("wbr")] : [word]));
  return h("span", { class: "type-tag", dataset: { modelType } },
    h("span", { class: "type-dot", style: `background:${typeColor(modelType, types)}`, "aria-hidden": "true" }),
    h("span", {}, name));
}

/** The key in a version's metrics of the holdout metric its type is gated on. */
export function gateMetricKey(info) {
  if (!info) return null;
  return info.gate_metric === "rmse" ? "rmse" : "ndcg@10";
}

/** Nested hyperparameters as [["ease.regularization", 500], ...], in their own order. */
export function flatten(params, prefix = "") {
  return Object.entries(params || {}).flatMap(([name, value]) =>
    value !== null && typeof value === "object" && !Array.isArray(value)
      ? flatten(value, `${prefix}${name}.`)
      : [[`${prefix}${name}`, value]]);
}

/** The hyperparameters that differ from the type's defaults, as "name=value" words. */
export function changedParams(params, info) {
  const defaults = new Map(flatten(info?.defaults).map(([path, value]) => [path, JSON.stringify(value)]));
  return flatten(params)
    .filter(([path, value]) => defaults.get(path) !== JSON.stringify(value))
    .map(([path, value]) => `${path}=${paramText(value)}`);
}

/** A hyperparameter's value in a few characters: lists as "0.1,0.25", null as "auto". */
export function paramText(value) {
  if (value === null) return "auto";
  return Array.isArray(value) ? value.join(",") : String(value);
}

/** Epochs a job will report: EASE solves in one step, the ensemble reports its MF's. */
export function expectedEpochs(job) {
  const hp = job.hyperparams || {};
  return job.total_epochs || hp.epochs || hp.mf?.epochs || 0;
}

export function isOneStep(job) {
  return expectedEpochs(job) <= 1;
}

/** A property's schema with its $ref (a nested hyperparameter object) looked up in `root`. */
export function resolveRef(spec, root) {
  if (!spec?.$ref) return spec;
  const target = root?.$defs?.[spec.$ref.split("/").pop()] || {};
  return { ...target, description: spec.description ?? target.description };
}

/** What null means for a hyperparameter: "auto" when training chooses it, else "off". */
export function nullWord(description) {
  return /chosen on validation/i.test(description || "") ? "auto" : "off";
}
