// Try it: a user's top recommendations with the reason for each, and rating a movie to
// watch the list change in real time (the service folds the rating in before answering).

import { adminApi, api } from "./api.js";
import { $, fill, h, say } from "./dom.js";
import * as fmt from "./format.js";

const N = 10;
let currentUser = null;
let shownIds = [];
let rateMovie = async () => {};
let starValues = [];

export function init(section, { scale, onRated }) {
  starValues = scale ? ratingButtons(scale) : [];
  const form = $("#try-form", section);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const user = Number(form.user.value);
    if (!Number.isInteger(user) || user < 1) {
      say($("#try-notice"), "Enter a user id (a whole number from 1).");
      return;
    }
    shownIds = [];
    say($("#try-notice"), "");
    load(user);
  });
  rateMovie = async (movie, value) => {
    try {
      const result = await adminApi("/api/ratings", { method: "POST", body: { user_id: currentUser, movie_id: movie.movie_id ?? movie.id, rating: value } });
      const fold = result.fold_in;
      say($("#try-notice"), `Rated “${movie.title}” ${value}★${result.replaced ? " (replaced the earlier rating)" : ""}. `
        + (fold.folded_in
          ? `Folded into v${fold.model_version} in ${fmt.num(fold.latency_ms, 1)} ms${fold.predicted_before != null ? `; the model predicted ${fmt.num(fold.predicted_before, 2)} before` : ""}.`
          : "No active model to fold into yet."));
      await load(currentUser);
      onRated();
    } catch (error) {
      if (error.code !== "no_key") say($("#try-notice"), error.message);
    }
  };
  initSearch(section);
  load(Number(form.user.value));
}

async function load(user) {
  currentUser = user;
  const list = $("#try-recs");
  list.setAttribute("aria-busy", "true");
  try {
    const [recs, ratings] = await Promise.all([
      api(`/api/ml/recommendations/${user}?n=${N}&explain=true`),
      api(`/api/users/${user}/ratings`),
    ]);
    $("#try-user-info").textContent = `${fmt.int(ratings.length)} ratings · ${strategyLabel(recs)}`;
    const previous = new Set(shownIds);
    const fresh = shownIds.length > 0;
    shownIds = recs.items.map((i) => i.movie_id);
    list.dataset.user = String(user);
    list.dataset.ids = shownIds.join(",");
    fill(list, recs.items.length
      ? recs.items.map((item) => recItem(item, user, fresh && !previous.has(item.movie_id)))
      : h("li", { class: "muted", text: "Nothing left to recommend." }));
    await renderRated(ratings.slice(0, 6));
  } catch (error) {
    fill(list, h("li", { class: "error-text", text: error.message }));
  }
}

function strategyLabel(recs) {
  if (recs.strategy === "personalized") return `personalized by v${recs.model_version}${recs.model_type ? ` (${recs.model_type})` : ""}`;
  return recs.strategy === "genre_fallback" ? "genre fallback (no ratings yet)" : "popularity fallback (no model or no ratings)";
}

function recItem(item, user, isNew) {
  const why = h("div", { class: "why", hidden: true });
  const toggle = h("button", {
    type: "button", class: "btn btn-link", text: "Why?", "aria-expanded": "false",
    onclick: async () => {
      const open = toggle.getAttribute("aria-expanded") === "true";
      toggle.setAttribute("aria-expanded", String(!open));
      why.hidden = open;
      if (!open && !why.childElementCount) await explain(why, user, item.movie_id);
    },
  });
  return h("li", { class: `rec${isNew ? " rec-new" : ""}`, dataset: { movieId: item.movie_id } },
    h("div", { class: "rec-main" },
      h("p", { class: "rec-title" },
        h("strong", { text: item.title }), item.year ? ` (${item.year})` : "",
        isNew ? h("span", { class: "badge badge-new", text: "new" }) : null),
      h("p", { class: "rec-meta small muted", text: `${item.genres.join(", ") || "no genre"} · ${item.predicted_rating != null ? `predicted ${fmt.num(item.predicted_rating, 2)}` : `score ${fmt.num(item.score, 2)}`}` }),
      item.explanation ? h("p", { class: "rec-why small", text: item.explanation }) : null,
      h("div", { class: "rec-actions" }, toggle, stars(item)),
      why,
    ),
  );
}

/** The whole numbers on the scale (1 to 5 on 0.5-5, 1 to 10 on 1-10, 1 to 4 on 0.5-4);
 * a scale with fewer than 2 or more than 10 of them gets 5 even steps from end to end. */
export function ratingButtons({ min, max }) {
  const whole = [];
  for (let n = Math.ceil(min); n <= max; n++) whole.push(n);
  if (whole.length >= 2 && whole.length <= 10) return whole;
  return [0, 1, 2, 3, 4].map((i) => Number((min + (i * (max - min)) / 4).toPrecision(3)));
}

