// A project's data: upload a dataset (parquet, CSV or .xlsx: the server converts), its profile and a preview.

import { get, request } from "../api.js";
import { errorNotice, formatDate, formatNumber, h, notice, replace, table } from "../dom.js";
import { projectShell } from "./project_shell.js";

const PREVIEW_ROWS = 20;

export async function dataView(context) {
  const { project, content } = await projectShell(context, "data");
  const datasets = await get(`/projects/${project.id}/datasets?page_size=100`);
  const file = h("input", { type: "file", name: "file", accept: ".parquet,.pq,.csv,.xlsx,.xlsm", required: true });
  const message = h("div");
  const submit = h("button", { type: "submit" }, "Upload");
  const upload = h(
    "form",
    {
      class: "card",
      id: "upload-form",
      onsubmit: async (event) => {
        event.preventDefault();
        if (!file.files.length) return;
        const body = new FormData();
        body.append("file", file.files[0]);
        submit.disabled = true;
        replace(message, notice("", `Uploading and profiling ${file.files[0].name}…`));
        try {
          await request("POST", `/projects/${project.id}/datasets`, { body });
          context.navigate(`#/projects/${project.id}`); // the new dataset is the newest: shown first
        } catch (error) {
          replace(message, errorNotice(error));
          submit.disabled = false;
        }
      },
    },
    h("h2", {}, "Upload sales history"),
    h("p", { class: "muted small" }, "A parquet file, a CSV file (separator, decimal comma and encoding are detected) or an Excel .xlsx workbook (its first sheet; the first row names the columns)."),
    h("div", { class: "row" }, file, submit),
    message,
  );
  if (!datasets.length) {
    replace(content, upload, notice("", "No dataset yet: upload the project's sales history to see its profile and train a model."));
    return;
  }
  const details = h("div");
  const show = async (dataset) => {
    replace(details, h("p", { class: "muted" }, "Loading…"));
    const preview = await get(`/projects/${project.id}/datasets/${dataset.id}/preview?limit=${PREVIEW_ROWS}`);
    replace(details, datasetDetails(project, dataset, preview));
  };
  let selected = datasets[0];
  const list = () =>
    table(
      [
        { key: "filename", label: "File" },
        { key: "rows", label: "Rows" },
        { key: "columns", label: "Columns", value: (dataset) => dataset.columns.length },
        { key: "size_bytes", label: "Size", format: (bytes) => `${formatNumber(bytes / 1024, 1)} KB` },
        { key: "created_at", label: "Uploaded", format: formatDate },
      ],
      datasets,
      {
        selected: (dataset) => dataset.id === selected.id,
        onSelect: (dataset) => {
          selected = dataset;
          replace(listBox, list());
          show(dataset).catch((error) => replace(details, errorNotice(error)));
        },
      },
    );
  const listBox = h("div", { id: "dataset-list" }, list());
  replace(content, h("div", { class: "card" }, h("h2", {}, "Datasets"), listBox), details, upload);
  await show(selected);
}

function datasetDetails(project, dataset, preview) {
  const profile = table(
    [
      { key: "name", label: "Column" },
      { key: "dtype", label: "Type" },
      { key: "nulls", label: "Nulls" },
      { key: "distinct", label: "Distinct" },
      { key: "min", label: "Min", numeric: true },
      { key: "max", label: "Max", numeric: true },
      { key: "mean", label: "Mean", numeric: true },
    ],
    dataset.columns,
  );
  const targetMissing = !dataset.columns.some((column) => column.name === project.target);
  return h(
    "div",
    {},
    h(
      "div",
      { class: "card", id: "profile" },
      h("h2", {}, "Profile of ", dataset.filename),
      h("p", { class: "muted small" }, `${formatNumber(dataset.rows)} rows · ${dataset.columns.length} columns · sha256 ${dataset.sha256.slice(0, 12)}…`),
      targetMissing ? notice("warning", `The project's target "${project.target}" is not a column of this dataset: choose another target when training.`) : null,
      profile,
      h("div", { class: "actions" }, h("a", { href: `#/projects/${project.id}/train` }, "Train a model on this data →")),
    ),
    h("div", { class: "card", id: "preview" }, h("h2", {}, `First ${preview.records.length} rows`), table(preview.columns, preview.records)),
  );
}
