// Data at a glance: users, movies and ratings counts, and ratings per day. The days are the
// most recent ones that have ratings (the API's rated window), so an import of 1998 stays in
// view after a few ratings today; a dashed line marks where days without ratings were left out.

import { axis, COLORS, empty, plot } from "./charts.js";
import * as fmt from "./format.js";

const DAY_MS = 86_400_000;
const TICK_PX = 90; // room for one "22 Apr 1998" label

export function render(countsEl, hintEl, chartEl, noteEl, stats) {
  for (const key of ["users", "movies", "ratings"]) {
    countsEl.querySelector(`[data-count="${key}"]`).textContent = fmt.int(stats[key]);
  }
  hintEl.textContent = `${fmt.int(stats.users)} users · ${fmt.int(stats.movies)} movies · ${fmt.int(stats.ratings)} ratings`;
  chartEl.dataset.window = stats.window || "calendar"; // absent from servers older than the rated window
  if (!stats.per_day.length) {
    noteEl.textContent = "";
    return empty(chartEl, "No ratings yet.");
  }
  const days = stats.per_day.map((d) => d.day);
  const time = days.map((d) => Date.parse(`${d}T00:00:00Z`));
  const gaps = time.flatMap((t, i) => (i > 0 && t - time[i - 1] > DAY_MS ? [i] : []));
  const withYear = days[0].slice(0, 4) !== days[days.length - 1].slice(0, 4);
  const label = (day) => fmt.day(day, { withYear });
  const span = `${fmt.day(days[0], { withYear: true })} – ${fmt.day(days[days.length - 1], { withYear: true })}`;
  noteEl.textContent = chartEl.dataset.window === "rated"
    ? `The ${days.length} latest days with ratings, ${span}${gaps.length ? "; a dashed line marks days without ratings left out" : ""}.`
    : `${days.length} days up to the newest rating, ${span}.`;
  const ticks = tickIndexes(days.length, gaps, Math.max(2, Math.floor((chartEl.clientWidth || 300) / TICK_PX)));
  return plot(chartEl, [{
    type: "bar", x: days, y: stats.per_day.map((d) => d.ratings), customdata: days.map((d) => fmt.day(d, { withYear: true })),
    marker: { color: COLORS.accent }, hovertemplate: "%{customdata}: %{y} ratings<extra></extra>",
  }], {
    xaxis: axis({ type: "category", tickvals: ticks.map((i) => days[i]), ticktext: ticks.map((i) => label(days[i])), tickangle: 0 }),
    yaxis: axis({ rangemode: "tozero" }),
    shapes: gaps.map((i) => ({
      type: "line", xref: "x", yref: "paper", x0: i - 0.5, x1: i - 0.5, y0: 0, y1: 1,
      line: { color: COLORS.muted, dash: "dash", width: 1 },
    })),
    margin: { l: 40, r: 8, t: 8, b: 32 },
    bargap: 0.15,
  });
}

/** At most `max` labelled bars: the first, the last and the first after each gap come first. */
function tickIndexes(n, gaps, max) {
  const wanted = [0, n - 1, ...gaps];
  for (let k = 1; k < max - 1; k++) wanted.push(Math.round((k * (n - 1)) / (max - 1)));
  const apart = Math.max(1, Math.floor(n / max));
  const chosen = [];
  for (const i of wanted) if (chosen.length < max && chosen.every((j) => Math.abs(i - j) >= apart)) chosen.push(i);
  return chosen.sort((a, b) => a - b);
}
