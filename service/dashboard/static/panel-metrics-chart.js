// Metrics over time: one small chart per holdout metric across versions, one line per
// model type (a line never joins versions of different types), with the active version
// starred and the ever-activated ones filled. Types that do not predict ratings have no
// RMSE or MAE: they simply have no points there.

import { axis, COLORS, empty, plot } from "./charts.js";
import { fill, h } from "./dom.js";
import { CHARTED, fullLabel, METRICS } from "./metrics-catalog.js";
import { gateMetricKey, typeColor, typeTag } from "./model-types.js";

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
function renderLegend(legendEl, shownTypes, types) {
  fill(legendEl, shownTypes.map((modelType) => {
    const gate = METRICS.find((m) => m.key === gateMetricKey(types.find((t) => t.model_type === modelType)));
    const tag = typeTag(modelType, types);
    if (gate) tag.append(h("span", { class: "muted", text: ` (gate: ${gate.label})` }));
    return tag;
  }));
}

export function render(el, legendEl, history, models, types) {
  const records = latestPerVersion(history);
  if (!records.length) {
    fill(legendEl);
    return empty(el, "No evaluated versions yet: train a model to see its metrics here.");
  }
  const byVersion = new Map(models.map((m) => [m.version, m]));
  const typeOf = (record) => byVersion.get(record.model_version)?.model_type || "unknown";
  const shownTypes = [...new Set(records.map(typeOf))];
  renderLegend(legendEl, shownTypes, types);
  const columns = el.clientWidth < 640 ? 2 : el.clientWidth < 1000 ? 3 : 4;
  const rows = Math.ceil(CHARTED.length / columns);
  const categories = records.map((r) => `v${r.model_version}`);
  const traces = [];
  const layout = {
    grid: { rows, columns, pattern: "independent", xgap: 0.28, ygap: 0.55 },
    showlegend: false,
    margin: { l: 44, r: 8, t: 24, b: 24 },
    annotations: [],
  };
  CHARTED.forEach((metric, i) => {
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
    layout[`yaxis${n}`] = axis({ tickfont: { size: 10 }, nticks: 4 });
    layout.annotations.push({
      text: `<b>${fullLabel(metric)}</b>`, xref: `x${n} domain`, yref: `y${n} domain`, x: 0, y: 1.02,
      xanchor: "left", yanchor: "bottom", showarrow: false, font: { size: 11 },
    });
  });
  el.style.setProperty("--rows", rows);
  el.dataset.versions = records.map((r) => r.model_version).join(",");
  el.dataset.types = records.map(typeOf).join(",");
  return plot(el, traces, layout);
}
