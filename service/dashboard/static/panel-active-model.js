// The active model: what it is, how it was trained, and its holdout metrics next to the
// previous version's. On a phone the table of metrics is closed under a line with the gate
// metric, the one the quality gate judges: twelve rows are a screenful.

import { collapsible } from "./collapsible.js";
import { fill, h } from "./dom.js";
import * as fmt from "./format.js";
import { METRICS } from "./metrics-catalog.js";
import { gateMetricKey, nullWord, resolveRef } from "./model-types.js";

/** The version to compare with: the newest one below the active, else the newest other. */
export function previousOf(models, active) {
  const others = models.filter((m) => m.version !== active.version && m.metrics);
  return others.find((m) => m.version < active.version) || others[0] || null;
}

export function render(container, badge, models, types) {
  const active = models.find((m) => m.is_active);
  if (!active) {
    fill(badge);
    fill(container, h("p", { class: "muted", text: models.length
      ? "No version is active. Activate one under Model versions."
      : "No model yet. Train one with the form; the first model activates itself." }));
    return;
  }
  const previous = previousOf(models, active);
  const info = types.find((t) => t.model_type === active.model_type);
  fill(badge, h("span", { class: "badge badge-active", text: `v${active.version} active` }));
  const gate = gateMetricKey(info);
  const metricsTitle = h("h3", { class: "subhead phone-only", id: "active-metrics-title" },
    "Holdout metrics ", h("span", { class: "panel-hint", text: gateLine(active, previous, gate) }));
  const metricsBody = h("div", { class: "table-wrap", id: "active-metrics-body" }, metricsTable(active, previous, gate));
  const metricsBlock = h("div", { class: "active-metrics-block" }, metricsTitle, metricsBody);
  fill(
    container,
    h("div", { class: "active-grid", dataset: { activeVersion: active.version, modelType: active.model_type } },
      h("div", { class: "facts" },
        h("p", { class: "big-version" }, `v${active.version}`, h("span", { class: "muted", id: "active-type", text: ` ${active.model_type}` })),
        info ? h("p", { class: "small muted type-title", text: info.title }) : null,
        facts(active, info),
        h("h3", { class: "subhead", text: "Hyperparameters" }),
        hyperparams(active.hyperparams, info?.hyperparams_schema),
      ),
      metricsBlock,
    ),
  );
  collapsible(metricsBlock, metricsTitle, metricsBody);
}

/** "RMSE 0.9148 · −0.0203 vs v1, better": the gate metric and its change since the previous
 * version, in words too, as the colours of the table are not there. */
function gateLine(active, previous, gate) {
  const metric = METRICS.find((m) => m.key === gate);
  const value = active.metrics?.[gate];
  if (!metric || value == null) return `${METRICS.length} metrics${previous ? ` vs v${previous.version}` : ""}`;
  const change = previous ? fmt.delta(gate, value, previous.metrics?.[gate]) : null;
  return `${metric.label} ${fmt.num(value)}${change ? ` · ${fmt.signed(change.change)} vs v${previous.version}, ${change.verdict}` : ""}`;
}

function facts(model, info) {
  const gate = METRICS.find((m) => m.key === gateMetricKey(info));
  return h("dl", { class: "facts-list" },
    info ? h("div", {}, h("dt", { text: "Ratings" }), h("dd", { text: info.predicts_ratings ? "predicted (/predict works)" : "none: ranks only" })) : null,
    gate ? h("div", {}, h("dt", { text: "Quality gate" }), h("dd", { text: `holdout ${gate.label}` })) : null,
    h("div", {}, h("dt", { text: "Trained" }), h("dd", { title: model.trained_at, text: `${fmt.dateTime(model.trained_at)} (${fmt.ago(model.trained_at)})` })),
    h("div", {}, h("dt", { text: "Activated" }), h("dd", { text: fmt.dateTime(model.activated_at) })),
    h("div", {}, h("dt", { text: "Training ratings" }), h("dd", { text: fmt.int(model.n_train_ratings) })),
    h("div", {}, h("dt", { text: "Users × movies" }), h("dd", { text: `${fmt.int(model.n_users)} × ${fmt.int(model.n_items)}` })),
  );
}

/** Scalars as chips, each nested object (the ensemble's ease, ials, mf) as a labelled row. */
function hyperparams(params, schema) {
  const entries = Object.entries(params || {});
  const isGroup = ([, value]) => value !== null && typeof value === "object";
  const scalars = entries.filter((e) => !isGroup(e));
  return h("div", { class: "hyperparams", id: "active-hyperparams" },
    chips(scalars, schema),
    entries.filter(isGroup).map(([name, value]) => {
      const unused = scalars.some(([other, chosen]) => enumOf(schema, other).includes(name) && chosen !== name);
      return h("div", { class: `hp-row${unused ? " hp-unused" : ""}`, dataset: { group: name } },
        h("span", { class: "hp-group-name", text: name }), unused ? h("span", { class: "muted small", text: " (not used)" }) : null,
        chips(Object.entries(value), resolveRef(schema?.properties?.[name], schema)));
    }),
  );
}

function chips(entries, schema) {
  return h("ul", { class: "chips" },
    entries.map(([name, value]) => h("li", { class: "chip", dataset: { param: name } },
      h("span", { class: "muted", text: `${name} ` }), value === null ? nullWord(schema?.properties?.[name]?.description) : Array.isArray(value) ? value.join(", ") : String(value))));
}

function enumOf(schema, name) {
  return schema?.properties?.[name]?.enum || [];
}

function metricsTable(active, previous, gate) {
  const values = active.metrics || {};
  const before = previous?.metrics || {};
  return h("table", { class: "metrics-table", id: "active-metrics" },
    h("caption", { class: "sr-only", text: "Holdout metrics of the active version and the previous one" }),
    h("thead", {}, h("tr", {},
      h("th", { scope: "col", text: "Holdout metric" }),
      h("th", { scope: "col", class: "num", text: `v${active.version}` }),
      h("th", { scope: "col", class: "num", title: previous?.model_type, text: previous ? `v${previous.version}` : "previous" }),
      h("th", { scope: "col", class: "num", text: "Δ" }),
    )),
    h("tbody", {}, METRICS.flatMap((metric, i) => {
      const header = i === 0 || METRICS[i - 1].group !== metric.group
        ? [h("tr", { class: "group-row" }, h("th", { scope: "rowgroup", colspan: "4", text: metric.group }))] : [];
      const digits = metric.integer ? 0 : 4;
      const change = previous ? fmt.delta(metric.key, values[metric.key], before[metric.key]) : null;
      return [...header, h("tr", { dataset: { metric: metric.key } },
        h("th", { scope: "row" }, metric.label,
          metric.key === gate ? h("span", { class: "badge badge-gate", title: `the quality gate judges ${active.model_type} versions on this metric`, text: "gate" }) : null),
        h("td", { class: "num", text: metric.integer ? fmt.int(values[metric.key]) : fmt.num(values[metric.key], digits) }),
        h("td", { class: "num muted", text: previous ? (metric.integer ? fmt.int(before[metric.key]) : fmt.num(before[metric.key], digits)) : "–" }),
        h("td", { class: `num delta delta-${change?.verdict || "none"}`, text: change ? fmt.signed(change.change, digits) : "–" }),
      )];
    })),
  );
}
