// Data at a glance: users, movies and ratings counts, and ratings per day.

import { axis, COLORS, empty, plot } from "./charts.js";
import * as fmt from "./format.js";

export function render(countsEl, chartEl, stats) {
  for (const key of ["users", "movies", "ratings"]) {
    countsEl.querySelector(`[data-count="${key}"]`).textContent = fmt.int(stats[key]);
  }
  if (!stats.per_day.length) return empty(chartEl, "No ratings yet.");
  return plot(chartEl, [{
    type: "bar", x: stats.per_day.map((d) => d.day), y: stats.per_day.map((d) => d.ratings),
    marker: { color: COLORS.accent }, hovertemplate: "%{x|%d %b %Y}: %{y} ratings<extra></extra>",
  }], {
    xaxis: axis({ type: "date", tickformat: "%d %b" }),
    yaxis: axis({ rangemode: "tozero" }),
    margin: { l: 40, r: 8, t: 8, b: 32 },
    bargap: 0.15,
  });
}
