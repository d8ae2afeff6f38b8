// On a phone, the long panels read now and then (the train form, try-it, the versions,
// the history, the data) start closed, so that the page is what a phone user checks on:
// the active model, the running jobs and the charts. The heading then holds a button with
// aria-expanded, the disclosure pattern that keeps both the heading (to jump between
// sections) and the button for screen readers. On wider screens the heading is plain text
// and everything is open, as it always was.

import { fit } from "./charts.js";
import { h } from "./dom.js";
import { PHONE } from "./viewport.js";

const chosen = new Map(); // body id -> open, as the user last left it on a phone
const live = new Set(); // { root, heading, body, button }

/** Make `body` collapsible on a phone under `heading`; `root`, which holds both, gets
 * data-collapsed while it is. Call it again for a re-rendered block: what the user chose
 * is kept by the body's id. */
export function collapsible(root, heading, body) {
  for (const entry of live) if (!entry.root.isConnected) live.delete(entry);
  const entry = { root, heading, body, button: null };
  live.add(entry);
  apply(entry);
}

/** Every section of the page marked data-collapsible, its h2 over its .panel-body. */
export function initPanels(page = document) {
  for (const section of page.querySelectorAll("[data-collapsible]")) {
    collapsible(section, section.querySelector("h2"), section.querySelector(".panel-body"));
  }
  // A link to a section (the section menu, or the page opened at #train) opens it.
  const openTarget = (hash) => {
    const target = hash.length > 1 && document.getElementById(decodeURIComponent(hash.slice(1)));
    const entry = target && [...live].find((e) => e.root === target || e.root.contains(target));
    if (entry?.button) setOpen(entry, true);
  };
  page.addEventListener("click", (event) => {
    const link = event.target.closest?.('a[href^="#"]');
    if (link) openTarget(link.getAttribute("href"));
  });
  openTarget(location.hash);
}

function apply(entry) {
  if (PHONE.matches) {
    if (!entry.button) {
      const button = h("button", { type: "button", class: "panel-toggle", "aria-controls": entry.body.id });
      button.addEventListener("click", () => setOpen(entry, button.getAttribute("aria-expanded") !== "true"));
      button.append(...entry.heading.childNodes);
      entry.heading.append(button);
      entry.button = button;
    }
    show(entry, chosen.get(entry.body.id) ?? false);
  } else {
    if (entry.button) {
      entry.heading.append(...entry.button.childNodes);
      entry.button.remove();
      entry.button = null;
    }
    const wasHidden = entry.body.hidden;
    entry.body.hidden = false;
    delete entry.root.dataset.collapsed;
    if (wasHidden) fit(entry.body);
  }
}

function setOpen(entry, open) {
  chosen.set(entry.body.id, open);
  show(entry, open);
}

function show(entry, open) {
  const wasHidden = entry.body.hidden;
  entry.button.setAttribute("aria-expanded", String(open));
  entry.body.hidden = !open;
  entry.root.dataset.collapsed = String(!open);
  if (open && wasHidden) fit(entry.body);
}

PHONE.addEventListener("change", () => live.forEach(apply));
