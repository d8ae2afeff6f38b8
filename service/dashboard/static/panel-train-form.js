// The training form: a model type and that type's hyperparameters, both built from
// GET /api/ml/model-types (so the form never drifts from the API's validation), with the
// field-level errors the API returns shown next to their fields, nested ones included.

import { adminApi } from "./api.js";
import { $, fill, h, say } from "./dom.js";
import { toast } from "./dialogs.js";
import { nullWord, resolveRef } from "./model-types.js";

const NUMBER = /-?\d+(?:\.\d+)?(?:e[+-]?\d+)?/.source;
// "in [1, 1024]" or "in (0, 1e4]" in a field's description, when the schema has no bounds.
const RANGE = new RegExp(`\\bin [[(]\\s*(${NUMBER})\\s*,\\s*(${NUMBER})\\s*[\\])]`, "i");

let byType = new Map(); // model_type -> its entry of GET /api/ml/model-types
const built = new Map(); // model_type -> its fields, kept while switching so edits survive

function label(name) {
  return name.replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase());
}

function bounds(spec) {
  const min = spec.minimum ?? spec.exclusiveMinimum;
  const max = spec.maximum ?? spec.exclusiveMaximum;
  if (min !== undefined || max !== undefined) return { min, max };
  const match = RANGE.exec(spec.description || "");
  return match ? { min: match[1], max: match[2] } : {};
}

/** The input for the hyperparameter at `path`: a number (null-able ones with an "auto" box), a choice, or a list of numbers. */
function field(path, spec, value) {
  const options = spec.anyOf || [spec];
  const nullable = options.some((s) => s.type === "null");
  const main = { ...(options.find((s) => s.type !== "null") || {}), description: spec.description };
  const name = path.join(".");
  const id = `hp-${path.join("-")}`;
  const describedBy = `${id}-help ${id}-error`;
  let control;
  let toggle = null;
  if (main.type === "array") {
    // A fixed list of numbers (EASE's rating weights): typed as "0.1, 0.25, 0.55".
    control = h("input", {
      id, name, type: "text", inputmode: "decimal", value: (value || []).join(", "), spellcheck: "false",
      "aria-describedby": describedBy, dataset: { path: name, kind: "list" },
    });
  } else if (main.enum) {
    control = h("select", { id, name, "aria-describedby": describedBy, dataset: { path: name } },
      main.enum.map((option) => h("option", { value: option, selected: option === value, text: option })));
  } else {
    const numeric = main.type === "integer" || main.type === "number";
    const { min, max } = numeric ? bounds(main) : {};
    control = h("input", {
      id, name, type: numeric ? "number" : "text", min, max,
      inputmode: main.type === "integer" ? "numeric" : numeric ? "decimal" : undefined,
      step: main.type === "integer" ? "1" : numeric ? "any" : undefined,
      value: value ?? "", disabled: nullable && value === null,
      "aria-describedby": describedBy, dataset: { path: name, nullable: nullable ? "1" : "" },
    });
    if (nullable) toggle = nullToggle(control, nullWord(spec.description));
  }
  const help = (spec.description || "").split(" Needs `")[0];
  return h("div", { class: "field", dataset: { field: name } },
    h("label", { for: id, text: label(path[path.length - 1]) }),
    toggle ? h("div", { class: "input-row" }, control, toggle) : control,
    h("p", { class: "help", id: `${id}-help`, title: help, text: help }),
    h("p", { class: "field-error", id: `${id}-error`, hidden: true }),
  );
}

/** A null-able number: ticking "auto" (or "off") sends null and disables the input. */
function nullToggle(input, word) {
  const box = h("input", { type: "checkbox", id: `${input.id}-null`, checked: input.disabled, class: "null-box" });
  box.addEventListener("change", () => {
    input.disabled = box.checked;
    if (!box.checked) input.focus();
  });
  return h("label", { class: "null-toggle", for: box.id, title: `${word}: send null` }, box, ` ${word}`);
}

/** The fields of an object schema: its scalars, then its nested objects as collapsible groups. */
function fieldsOf(schema, root, defaults, path) {
  const scalars = [];
  const groups = [];
  for (const [name, raw] of Object.entries(schema.properties || {})) {
    const spec = resolveRef(raw, root);
    const value = defaults?.[name] !== undefined ? defaults[name] : spec.default;
    if (spec.type === "object" && spec.properties) {
      groups.push(h("details", { class: "hp-group", dataset: { group: name } },
        h("summary", {}, h("span", { class: "hp-group-name", text: name }),
          h("span", { class: "muted small", text: spec.description ? ` · ${spec.description}` : "" }),
          h("span", { class: "muted small hp-note" })),
        h("div", { class: "fields" }, fieldsOf(spec, root, value, [...path, name])),
      ));
    } else {
      scalars.push(field([...path, name], spec, value));
    }
  }
  return [...scalars, ...groups];
}

/** A select whose options name sibling groups (the ensemble's ranker) marks the others unused. */
function linkChoices(container) {
  for (const select of container.querySelectorAll("select[data-path]")) {
    const level = select.closest(".fields");
    const groups = [...select.options]
      .map((option) => [...level.children].find((el) => el.dataset.group === option.value))
      .filter(Boolean);
    if (!groups.length) continue;
    const sync = () => {
      for (const group of groups) {
        const unused = group.dataset.group !== select.value;
        group.classList.toggle("hp-unused", unused);
        $(".hp-note", group).textContent = unused ? ` · not used while ${select.name} is ${select.value}` : "";
      }
    };
    select.addEventListener("change", sync);
    sync();
  }
}

