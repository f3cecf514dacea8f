// Actuals (docs/API.md, Decisions): upload what really happened (parquet with the features and the true target),
// read the accuracy and drift report, and see actual against predicted for those rows.

import { PARQUET, get, request } from "../api.js";
import { actualVersusPredicted, chartBox, horizontalBars } from "../charts.js";
import { errorNotice, formatDate, formatNumber, h, notice, replace, table } from "../dom.js";
import { isForecast, notAvailable, projectShell } from "./project_shell.js";

export async function actualsView(context) {
  const { project, model, caps, content } = await projectShell(context, "actuals");
  if (!caps.actuals) {
    replace(content, notAvailable("Actuals"));
    return;
  }
  if (!model) {
    replace(content, notice("", "No model serves yet: actuals are compared with a model's predictions."));
    return;
  }
  let reports = [];
  try {
    reports = await get(`/projects/${project.id}/actuals`);
  } catch (error) {
    replace(content, error.routeMissing ? notAvailable("Actuals") : errorNotice(error));
    return;
  }
  const file = h("input", { type: "file", accept: ".parquet,.pq", id: "actuals-file", required: true });
  const message = h("div");
  const reportBox = h("div", { id: "actuals-report" });
  const comparison = h("div", { id: "actuals-comparison" });
  const submit = h("button", { type: "submit" }, "Upload actuals");
  const upload = h(
    "form",
    {
      class: "card",
      id: "actuals-form",
      onsubmit: async (event) => {
        event.preventDefault();
        const chosen = file.files[0];
        if (!chosen) return;
        submit.disabled = true;
        replace(message, notice("", `Comparing ${chosen.name} with the model…`));
        try {
          const report = await request("POST", `/projects/${project.id}/actuals`, { body: chosen, headers: { "Content-Type": PARQUET } });
          replace(message);
          showReport(report, reportBox);
          if (!isForecast(model)) await compare(project, model, chosen, comparison);
        } catch (error) {
          replace(message, errorNotice(error));
        } finally {
          submit.disabled = false;
        }
      },
    },
    h("h2", {}, "Upload actuals"),
    h("p", { class: "muted small" }, `A parquet file with the model's features${isForecast(model) ? " (series and date)" : ""} and the true ${model.target}.`),
    h("div", { class: "row" }, file, submit),
    message,
  );
  const history = reports.length
    ? table(
        [
          { key: "id", label: "Report" },
          { key: "model_version", label: "Model", format: (version) => `v${version}` },
          { key: "rows", label: "Rows" },
          { key: "MAE", value: (report) => report.metrics && report.metrics.MAE, numeric: true },
          { key: "retrain", label: "Retrain?", value: (report) => (report.recommendation && report.recommendation.retrain ? "yes" : "no") },
          { key: "created_at", label: "Uploaded", format: formatDate },
        ],
        reports,
        { onSelect: (report) => showReport(report, reportBox) },
      )
    : h("p", { class: "muted" }, "No actuals uploaded yet.");
  replace(content, upload, h("div", { class: "card" }, reportBox, comparison), h("div", { class: "card" }, h("h2", {}, "Earlier reports"), history));
  if (reports.length) showReport(reports[0], reportBox);
}

function showReport(report, box) {
  const metrics = report.metrics || {};
  const drift = report.drift || [];
  const recommendation = report.recommendation || {};
  const chart = chartBox("drift");
  replace(
    box,
    h("h2", {}, `Report #${report.id}: ${formatNumber(report.rows)} rows against model v${report.model_version}`),
    h("dl", { class: "facts", id: "actuals-metrics" }, Object.entries(metrics).flatMap(([name, value]) => [h("dt", {}, name), h("dd", {}, formatNumber(value, 3))])),
    notice(recommendation.retrain ? "warning" : "success", recommendation.retrain ? "Retraining is recommended: " : "No retraining needed: ", recommendation.reason || ""),
    drift.length ? table(["feature", { key: "psi", label: "PSI", numeric: true }, "level"], drift) : null,
    drift.length ? chart : null,
  );
  if (drift.length) horizontalBars(chart, drift.map((row) => row.feature), drift.map((row) => row.psi), { title: "Drift by feature (PSI)", xTitle: "population stability index", color: "#9a6200" });
}

// Actual against predicted for the uploaded rows: the same file scored by the serving model (POST /predict).
async function compare(project, model, chosen, box) {
  const answer = await request("POST", `/projects/${project.id}/predict`, { body: chosen, headers: { "Content-Type": PARQUET }, accept: "application/json" });
  const records = answer.records || [];
  if (!records.length || !(model.target in records[0])) {
    replace(box);
    return;
  }
  const chart = chartBox("actuals-vs-predicted");
  replace(box, h("h3", {}, "Actual vs predicted"), chart);
  await actualVersusPredicted(chart, records.map((record) => record[model.target]), records.map((record) => record.prediction), { target: model.target });
}
