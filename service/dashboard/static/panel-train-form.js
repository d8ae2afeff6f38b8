// The training form, built from the API's own schema of the hyperparameters (so it never
// drifts from MFParams), showing the field-level errors the API returns.

import { adminApi, api } from "./api.js";
import { $, fill, h, say } from "./dom.js";
import { toast } from "./dialogs.js";

// Used only when /openapi.json is unavailable.
const FALLBACK = {
  n_factors: { type: "integer", default: 15 },
  regularization: { type: "number", default: 1.0 },
  regularization_exponent: { type: "number", default: 0.55 },
  bias_regularization: { type: "number", default: 3.0 },
  epochs: { type: "integer", default: 12 },
  init_std: { type: "number", default: 0.1 },
  seed: { type: "integer", default: 0 },
  early_stopping_patience: { anyOf: [{ type: "integer" }, { type: "null" }] },
  early_stopping_tol: { type: "number", default: 0.0001 },
};

async function loadSchema() {
  try {
    const spec = await api("/openapi.json");
    return spec.components.schemas.MFParams.properties;
  } catch {
    return FALLBACK;
  }
}

function label(name) {
  return name.replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase());
}

function field(name, schema) {
  const types = schema.anyOf ? schema.anyOf.map((s) => s.type) : [schema.type];
  const nullable = types.includes("null");
  const type = types.find((t) => t !== "null");
  const id = `hp-${name}`;
  const describedBy = `${id}-help ${id}-error`;
  let control;
  if (schema.enum) {
    control = h("select", { id, name, "aria-describedby": describedBy },
      schema.enum.map((value) => h("option", { value, selected: value === schema.default, text: value })));
  } else {
    control = h("input", {
      id, name, type: "number", inputmode: type === "integer" ? "numeric" : "decimal",
      step: type === "integer" ? "1" : "any", value: schema.default ?? "", placeholder: nullable ? "off" : undefined,
      "aria-describedby": describedBy, dataset: { kind: type, nullable: nullable ? "1" : "" },
    });
  }
  return h("div", { class: "field" },
    h("label", { for: id, text: label(name) }),
    control,
    h("p", { class: "help", id: `${id}-help`, text: (schema.description || "").split(" Needs `")[0] }),
    h("p", { class: "field-error", id: `${id}-error`, hidden: true }),
  );
}

function readHyperparams(form) {
  const values = {};
  for (const input of form.querySelectorAll("#hyperparam-fields [name]")) {
    const raw = input.value.trim();
    if (input.tagName === "SELECT") values[input.name] = raw;
    else if (raw === "") values[input.name] = input.dataset.nullable ? null : raw;
    else values[input.name] = Number.isFinite(Number(raw)) ? Number(raw) : raw; // the API names what is wrong
  }
  return values;
}

function clearErrors(form) {
  for (const error of form.querySelectorAll(".field-error")) say(error, "");
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
  say($("#train-error"), "");
}

/** Put each API validation error under its field; returns whether any was placed. */
function showErrors(form, error) {
  const details = error.details?.length ? error.details : [{ field: error.field, message: error.message }];
  let first = null;
  for (const detail of details) {
    const name = (detail.field || "").replace(/^hyperparams\./, "");
    const input = form.querySelector(`[name="${CSS.escape(name)}"]`);
    if (!input) continue;
    input.setAttribute("aria-invalid", "true");
    say(form.querySelector(`#${CSS.escape(input.id)}-error`), detail.message.replace(/^Value error, /, ""));
    first ||= input;
  }
  if (first) first.focus();
  else say($("#train-error"), error.message);
}

export async function init(form, { onQueued }) {
  const schema = await loadSchema();
  fill($("#hyperparam-fields", form), Object.entries(schema).map(([name, spec]) => field(name, spec)));

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const submit = $("#train-submit", form);
    submit.disabled = true;
    try {
      const body = { model_type: form.model_type.value, hyperparams: readHyperparams(form) };
      const accepted = await adminApi("/api/ml/train", { method: "POST", body });
      toast(`Training job queued (${accepted.job_id.slice(0, 8)})`, "success");
      onQueued();
    } catch (error) {
      if (error.status === 422) showErrors(form, error);
      else if (error.code !== "no_key") say($("#train-error"), error.message);
    } finally {
      submit.disabled = false;
    }
  });

  form.addEventListener("reset", () => setTimeout(() => clearErrors(form)));

  $("#retrain-all", form).addEventListener("click", async () => {
    clearErrors(form);
    try {
      const accepted = await adminApi("/api/ml/retrain", { method: "POST" });
      toast(`Retrain queued: ${accepted.jobs.length} job(s)`, "success");
      onQueued();
    } catch (error) {
      if (error.code !== "no_key") say($("#train-error"), error.message);
    }
  });
}