function build(info) {
  const schema = info.hyperparams_schema || {};
  const container = h("div", { class: "fields", dataset: { modelType: info.model_type } },
    fieldsOf(schema, schema, info.defaults, []));
  linkChoices(container);
  return container;
}

function show(form, modelType, { fresh = false } = {}) {
  const info = byType.get(modelType);
  if (fresh || !built.has(modelType)) built.set(modelType, build(info));
  say($("#model_type-help", form), info.description);
  fill($("#hyperparam-fields", form), built.get(modelType));
}

function current(form) {
  return built.get(form.model_type.value);
}

/** A number where the text is one, else the text as typed: the API names what is wrong. */
function number(raw) {
  return raw !== "" && Number.isFinite(Number(raw)) ? Number(raw) : raw;
}

function valueOf(input) {
  if (input.tagName === "SELECT") return input.value;
  if (input.disabled && input.dataset.nullable) return null;
  const raw = input.value.trim();
  if (input.dataset.kind === "list") return raw === "" ? [] : raw.split(/[\s,;]+/).filter(Boolean).map(number);
  return input.type === "number" ? number(raw) : raw;
}

/** The hyperparameters as the API takes them, nested groups as nested objects. */
function readHyperparams(container) {
  const values = {};
  for (const input of container.querySelectorAll("[data-path]")) {
    const path = input.dataset.path.split(".");
    let target = values;
    for (const key of path.slice(0, -1)) target = target[key] ??= {};
    target[path[path.length - 1]] = valueOf(input);
  }
  return values;
}

function clearErrors(form) {
  for (const error of form.querySelectorAll(".field-error")) say(error, "");
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
  say($("#train-error", form), "");
}

/** The control an API error's field names ("model_type", "hyperparams.ease.regularization"),
 * and the item of a list it names, if any ("hyperparams.ease.rating_weights.2": item 2). */
function controlFor(form, fieldName = "") {
  if (fieldName === "model_type") return { control: form.model_type };
  if (!fieldName.startsWith("hyperparams.")) return { control: null };
  const path = fieldName.slice("hyperparams.".length).split(".");
  for (let n = path.length; n > 0; n--) {
    const control = current(form)?.querySelector(`[data-path="${CSS.escape(path.slice(0, n).join("."))}"]`);
    if (control) return { control, item: n < path.length ? Number(path[n]) : null };
  }
  return { control: null };
}

/** Put each API validation error next to its field (opening its group); the rest go under the form. */
function showErrors(form, error) {
  const details = error.details?.length ? error.details : [{ field: error.field, message: error.message }];
  const placed = new Map(); // control -> its messages
  const unplaced = [];
  for (const detail of details) {
    const message = (detail.message || "").replace(/^Value error, /, "");
    const { control, item } = controlFor(form, detail.field || "");
    if (!control) unplaced.push(detail.field && detail.field !== "body" ? `${detail.field}: ${message}` : message);
    else placed.set(control, [...(placed.get(control) || []), Number.isInteger(item) ? `item ${item + 1}: ${message}` : message]);
  }
  for (const [control, messages] of placed) {
    control.setAttribute("aria-invalid", "true");
    say(document.getElementById(`${control.id}-error`), messages.join("; "));
    for (let group = control.closest("details"); group; group = group.parentElement.closest("details")) group.open = true;
  }
  say($("#train-error", form), unplaced.join(" · "));
  const [first] = placed.keys();
  first?.focus();
}

/** Fill the type select and the fields; `types` is GET /api/ml/model-types (empty if it failed). */
export function init(form, { types, loadError, onQueued }) {
  byType = new Map(types.map((t) => [t.model_type, t]));
  const select = form.model_type;
  fill(select, types.map((t) => h("option", { value: t.model_type, selected: t.is_default, text: t.title })));
  const submit = $("#train-submit", form);
  if (!types.length) {
    submit.disabled = true;
    say($("#train-error", form), `Could not load the model types${loadError ? `: ${loadError}` : ""}. Reload the page to train.`);
    fill($("#hyperparam-fields", form));
    return;
  }
  show(form, select.value);
  select.addEventListener("change", () => {
    clearErrors(form);
    show(form, select.value);
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    submit.disabled = true;
    try {
      const body = { model_type: select.value, hyperparams: readHyperparams(current(form)) };
      const accepted = await adminApi("/api/ml/train", { method: "POST", body });
      toast(`Training job queued: ${body.model_type} (${accepted.job_id.slice(0, 8)})`, "success");
      onQueued();
    } catch (error) {
      if (error.status === 422) showErrors(form, error);
      else if (error.code !== "no_key") say($("#train-error", form), error.message);
    } finally {
      submit.disabled = false;
    }
  });

  $("#train-defaults", form).addEventListener("click", () => {
    clearErrors(form);
    show(form, select.value, { fresh: true });
  });

  $("#retrain-active", form).addEventListener("click", async () => {
    clearErrors(form);
    try {
      const accepted = await adminApi("/api/ml/retrain", { method: "POST" });
      toast(`Retrain queued: ${accepted.jobs.length} job(s)`, "success");
      onQueued();
    } catch (error) {
      if (error.code !== "no_key") say($("#train-error", form), error.message);
    }
  });
}
