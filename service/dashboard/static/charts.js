// Thin wrapper over the plotly.js bundle served from the installed plotly package.

export const COLORS = {
  accent: "#3451b2",
  accent2: "#d9480f",
  muted: "#8a94a6",
  good: "#2b8a3e",
  bad: "#c92a2a",
  grid: "#e9ecf1",
};

const plotlyReady = new Promise((resolve) => {
  if (window.Plotly) return resolve(window.Plotly);
  document.getElementById("plotly-js").addEventListener("load", () => resolve(window.Plotly), { once: true });
});

const BASE_LAYOUT = {
  font: { family: "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size: 12, color: "#1d2330" },
  paper_bgcolor: "rgba(0,0,0,0)",
  plot_bgcolor: "rgba(0,0,0,0)",
  margin: { l: 48, r: 16, t: 12, b: 36 },
  hoverlabel: { font: { size: 12 } },
  legend: { orientation: "h", y: -0.2, x: 0 },
};

const CONFIG = { displayModeBar: false, responsive: true };

export function axis(extra = {}) {
  return { gridcolor: COLORS.grid, zeroline: false, automargin: true, ...extra };
}

/** Draw or update a chart in place (Plotly.react diffs, so polling does not flicker). */
export async function plot(el, traces, layout = {}) {
  const Plotly = await plotlyReady;
  el.classList.remove("chart-empty");
  el.removeAttribute("data-empty");
  await Plotly.react(el, traces, { ...BASE_LAYOUT, ...layout, height: el.clientHeight || undefined }, CONFIG);
}

/** Replace a chart with a message, keeping its reserved height. */
export async function empty(el, message) {
  const Plotly = await plotlyReady;
  Plotly.purge(el);
  el.replaceChildren();
  el.classList.add("chart-empty");
  el.dataset.empty = message;
}

/** Remove a chart that is not shown at all (not even as a message). */
export async function clear(el) {
  const Plotly = await plotlyReady;
  Plotly.purge(el);
  el.replaceChildren();
  el.classList.remove("chart-empty");
  el.removeAttribute("data-empty");
}

/** Redraw charts to their container size when the window is resized. */
export function onResize(callback) {
  let timer;
  window.addEventListener("resize", () => {
    clearTimeout(timer);
    timer = setTimeout(callback, 150);
  });
}

/** Fit the charts under `root` to their containers: one drawn while hidden has no size. */
export async function fit(root) {
  const Plotly = await plotlyReady;
  for (const el of root.querySelectorAll(".js-plotly-plot")) Plotly.Plots.resize(el);
}
