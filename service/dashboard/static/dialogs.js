// Confirmation dialog and toasts.

import { $, h, say } from "./dom.js";

/** Ask before a consequential action; resolves true when confirmed. */
export function confirmAction({ title, message, confirmLabel, danger = false }) {
  const dialog = $("#confirm-dialog");
  $("#confirm-title").textContent = title;
  $("#confirm-message").textContent = message;
  const ok = $("#confirm-ok");
  ok.textContent = confirmLabel;
  ok.classList.toggle("btn-danger", danger);
  ok.classList.toggle("btn-primary", !danger);
  dialog.returnValue = "";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.showModal();
  });
}

export function toast(message, kind = "info") {
  const item = h("div", { class: `toast toast-${kind}`, text: message });
  $("#toasts").append(item);
  setTimeout(() => item.remove(), kind === "error" ? 8000 : 4000);
}

/** Run an admin action: its error under the panel (none for a key the user declined to
 * enter), a toast on success, and the panel refreshed either way. */
export async function act(errorEl, onChange, call, success) {
  say(errorEl, "");
  try {
    await call();
    toast(success, "success");
  } catch (error) {
    if (error.code !== "no_key") say(errorEl, error.message);
  }
  onChange();
}
