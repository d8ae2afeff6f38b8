// The admin API key: asked for once, kept in sessionStorage (this tab's session) only.

import { $, say } from "./dom.js";

const STORAGE_KEY = "recsys.adminKey";

export function getKey() {
  return sessionStorage.getItem(STORAGE_KEY) || "";
}

function setKey(value) {
  if (value) sessionStorage.setItem(STORAGE_KEY, value);
  else sessionStorage.removeItem(STORAGE_KEY);
  renderKeyButton();
}

export function forgetKey() {
  setKey("");
}

function renderKeyButton() {
  const button = $("#key-button");
  const set = Boolean(getKey());
  button.textContent = set ? "Admin key ✓" : "Set admin key";
  button.setAttribute("aria-label", set ? "Admin key is set; change or forget it" : "Set the admin API key");
  button.classList.toggle("key-set", set);
}

let pending = null;

/** Open the key dialog; resolves with the key, or "" when cancelled. */
export function askKey(reason = "") {
  if (pending) return pending;
  const dialog = $("#key-dialog");
  const input = $("#key-input");
  say($("#key-error"), reason);
  input.value = getKey();
  $("#key-forget").hidden = !getKey();
  pending = new Promise((resolve) => {
    dialog.addEventListener(
      "close",
      () => {
        pending = null;
        if (dialog.returnValue === "ok" && input.value.trim()) setKey(input.value.trim());
        if (dialog.returnValue === "forget") setKey("");
        resolve(dialog.returnValue === "ok" ? getKey() : "");
      },
      { once: true },
    );
  });
  dialog.returnValue = "";
  dialog.showModal();
  input.focus();
  return pending;
}

export function initAuth() {
  renderKeyButton();
  $("#key-button").addEventListener("click", () => askKey());
}
