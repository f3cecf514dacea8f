// Predict: one row from a form built from the serving model's features (with its warnings and, where the server
// explains, the explanation), or a parquet file scored (shown, charted against the target when it holds it, and
// downloaded as parquet or CSV).

import { PARQUET, request } from "../api.js";
import { actualVersusPredicted, chartBox, plot, plotText } from "../charts.js";
import { csvText, errorNotice, formatNumber, h, notice, replace, saveBlob, table } from "../dom.js";
import { featureForm } from "./feature_form.js";
import { isForecast, projectShell } from "./project_shell.js";

const SHOWN_ROWS = 50;
// Larger files are only scored to a download: their JSON answer would be too big for a page.
const MAX_SHOWN_FILE_BYTES = 20 * 1024 * 1024;

export async function predictView(context) {
  const { project, model, caps, content } = await projectShell(context, "predict");
  if (!model) {
    replace(content, notice("", "No model serves yet: ", h("a", { href: `#/projects/${project.id}/train` }, "train one"), "."));
    return;
  }
  if (isForecast(model)) {
    replace(content, notice("", "The serving model forecasts: ", h("a", { href: `#/projects/${project.id}/forecast` }, "see the forecast"), "."));
    return;
  }
  replace(content, singlePrediction(project, model, caps), filePrediction(project, model));
}

function singlePrediction(project, model, caps) {
  const form = featureForm(model.features || []);
  const explain = h("input", { type: "checkbox", id: "explain" });
  const answer = h("div", { id: "prediction" });
  const submit = h("button", { type: "submit" }, "Predict");
  return h(
    "form",
    {
      class: "card",
      id: "predict-form",
      onsubmit: async (event) => {
        event.preventDefault();
        submit.disabled = true;
        try {
          const explaining = caps.explain && explain.checked;
          const result = await request("POST", `/projects/${project.id}/predict${explaining ? "?explain=true" : ""}`, { json: form.values() });
          replace(answer, predictionAnswer(model, result));
          if (result.explanation) drawExplanation(answer, result.explanation);
        } catch (error) {
          replace(answer, errorNotice(error));
        } finally {
          submit.disabled = false;
        }
      },
    },
    h("h2", {}, `Predict ${model.target} with model v${model.version}`),
    form.element,
    h("div", { class: "actions" }, submit, caps.explain ? h("label", { class: "inline" }, explain, "Explain the prediction") : null),
    answer,
  );
}

function predictionAnswer(model, result) {
  const warnings = result.warnings || [];
  return h(
    "div",
    {},
    h("div", { class: "big-number", id: "prediction-value" }, formatNumber(result.prediction, 2)),
    h("p", { class: "muted small" }, `${model.target} predicted by model v${result.model_version}`),
    warnings.length ? notice("warning", "Warnings:", h("ul", { id: "prediction-warnings" }, warnings.map((warning) => h("li", {}, warning)))) : null,
  );
}

// baseline + the effect of each feature = the prediction.
function drawExplanation(box, explanation) {
  const contributions = [...(explanation.contributions || [])].sort((a, b) => Math.abs(b.effect) - Math.abs(a.effect));
  const chart = chartBox("explanation");
  box.append(
    h(
      "div",
      { id: "explanation" },
      h("h3", {}, "Why this prediction"),
      explanation.summary ? h("p", { id: "explanation-summary" }, explanation.summary) : null,
      h("p", { class: "muted small" }, `Baseline ${formatNumber(explanation.baseline, 2)}, plus the effect of each feature:`),
      table(
        [
          { key: "feature", label: "Feature" },
          { key: "value", label: "Value", format: (value) => (value === null || value === undefined ? "" : String(value)) },
          { key: "effect", label: "Effect", numeric: true },
        ],
        contributions,
      ),
      chart,
    ),
  );
  const labels = ["baseline", ...contributions.map((row) => plotText(`${row.feature} = ${row.value}`)), "prediction"];
  plot(
    chart,
    [
      {
        type: "waterfall",
        orientation: "v",
        x: labels,
        measure: ["absolute", ...contributions.map(() => "relative"), "total"],
        y: [explanation.baseline, ...contributions.map((row) => row.effect), 0],
        connector: { line: { color: "#d9dee7" } },
      },
    ],
    { title: "Baseline and feature effects", xaxis: { type: "category", automargin: true }, showlegend: false },
  );
}

function filePrediction(project, model) {
  const file = h("input", { type: "file", accept: ".parquet,.pq", id: "score-file", required: true });
  const result = h("div", { id: "scored" });
  const submit = h("button", { type: "submit" }, "Score file");
  const path = `/projects/${project.id}/predict`;
  const download = async (chosen) => {
    const response = await request("POST", path, { body: chosen, headers: { "Content-Type": PARQUET }, accept: PARQUET, raw: true });
    saveBlob(await response.blob(), chosen.name.replace(/\.(parquet|pq)$/i, "") + ".scored.parquet");
  };
  return h(
    "form",
    {
      class: "card",
      id: "score-form",
      onsubmit: async (event) => {
        event.preventDefault();
        const chosen = file.files[0];
        if (!chosen) return;
        submit.disabled = true;
        replace(result, notice("", `Scoring ${chosen.name}…`));
        try {
          if (chosen.size > MAX_SHOWN_FILE_BYTES) {
            await download(chosen);
            replace(result, notice("success", `${chosen.name} scored and downloaded.`));
          } else {
            const answer = await request("POST", path, { body: chosen, headers: { "Content-Type": PARQUET }, accept: "application/json" });
            replace(result, scoredFile(model, chosen, answer, download));
          }
        } catch (error) {
          replace(result, errorNotice(error));
        } finally {
          submit.disabled = false;
        }
      },
    },
    h("h2", {}, "Score a file"),
    h("p", { class: "muted small" }, "A parquet file with the model's feature columns; the answer is the same rows with a prediction column."),
    h("div", { class: "row" }, file, submit),
    result,
  );
}

function scoredFile(model, chosen, answer, download) {
  const records = answer.records || [];
  const columns = records.length ? Object.keys(records[0]) : [];
  const warnings = answer.warnings || [];
  const hasTarget = columns.includes(model.target);
  const chart = chartBox("actual-vs-predicted");
  const stem = chosen.name.replace(/\.(parquet|pq)$/i, "");
  const box = h(
    "div",
    {},
    notice("success", `${formatNumber(records.length)} rows scored by model v${answer.model_version}.`),
    warnings.length ? notice("warning", "Warnings:", h("ul", {}, warnings.map((warning) => h("li", {}, warning)))) : null,
    h(
      "div",
      { class: "actions" },
      h("button", { type: "button", id: "download-parquet", onclick: () => download(chosen).catch((error) => box.prepend(errorNotice(error))) }, "Download scored parquet"),
      h("button", { type: "button", class: "secondary", id: "download-csv", onclick: () => saveBlob(new Blob([csvText(columns, records)], { type: "text/csv" }), `${stem}.scored.csv`) }, "Download as CSV"),
    ),
    h("h3", {}, `First ${Math.min(SHOWN_ROWS, records.length)} rows`),
    table(columns, records.slice(0, SHOWN_ROWS)),
    hasTarget ? chart : null,
  );
  if (hasTarget) {
    queueMicrotask(() =>
      actualVersusPredicted(
        chart,
        records.map((record) => record[model.target]),
        records.map((record) => record.prediction),
        { target: model.target },
      ),
    );
  }
  return box;
}
