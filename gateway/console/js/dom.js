// Building the page with DOM APIs only: text always goes in as text nodes (never parsed as HTML), attributes are set
// one by one, and handlers are functions attached with addEventListener. Nothing here reads or writes innerHTML.

const SAFE_URL = /^(#|\/(?!\/)|blob:)/;

// h("button", {class: "secondary", onclick: fn}, "Save") → <button class="secondary">Save</button>
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) {
      if (typeof value !== "function") throw new TypeError(`${key} must be a function`);
      element.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      element.className = value;
    } else if (key === "dataset") {
      Object.assign(element.dataset, value);
    } else if (key === "style") {
      throw new TypeError("no inline styles: use a class");
    } else if ((key === "href" || key === "src") && !SAFE_URL.test(String(value))) {
      throw new TypeError(`refusing ${key}=${value}: only same-origin and blob: links`);
    } else if (key === "value" || key === "checked" || key === "selected" || key === "disabled") {
      element[key] = value;
    } else {
      element.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(element, children);
  return element;
}

export function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

export function clear(element) {
  element.replaceChildren();
  return element;
}

export function replace(element, ...children) {
  element.replaceChildren();
  return append(element, children);
}

export function notice(kind, ...children) {
  return h("div", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status" }, ...children);
}

// An API error as a notice: its message, and each field's messages when the API names them.
export function errorNotice(error) {
  const details = error && error.errors ? Object.entries(error.errors) : [];
  const lines = [];
  for (const [field, messages] of details) {
    for (const message of [].concat(messages)) {
      lines.push(h("li", {}, typeof message === "string" ? `${field}: ${message}` : `${field}: ${JSON.stringify(message)}`));
    }
  }
  return notice("error", String((error && error.message) || error), lines.length ? h("ul", {}, lines) : null);
}

export function formatNumber(value, digits = 4) {
  if (value === null || value === undefined || value === "") return "";
  if (typeof value !== "number") return String(value);
  if (Number.isInteger(value)) return value.toLocaleString("en-US");
  const magnitude = Math.abs(value);
  if (magnitude !== 0 && (magnitude < 1e-3 || magnitude >= 1e9)) return value.toExponential(3);
  return value.toLocaleString("en-US", { maximumFractionDigits: digits });
}

export function formatDate(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : date.toLocaleString();
}

// A table of records: columns are [{key, label?, numeric?, format?}] or plain keys.
export function table(columns, records, { onSelect, selected, caption } = {}) {
  const specs = columns.map((column) => (typeof column === "string" ? { key: column } : column));
  const head = h("tr", {}, specs.map((spec) => h("th", { class: spec.numeric ? "number" : null, scope: "col" }, spec.label ?? spec.key)));
  const rows = records.map((record, index) => {
    const cells = specs.map((spec) => {
      const value = spec.value ? spec.value(record) : record[spec.key];
      const shown = spec.format ? spec.format(value, record) : typeof value === "number" ? formatNumber(value) : value;
      const numeric = spec.numeric ?? typeof value === "number";
      return h("td", { class: numeric ? "number" : null }, shown instanceof Node ? shown : shown === null || shown === undefined ? "" : String(shown));
    });
    const classes = [onSelect ? "clickable" : "", selected && selected(record) ? "selected" : ""].join(" ").trim();
    return h("tr", { class: classes || null, onclick: onSelect ? () => onSelect(record, index) : null }, cells);
  });
  return h("div", { class: "scroll" }, h("table", {}, caption ? h("caption", { class: "hidden" }, caption) : null, h("thead", {}, head), h("tbody", {}, rows)));
}

export function field(labelText, control, hint) {
  return h("label", {}, labelText, control, hint ? h("span", { class: "hint" }, hint) : null);
}

export function select(options, { value, multiple, ...props } = {}) {
  const element = h("select", { multiple, ...props });
  for (const option of options) {
    const [optionValue, text] = Array.isArray(option) ? option : [option, option];
    element.append(h("option", { value: optionValue, selected: value !== undefined && String(value) === String(optionValue) }, text));
  }
  return element;
}

// Save bytes the page already holds (a Blob) as a file the browser downloads.
export function saveBlob(blob, filename) {
  const url = URL.createObjectURL(blob);
  const link = h("a", { href: url, download: filename, class: "hidden" });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

// CSV of records; text that a spreadsheet would run as a formula (=, +, -, @) is prefixed with a quote.
export function csvText(columns, records) {
  const quote = (value) => {
    if (value === null || value === undefined) return "";
    const text = typeof value === "string" && /^[=+\-@\t\r]/.test(value) ? `'${value}` : String(value);
    return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
  };
  return [columns.map(quote).join(","), ...records.map((record) => columns.map((column) => quote(record[column])).join(","))].join("\n") + "\n";
}
