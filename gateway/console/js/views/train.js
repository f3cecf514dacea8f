// Train: the task, target, models, folds and budget chosen from the dataset's own columns; POST /train, then follow
// the run. The forecast task shows its own fields (date, series, horizon) and is sent only when the server has it.

import { get, post } from "../api.js";
import { errorNotice, field, h, notice, replace, select } from "../dom.js";
import { notAvailable, projectShell } from "./project_shell.js";

// Used when the OpenAPI document does not list the model ids (docs/API.md, Training and Forecasting).
const REGRESSION_MODELS = ["lr", "ridge", "lasso", "en", "br", "huber", "knn", "dt", "rf", "et", "gbr", "lightgbm", "ada", "dummy"];
const FORECAST_MODELS = ["naive", "snaive", "mean", "ets", "arima", "theta", "ensemble", "lightgbm"];
const REGRESSION_SORT = ["R2", "MAE", "MSE", "RMSE", "RMSLE", "MAPE"];
const FORECAST_SORT = ["MASE", "MAE", "RMSE", "WAPE", "SMAPE"];

const isNumeric = (column) => /^(u?int|float|decimal)/.test(column.dtype);
const isDate = (column) => column.dtype === "date" || column.dtype === "timestamp";
const isText = (column) => column.dtype === "string" || column.dtype === "bool";

function idempotencyKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

function checkboxes(values, { checked = [], name }) {
  const boxes = new Map();
  const element = h(
    "div",
    { class: "checks", dataset: { group: name } },
    values.map((value) => {
      const box = h("input", { type: "checkbox", value, checked: checked.includes(value), dataset: { value } });
      boxes.set(value, box);
      return h("label", { class: "inline" }, box, value);
    }),
  );
  return { element, chosen: () => [...boxes].filter(([, box]) => box.checked).map(([value]) => value) };
}

export async function trainView(context) {
  const { project, caps, content } = await projectShell(context, "train");
  const datasets = await get(`/projects/${project.id}/datasets?page_size=100`);
  if (!datasets.length) {
    replace(content, notice("", "Upload a dataset first: ", h("a", { href: `#/projects/${project.id}` }, "Data")));
    return;
  }
  const datasetSelect = select(datasets.map((dataset) => [dataset.id, `${dataset.filename} (${dataset.rows} rows)`]), { name: "dataset" });
  const formBox = h("div");
  const drawForm = () => replace(formBox, trainForm(context, project, caps, datasets.find((dataset) => dataset.id === datasetSelect.value)));
  datasetSelect.addEventListener("change", drawForm);
  replace(content, h("div", { class: "card" }, h("h2", {}, "Train a model"), field("Dataset", datasetSelect), formBox));
  drawForm();
}