function stars(movie) {
  return h("span", { class: "stars", role: "group", "aria-label": `Rate ${movie.title}` },
    starValues.map((n) => h("button", {
      type: "button", class: "star", text: `${n}★`, "aria-label": `Rate ${movie.title} ${n} star${n > 1 ? "s" : ""}`,
      dataset: { stars: n },
      onclick: () => rateMovie(movie, n),
    })));
}

async function explain(container, user, movieId) {
  fill(container, h("p", { class: "muted small", text: "Loading…" }));
  try {
    const e = await api(`/api/ml/explain/${user}/${movieId}`);
    fill(container,
      h("p", { class: "small", text: e.summary }),
      termsTable(e),
      section("Because you rated", e.because_you_rated.map((c) => `${c.title} (${c.your_rating}★) ${fmt.signed(c.contribution, 2)}`
        + (c.similarity != null ? ` · similarity ${fmt.num(c.similarity, 2)}` : ""))),
      section("Genre matches", e.genre_matches.map((g) => `${g.genre} ${fmt.signed(g.affinity, 2)} over ${g.n_rated} rated${g.drove_match ? " ✓" : ""}`)),
      section("Similar users", e.similar_users.map((s) => `user ${s.user_id} (similarity ${fmt.num(s.similarity, 2)}) rated it ${s.rating}★`)),
    );
  } catch (error) {
    fill(container, h("p", { class: "error-text small", text: error.message }));
  }
}

const SHOWN_TERMS = 8;

/** The additive terms of the score, largest first, as bars; the rest are summed into one
 * row, so the rows always add up to the score shown under them. */
function termsTable(e) {
  const sorted = [...e.terms].sort((a, b) => Math.abs(b.value) - Math.abs(a.value));
  const rows = sorted.slice(0, SHOWN_TERMS).map((t) => ({ label: t.label, value: t.value, kind: t.kind }));
  const rest = sorted.slice(SHOWN_TERMS);
  if (rest.length) {
    const label = rest.every((t) => t.kind === "rated_item") ? `${rest.length} other movies you rated` : `${rest.length} smaller terms`;
    rows.push({ label, value: rest.reduce((sum, t) => sum + t.value, 0), kind: "rest" });
  }
  const largest = Math.max(...rows.map((r) => Math.abs(r.value)), 1e-9);
  return h("table", { class: "terms", dataset: { score: e.score } },
    h("caption", { class: "small muted", text: `How v${e.model_version} (${e.model_type}) scores it: the terms add up to the score` }),
    h("tbody", {}, rows.map((row) => h("tr", { dataset: { kind: row.kind } },
      h("th", { scope: "row", text: row.label }),
      h("td", { class: "term-bar-cell", "aria-hidden": "true" },
        h("span", { class: `term-bar ${row.value < 0 ? "term-neg" : "term-pos"}`, style: `width:${(100 * Math.abs(row.value)) / largest}%` })),
      h("td", { class: "num", text: fmt.signed(row.value, 2) }),
    ))),
    h("tfoot", {},
      h("tr", {}, h("th", { scope: "row", text: "score" }), h("td"), h("td", { class: "num", text: fmt.num(e.score, 2) })),
      e.predicted_rating != null && Math.abs(e.predicted_rating - e.score) > 1e-6
        ? h("tr", {}, h("th", { scope: "row", text: "predicted rating" }), h("td"), h("td", { class: "num", text: fmt.num(e.predicted_rating, 2) }))
        : null,
    ),
  );
}

function section(title, lines) {
  if (!lines.length) return null;
  return h("div", { class: "why-part" }, h("h4", { text: title }), h("ul", {}, lines.map((l) => h("li", { text: l }))));
}

async function renderRated(latest) {
  const titles = await Promise.all(latest.map((r) => api(`/api/movies/${r.movie_id}`).then((m) => m.title).catch(() => `movie ${r.movie_id}`)));
  fill($("#try-rated"), latest.length
    ? latest.map((r, i) => h("li", {}, h("span", { text: titles[i] }), h("span", { class: "muted", text: ` ${r.rating}★ · ${fmt.ago(new Date(r.timestamp * 1000).toISOString())}` })))
    : h("li", { class: "muted", text: "No ratings yet." }));
}

function initSearch(section) {
  const input = $("#try-search", section);
  const results = $("#try-search-results", section);
  let timer;
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const q = input.value.trim();
      if (q.length < 2) return fill(results);
      const page = await api(`/api/movies?search=${encodeURIComponent(q)}&page_size=6`).catch(() => ({ data: [] }));
      fill(results, page.data.length
        ? page.data.map((m) => h("li", {}, h("span", { text: `${m.title}${m.year ? ` (${m.year})` : ""}` }), stars({ ...m, movie_id: m.id })))
        : h("li", { class: "muted", text: "No match." }));
    }, 250);
  });
}
