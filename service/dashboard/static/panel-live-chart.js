// Live (prequential) RMSE of incoming ratings per hour against the active model's
// holdout RMSE, with the drift flag when the API raises it.

import { axis, COLORS, empty, plot } from "./charts.js";
import { fill, h } from "./dom.js";
import * as fmt from "./format.js";

/** `ranksOnly`: the active version when its type predicts no ratings (nothing to score live). */
export function render(el, badge, note, live, ranksOnly = null) {
  if (ranksOnly) {
    fill(badge);
    note.textContent = `v${ranksOnly.version} (${ranksOnly.model_type}) ranks movies but predicts no ratings, so incoming ratings are not scored live.`;
    return empty(el, `No live RMSE for ${ranksOnly.model_type}: it predicts no ratings`);
  }
  if (live === null) {
    fill(badge);
    note.textContent = "This server has no live metrics endpoint (GET /api/ml/metrics/live).";
    return empty(el, "Live metrics unavailable");
  }
  fill(badge, live.drift
    ? h("span", { class: "badge badge-failed", title: `live RMSE exceeds holdout by more than ${live.drift_margin}`, text: "drift" })
    : h("span", { class: "badge badge-succeeded", text: live.n ? "no drift" : "waiting for ratings" }));
  note.textContent = live.n
    ? `Last ${fmt.int(live.n)} ratings (window ${fmt.int(live.window)}) on v${live.model_version}: live RMSE ${fmt.num(live.rmse)} vs holdout ${fmt.num(live.holdout_rmse)}; drift when above holdout + ${live.drift_margin}.`
    : "Prequential: each incoming rating is scored by the active model before it learns from it. No live ratings yet.";
  const hours = live.hourly.filter((p) => p.rmse !== null);
  if (!hours.length) return empty(el, "No live ratings yet: rate a movie under Try it.");
  const xs = hours.map((p) => p.hour);
  const HALF_HOUR = 30 * 60 * 1000;
  const shift = (iso, ms) => new Date(new Date(iso).getTime() + ms).toISOString();
  const span = [shift(xs[0], -HALF_HOUR), shift(xs[xs.length - 1], HALF_HOUR)];
  const traces = [
    { x: xs, y: hours.map((p) => p.rmse), name: "live RMSE (hourly)", mode: "lines+markers", line: { color: COLORS.accent2 },
      customdata: hours.map((p) => p.n), hovertemplate: "%{x}<br>RMSE %{y:.3f} on %{customdata} ratings<extra></extra>" },
  ];
  if (live.holdout_rmse !== null) {
    traces.push({ x: span, y: [live.holdout_rmse, live.holdout_rmse], name: `holdout RMSE v${live.model_version}`, mode: "lines", line: { color: COLORS.accent, dash: "dash" } });
    traces.push({ x: span, y: [live.holdout_rmse + live.drift_margin, live.holdout_rmse + live.drift_margin], name: "drift threshold", mode: "lines", line: { color: COLORS.bad, dash: "dot", width: 1 } });
  }
  return plot(el, traces, {
    xaxis: axis({ type: "date", range: span }),
    yaxis: axis({ title: { text: "RMSE" } }),
    legend: { orientation: "h", yanchor: "bottom", y: 1.02, x: 0 },
    margin: { l: 52, r: 12, t: el.clientWidth < 480 ? 64 : 30, b: 36 },
  });
}
