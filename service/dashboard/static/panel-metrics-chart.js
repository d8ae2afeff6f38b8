// Metrics over time: one small chart per holdout metric across versions, one line per
// model type (a line never joins versions of different types), with the active version
// starred and the ever-activated ones filled. Types that do not predict ratings have no
// RMSE or MAE: they simply have no points there. On a phone, eleven charts stacked would
// be most of the page, so it shows one chart and a metric picker. A single version is no
// history: its values are listed as numbers until a second one is evaluated.

import { axis, clear, COLORS, empty, plot } from "./charts.js";
import { fill, h } from "./dom.js";
import * as fmt from "./format.js";
import { CHARTED, fullLabel, METRICS } from "./metrics-catalog.js";
import { gateMetricKey, typeColor, typeTag } from "./model-types.js";
import { PHONE } from "./viewport.js";

const view = { chart: null, values: null, pick: null, select: null, legend: null };
let picked = null; // the metric the user chose on a phone, kept across redraws
let last = null; // the data last drawn, to redraw with another metric

export function init(root) {
  view.chart = root.querySelector("#metrics-chart");
  view.values = root.querySelector("#metrics-values");
  view.pick = root.querySelector("#metrics-pick");
  view.select = root.querySelector("#metrics-select");
  view.legend = root.querySelector("#metrics-types");
  fill(view.select, CHARTED.map((m) => h("option", { value: m.key, text: fullLabel(m) })));
  view.select.addEventListener("change", () => {
    picked = view.select.value;
    if (last) render(last);
  });
}

function latestPerVersion(history) {
  const byVersion = new Map();
  for (const record of history) byVersion.set(record.model_version, record);
  return [...byVersion.values()].sort((a, b) => a.model_version - b.model_version);
}

function marker(model, color) {
  if (model?.is_active) return { symbol: "star", size: 15, color: COLORS.accent2 };
  if (model?.activated_at) return { symbol: "circle", size: 8, color };
  return { symbol: "circle-open", size: 8, color };
}

/** The legend of types above the chart: each type's colour and the metric it is gated on. */
function renderLegend(shownTypes, types) {
  fill(view.legend, shownTypes.map((modelType) => {
    const gate = METRICS.find((m) => m.key === gateMetricKey(types.find((t) => t.model_type === modelType)));
    const tag = typeTag(modelType, types);
    if (gate) tag.append(h("span", { class: "muted", text: ` (gate: ${gate.label})` }));
    return tag;
  }));
}

export function render(data) {
  last = data;
  const { history, models, types } = data;
  const records = latestPerVersion(history);
  const byVersion = new Map(models.map((m) => [m.version, m]));
  const typeOf = (record) => byVersion.get(record.model_version)?.model_type || "unknown";
  const shownTypes = [...new Set(records.map(typeOf))];
  renderLegend(shownTypes, types);
  view.chart.dataset.versions = records.map((r) => r.model_version).join(",");
  view.chart.dataset.types = records.map(typeOf).join(",");
  const charting = records.length >= 2;
  view.values.hidden = charting || !records.length;
  view.chart.hidden = records.length === 1;
  view.pick.hidden = !(charting && PHONE.matches);
  if (!records.length) return empty(view.chart, "No evaluated versions yet: train a model to see its metrics here.");
  if (!charting) {
    renderValues(records[0], typeOf(records[0]), types);
    return clear(view.chart);
  }
  const active = models.find((m) => m.is_active);
  const metric = PHONE.matches ? pickedMetric(types.find((t) => t.model_type === active?.model_type)) : null;
  return drawChart(records, typeOf, byVersion, types, metric);
}

function renderValues(record, modelType, types) {
  fill(view.values,
    h("p", { class: "small muted" }, `Only v${record.model_version} `, typeTag(modelType, types),
      " is evaluated so far; the chart over versions appears with the next one."),
    h("dl", { class: "metric-values", dataset: { version: record.model_version } }, CHARTED.map((metric) =>
      h("div", { dataset: { metric: metric.key } },
        h("dt", { text: fullLabel(metric) }), h("dd", { text: fmt.num(record.values[metric.key]) })))),
  );
}

/** On a phone: the metric picked, else the active type's gate metric, else the first. */
function pickedMetric(activeType) {
  const key = [picked, gateMetricKey(activeType)].find((k) => CHARTED.some((m) => m.key === k)) || CHARTED[0].key;
  view.select.value = key;
  return CHARTED.find((m) => m.key === key);
}

/** Every charted metric in a grid, or only `single` in one full-size chart. */
async function drawChart(records, typeOf, byVersion, types, single) {
  const shown = single ? [single] : CHARTED;
  const width = view.chart.clientWidth;
  const columns = single ? 1 : width < 640 ? 2 : width < 1000 ? 3 : 4;
  const rows = Math.ceil(shown.length / columns);
  const categories = records.map((r) => `v${r.model_version}`);
  const shownTypes = [...new Set(records.map(typeOf))];
  const traces = [];
  const layout = {
    grid: { rows, columns, pattern: "independent", xgap: 0.28, ygap: 0.55 },
    showlegend: false,
    margin: { l: 44, r: 8, t: 24, b: 24 },
    annotations: [],
  };
  shown.forEach((metric, i) => {
    const n = i === 0 ? "" : String(i + 1);
    for (const modelType of shownTypes) {
      const points = records.filter((r) => typeOf(r) === modelType && r.values[metric.key] != null);
      if (!points.length) continue; // e.g. RMSE of a ranking-only type
      const color = typeColor(modelType, types);
      const markers = points.map((r) => marker(byVersion.get(r.model_version), color));
      traces.push({
        x: points.map((r) => `v${r.model_version}`), y: points.map((r) => r.values[metric.key]),
        xaxis: `x${n}`, yaxis: `y${n}`, name: fullLabel(metric), legendgroup: modelType,
        meta: [metric.key, modelType], mode: "lines+markers", line: { color, width: 1.5 },
        marker: { symbol: markers.map((m) => m.symbol), size: markers.map((m) => m.size), color: markers.map((m) => m.color) },
        hovertemplate: `%{x} ${modelType}: %{y:.4f}<extra>${fullLabel(metric)}</extra>`,
      });
    }
    layout[`xaxis${n}`] = axis({ type: "category", categoryorder: "array", categoryarray: categories, range: [-0.5, categories.length - 0.5], tickfont: { size: 10 } });
    layout[`yaxis${n}`] = axis({ tickfont: { size: 10 }, nticks: single ? 6 : 4 });
    layout.annotations.push({
      text: `<b>${fullLabel(metric)}</b>`, xref: `x${n} domain`, yref: `y${n} domain`, x: 0, y: 1.02,
      xanchor: "left", yanchor: "bottom", showarrow: false, font: { size: 11 },
    });
  });
  view.chart.style.setProperty("--rows", rows);
  await plot(view.chart, traces, layout);
  // Marked once drawn, so that whoever waits for the mark finds these traces.
  view.chart.dataset.layout = single ? "single" : "grid";
  view.chart.dataset.metric = single ? single.key : "";
}
