// The holdout metrics the worker records, in reading order, with their labels.

export const METRICS = [
  { key: "rmse", label: "RMSE", group: "Rating error" },
  { key: "mae", label: "MAE", group: "Rating error" },
  { key: "precision@10", label: "Precision@10", group: "All unseen movies" },
  { key: "recall@10", label: "Recall@10", group: "All unseen movies" },
  { key: "ndcg@10", label: "NDCG@10", group: "All unseen movies" },
  { key: "map@10", label: "MAP@10", group: "All unseen movies" },
  { key: "hit_rate@10", label: "Hit rate@10", group: "All unseen movies" },
  { key: "candidate_precision@10", label: "Precision@10", group: "Held-out candidates" },
  { key: "candidate_recall@10", label: "Recall@10", group: "Held-out candidates" },
  { key: "candidate_ndcg@10", label: "NDCG@10", group: "Held-out candidates" },
  { key: "catalog_coverage@10", label: "Catalog coverage@10", group: "Coverage" },
  { key: "n_test", label: "Test ratings", group: "Coverage", integer: true },
];

export const CHARTED = METRICS.filter((m) => m.key !== "n_test");

/** Long label, e.g. "NDCG@10 (held-out candidates)". */
export function fullLabel(metric) {
  return metric.group === "Held-out candidates" ? `${metric.label} · cand.` : metric.label;
}
