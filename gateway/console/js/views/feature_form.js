// A form built from a model's feature schema (`features`: name, dtype, categories?, min?, max?): a choice for each
// category column, a number input with the trained range for numbers, a date input for dates.

import { field, formatNumber, h, select } from "../dom.js";

// The kinds the predictor checks values against (services/predictor/input_contract.py: kind_of).
export function kindOf(dtype) {
  const name = String(dtype || "object").toLowerCase();
  if (/^u?int/.test(name)) return "integer";
  if (name.startsWith("float")) return "number";
  if (name === "bool" || name === "boolean") return "boolean";
  if (name.startsWith("datetime")) return "datetime";
  return "text";
}

// A list this long was cut by the trainer (shared/feature_schema.py): not every value is in it.
const MAX_CATEGORIES_RECORDED = 1000;
let datalistCount = 0;

function control(feature) {
  const kind = kindOf(feature.dtype);
  const categories = feature.categories || null;
  if (categories && categories.length && categories.length < MAX_CATEGORIES_RECORDED) {
    return { element: select(categories, { dataset: { feature: feature.name } }), hint: `${categories.length} values seen in training` };
  }
  if (kind === "boolean") return { element: select([["false", "false"], ["true", "true"]], { dataset: { feature: feature.name } }) };
  if (kind === "datetime") return { element: h("input", { type: "date", required: true, value: new Date().toISOString().slice(0, 10), dataset: { feature: feature.name } }) };
  if (kind === "integer" || kind === "number") {
    const hasRange = typeof feature.min === "number" && typeof feature.max === "number";
    const middle = hasRange ? (feature.min + feature.max) / 2 : 0;
    const value = kind === "integer" ? Math.round(middle) : Number(middle.toPrecision(6));
    return {
      element: h("input", { type: "number", required: true, step: kind === "integer" ? 1 : "any", value, dataset: { feature: feature.name } }),
      hint: hasRange ? `trained on ${formatNumber(feature.min)} to ${formatNumber(feature.max)}` : null,
    };
  }
  const input = h("input", { type: "text", required: true, dataset: { feature: feature.name } });
  if (categories && categories.length) {
    datalistCount += 1;
    const id = `categories-${datalistCount}`;
    input.setAttribute("list", id);
    return { element: h("span", {}, input, h("datalist", { id }, categories.map((value) => h("option", { value })))), input, hint: "many values seen in training" };
  }
  return { element: input };
}

function valueOf(feature, input) {
  const kind = kindOf(feature.dtype);
  const raw = input.value;
  if (kind === "integer") return Number.parseInt(raw, 10);
  if (kind === "number") return Number.parseFloat(raw);
  if (kind === "boolean") return raw === "true";
  return raw;
}

// {element, values(), set(name, value), inputs}: values() is one record for POST /predict.
export function featureForm(features) {
  const inputs = new Map();
  const element = h(
    "div",
    { class: "form-grid", id: "feature-form" },
    features.map((feature) => {
      const built = control(feature);
      inputs.set(feature.name, built.input || built.element);
      return field(feature.name, built.element, built.hint);
    }),
  );
  return {
    element,
    inputs,
    values: () => Object.fromEntries(features.map((feature) => [feature.name, valueOf(feature, inputs.get(feature.name))])),
  };
}
