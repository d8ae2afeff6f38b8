// The header's serving indicator. Red only when this process cannot serve: the database or
// the broker is down, or no model is loaded while one is active. A version switch (the
// active version changed, this process still serves the previous one) is amber, whatever
// the status code: older servers answered it with a 503 for the second it lasts.

import { fill, h } from "./dom.js";

// A switch that lasts longer than this has most likely failed to load the new version.
const SWITCH_GRACE_MS = 30_000;
let switching = null; // { to, since }: the switch under way, to tell a slow one from a stuck one

/** "ready", "switching" or "not-ready" for a /ready answer (a 503's body counts as an answer). */
export function classify(ready) {
  const up = ready.database !== false && ready.broker !== false;
  const mismatch = ready.active_version != null && ready.model_version !== ready.active_version;
  if (up && mismatch && ready.model_version != null) return "switching";
  if (ready.ready) return "ready";
  return "not-ready";
}

function reason(ready) {
  if (ready.database === false) return "database unreachable";
  if (ready.broker === false) return "broker unreachable";
  if (ready.active_version != null && ready.model_version == null) return `v${ready.active_version} not loaded`;
  return ready.detail || "";
}

/** Show a /ready answer; returns its state, so the caller can poll faster while switching. */
export function render(el, ready) {
  const state = classify(ready);
  if (state !== "switching" || switching?.to !== ready.active_version) {
    switching = state === "switching" ? { to: ready.active_version, since: Date.now() } : null;
  }
  let text;
  if (state === "ready") text = ready.model_version ? `serving v${ready.model_version}` : "no model yet";
  else if (state === "switching") {
    const stuck = Date.now() - switching.since > SWITCH_GRACE_MS;
    text = `serving v${ready.model_version} · ${stuck ? `v${ready.active_version} not loaded` : `switching to v${ready.active_version}`}`;
  } else text = ["not ready", reason(ready)].filter(Boolean).join(" · ");
  el.dataset.state = state;
  el.title = ready.detail || "";
  fill(el, h("span", { class: "dot" }), h("span", { text }));
  return state;
}