function trainForm(context, project, caps, dataset) {
  const columns = dataset.columns;
  const numeric = columns.filter(isNumeric).map((column) => column.name);
  const task = select([["regression", "Regression (predict a number from features)"], ["forecast", "Forecast (predict future periods of a series)"]], { name: "task" });
  const target = select(numeric, { name: "target", value: numeric.includes(project.target) ? project.target : numeric[numeric.length - 1] });
  const folds = h("input", { type: "number", name: "folds", min: 2, max: 10, value: 5, step: 1 });
  const budget = h("input", { type: "number", name: "time_budget_s", min: 10, step: 10, placeholder: "server default" });
  const regressionModels = checkboxes(caps.modelIds.length ? caps.modelIds : REGRESSION_MODELS, { name: "models" });
  const forecastModels = checkboxes(FORECAST_MODELS, { name: "forecast-models" });
  const regressionSort = select(caps.sortMetrics.length ? caps.sortMetrics : REGRESSION_SORT, { name: "sort" });
  const forecastSort = select(FORECAST_SORT, { name: "forecast-sort" });
  const ignored = checkboxes(columns.map((column) => column.name), { name: "ignore" });

  const dateColumns = columns.filter(isDate).map((column) => column.name);
  const dateColumn = select([["", "detect (the one date column)"], ...dateColumns], { name: "date_column" });
  const seriesColumns = checkboxes(columns.filter(isText).map((column) => column.name), { name: "series" });
  const horizon = h("input", { type: "number", name: "horizon", min: 1, step: 1, placeholder: "by frequency" });
  const windows = h("input", { type: "number", name: "backtest_windows", min: 1, max: 10, value: 3, step: 1 });

  const regressionFields = h(
    "div",
    { id: "regression-fields" },
    h("div", { class: "row" }, field("Folds", folds, "cross-validation, 2–10"), field("Sort by", regressionSort)),
    h("fieldset", {}, h("legend", {}, "Models to compare (none ticked: all)"), regressionModels.element),
    h("fieldset", {}, h("legend", {}, "Columns not to train on (none ticked: the server leaves out ID-like columns)"), ignored.element),
  );
  const forecastFields = h(
    "div",
    { id: "forecast-fields", class: "hidden" },
    caps.forecastTask ? null : notAvailable("Training forecasts"),
    h("div", { class: "row" }, field("Date column", dateColumn), field("Horizon (periods)", horizon, "default by frequency: daily 28, weekly 13, monthly 12"), field("Backtest windows", windows), field("Sort by", forecastSort)),
    h("fieldset", {}, h("legend", {}, "Series columns (one forecast per combination; none: one series)"), seriesColumns.element),
    h("fieldset", {}, h("legend", {}, "Models to compare (none ticked: the server's default set)"), forecastModels.element),
  );
  const message = h("div");
  const submit = h("button", { type: "submit" }, "Start training");
  let key = idempotencyKey();
  const showTask = () => {
    const forecasting = task.value === "forecast";
    regressionFields.classList.toggle("hidden", forecasting);
    forecastFields.classList.toggle("hidden", !forecasting);
    submit.disabled = forecasting && !caps.forecastTask;
  };
  task.addEventListener("change", showTask);

  const body = () => {
    const common = { target: target.value, dataset_id: dataset.id };
    if (budget.value) common.time_budget_s = Number(budget.value);
    if (task.value === "forecast") {
      const chosen = forecastModels.chosen();
      return {
        ...common,
        task: "forecast",
        series_columns: seriesColumns.chosen(),
        backtest_windows: Number(windows.value),
        sort: forecastSort.value,
        ...(dateColumn.value ? { date_column: dateColumn.value } : {}),
        ...(horizon.value ? { horizon: Number(horizon.value) } : {}),
        ...(chosen.length ? { include: chosen } : {}),
      };
    }
    const chosen = regressionModels.chosen();
    const leftOut = ignored.chosen().filter((name) => name !== target.value);
    return {
      ...common,
      folds: Number(folds.value),
      sort: regressionSort.value,
      ...(chosen.length ? { include: chosen } : {}),
      ...(leftOut.length ? { ignore_features: leftOut } : {}),
    };
  };

  const form = h(
    "form",
    {
      id: "train-form",
      onsubmit: async (event) => {
        event.preventDefault();
        submit.disabled = true;
        replace(message);
        try {
          const run = await post(`/projects/${project.id}/train`, body(), { headers: { "Idempotency-Key": key } });
          context.navigate(`#/projects/${project.id}/runs/${run.id}`);
        } catch (error) {
          key = idempotencyKey(); // the next attempt is another request
          replace(message, errorNotice(error));
          submit.disabled = false;
        }
      },
    },
    numeric.length ? null : notice("warning", "This dataset has no numeric column to predict."),
    h("div", { class: "row" }, field("Task", task), field("Target", target), field("Time budget (s)", budget)),
    regressionFields,
    forecastFields,
    message,
    h("div", { class: "actions" }, submit),
  );
  showTask();
  return form;
}
