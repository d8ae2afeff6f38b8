// Number, date and duration formatting shared by every panel.

const LOWER_IS_BETTER = new Set(["rmse", "mae"]);

export function num(value, digits = 4) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  return Number(value).toFixed(digits);
}

export function int(value) {
  if (value === null || value === undefined) return "–";
  return Number(value).toLocaleString("en-US");
}

export function percent(fraction) {
  return `${Math.round((fraction || 0) * 100)}%`;
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

export function dateTime(iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  return d.toLocaleString("en-GB", { year: "numeric", month: "short", day: "2-digit", hour: "2-digit", minute: "2-digit" });
}

/** A UTC calendar day ("2026-03-04") as "04 Mar", or "04 Mar 2026" with the year. */
export function day(isoDay, { withYear = false } = {}) {
  return new Date(`${isoDay}T00:00:00Z`).toLocaleDateString("en-GB", {
    day: "2-digit", month: "short", year: withYear ? "numeric" : undefined, timeZone: "UTC",
  });
}

export function ago(iso) {
  if (!iso) return "–";
  const seconds = (Date.now() - new Date(iso).getTime()) / 1000;
  if (seconds < 45) return "just now";
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
  if (seconds < 60 * 86400) return `${Math.round(seconds / 86400)} d ago`;
  return new Date(iso).toLocaleDateString("en-GB", { year: "numeric", month: "short", day: "2-digit" });
}

/** The change from `before` to `after`, and whether it is an improvement for this metric. */
export function delta(metric, after, before) {
  if (after === null || after === undefined || before === null || before === undefined) return null;
  const change = after - before;
  if (metric === "n_test" || Math.abs(change) < 1e-12) return { change, verdict: "same" };
  const better = LOWER_IS_BETTER.has(metric) ? change < 0 : change > 0;
  return { change, verdict: better ? "better" : "worse" };
}

export function signed(value, digits = 4) {
  return `${value > 0 ? "+" : value < 0 ? "−" : "±"}${Math.abs(value).toFixed(digits)}`;
}
