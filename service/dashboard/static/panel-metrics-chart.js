// Metrics over time: one small chart per holdout metric across versions, with the
// active version starred and the ever-activated ones filled.

import { axis, COLORS, empty, plot } from "./charts.js";
import { CHARTED, fullLabel } from "./metrics-catalog.js";

function latestPerVersion(history) {
  const byVersion = new Map();
  for (const record of history) byVersion.set(record.model_version, record);
  return [...byVersion.values()].sort((a, b) => a.model_version - b.model_version);
}

function marker(model) {
  if (model?.is_active) return { symbol: "star", size: 15, color: COLORS.accent2 };
  if (model?.activated_at) return { symbol: "circle", size: 8, color: COLORS.accent };
  return { symbol: "circle-open", size: 8, color: COLORS.accent };
}

export function render(el, history, models) {
  const records = latestPerVersion(history);
  if (!records.length) return empty(el, "No evaluated versions yet: train a model to see its metrics here.");
  const byVersion = new Map(models.map((m) => [m.version, m]));
  const columns = el.clientWidth < 640 ? 2 : el.clientWidth < 1000 ? 3 : 4;
  const rows = Math.ceil(CHARTED.length / columns);
  const x = records.map((r) => `v${r.model_version}`);
  const markers = records.map((r) => marker(byVersion.get(r.model_version)));
  const traces = [];
  const layout = {
    grid: { rows, columns, pattern: "independent", xgap: 0.28, ygap: 0.55 },
    showlegend: false,
    margin: { l: 44, r: 8, t: 24, b: 24 },
    annotations: [],
  };
  CHARTED.forEach((metric, i) => {
    const n = i === 0 ? "" : String(i + 1);
    traces.push({
      x, y: records.map((r) => r.values[metric.key] ?? null),
      xaxis: `x${n}`, yaxis: `y${n}`, name: fullLabel(metric), mode: "lines+markers",
      line: { color: COLORS.accent, width: 1.5 },
      marker: { symbol: markers.map((m) => m.symbol), size: markers.map((m) => m.size), color: markers.map((m) => m.color) },
      hovertemplate: `%{x}: %{y:.4f}<extra>${fullLabel(metric)}</extra>`,
    });
    layout[`xaxis${n}`] = axis({ type: "category", tickfont: { size: 10 } });
    layout[`yaxis${n}`] = axis({ tickfont: { size: 10 }, nticks: 4 });
    layout.annotations.push({
      text: `<b>${fullLabel(metric)}</b>`, xref: `x${n} domain`, yref: `y${n} domain`, x: 0, y: 1.02,
      xanchor: "left", yanchor: "bottom", showarrow: false, font: { size: 11 },
    });
  });
  el.style.setProperty("--rows", rows);
  el.dataset.versions = records.map((r) => r.model_version).join(",");
  return plot(el, traces, layout);
}
