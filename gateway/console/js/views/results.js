// Results: the runs and their leaderboards, the model versions (which one serves; activate or roll back), and a
// model's metrics and feature importance (and, for a forecast model, its backtest windows).

import { get, post } from "../api.js";
import { actualVersusPredicted, chartBox, horizontalBars, plot, plotText } from "../charts.js";
import { errorNotice, formatDate, formatNumber, h, notice, replace, table } from "../dom.js";
import { leaderboard } from "./leaderboard.js";
import { isForecast, notAvailable, projectShell, statusBadge } from "./project_shell.js";

export async function resultsView(context) {
  const { project, caps, content } = await projectShell(context, "results");
  const [runs, models] = await Promise.all([get(`/projects/${project.id}/training-runs?page_size=50`), get(`/projects/${project.id}/models?page_size=100`)]);
  if (!runs.length) {
    replace(content, notice("", "No training run yet: ", h("a", { href: `#/projects/${project.id}/train` }, "train a model")));
    return;
  }
  const runBox = h("div", { id: "run-detail" });
  const modelBox = h("div", { id: "model-detail" });
  let selectedRun = runs.find((run) => run.status === "succeeded") || runs[0];
  let selectedModel = models.find((model) => model.active) || models[0];
  const runTable = h("div");
  const modelTable = h("div");

  const drawRuns = () =>
    replace(
      runTable,
      table(
        [
          { key: "id", label: "Run" },
          { key: "status", format: (status) => statusBadge(status) },
          { key: "stage", label: "Stage" },
          { key: "best", label: "Best model", value: (run) => (run.leaderboard && run.leaderboard[0] ? run.leaderboard[0].name : "") },
          { key: "model_version", label: "Model", format: (version) => (version ? `v${version}` : "") },
          { key: "created_at", label: "Started", format: formatDate },
        ],
        runs,
        {
          selected: (run) => run.id === selectedRun.id,
          onSelect: (run) => {
            if (run.status === "queued" || run.status === "running") {
              context.navigate(`#/projects/${project.id}/runs/${run.id}`);
              return;
            }
            selectedRun = run;
            drawRuns();
            showRun();
          },
        },
      ),
    );
  const showRun = () => {
    if (!selectedRun.leaderboard || !selectedRun.leaderboard.length) {
      replace(runBox, notice(selectedRun.status === "failed" ? "error" : "", `Run #${selectedRun.id} ${selectedRun.status}`, selectedRun.error ? `: ${selectedRun.error.message}` : ""));
      return;
    }
    const board = leaderboard(selectedRun);
    replace(runBox, h("h3", {}, `Leaderboard of run #${selectedRun.id}`), board.element);
    board.draw();
  };

  const activate = async (model) => {
    try {
      await post(`/projects/${project.id}/models/${model.version}/activate`);
      context.navigate(`#/projects/${project.id}/results`);
    } catch (error) {
      replace(modelBox, errorNotice(error));
    }
  };
  const serving = models.find((model) => model.active);
  const drawModels = () =>
    replace(
      modelTable,
      table(
        [
          { key: "version", label: "Version", format: (version) => `v${version}` },
          { key: "algorithm", label: "Algorithm" },
          { key: "holdout", label: "Holdout", value: (model) => holdoutSummary(model) },
          { key: "created_at", label: "Trained", format: formatDate },
          {
            key: "active",
            label: "Serving",
            format: (active, model) =>
              active
                ? h("span", { class: "badge serving" }, "serving")
                : h(
                    "button",
                    {
                      type: "button",
                      class: "secondary",
                      dataset: { activate: model.version },
                      onclick: (event) => {
                        event.stopPropagation();
                        activate(model);
                      },
                    },
                    serving && model.version < serving.version ? "Roll back to this" : "Activate",
                  ),
          },
        ],
        models,
        {
          selected: (model) => selectedModel && model.version === selectedModel.version,
          onSelect: (model) => {
            selectedModel = model;
            drawModels();
            showModel(project, caps, model.version, modelBox).catch((error) => replace(modelBox, errorNotice(error)));
          },
        },
      ),
    );

  replace(
    content,
    h("div", { class: "card" }, h("h2", {}, "Training runs"), runTable, runBox),
    h("div", { class: "card" }, h("h2", {}, "Model versions"), models.length ? modelTable : h("p", { class: "muted" }, "No model yet."), modelBox),
  );
  drawRuns();
  showRun();
  if (models.length) {
    drawModels();
    await showModel(project, caps, selectedModel.version, modelBox);
  }
}

function holdoutSummary(model) {
  const holdout = (model.metrics && (model.metrics.holdout || model.metrics.backtest)) || {};
  return ["R2", "MAE", "MASE", "WAPE"]
    .filter((metric) => typeof holdout[metric] === "number")
    .map((metric) => `${metric} ${formatNumber(holdout[metric], 3)}`)
    .join(" · ");
}

async function showModel(project, caps, version, box) {
  const model = await get(`/projects/${project.id}/models/${version}`);
  const metricsTable = Object.entries(model.metrics || {}).map(([split, values]) => ({ split, ...values }));
  const metricNames = [...new Set(metricsTable.flatMap((row) => Object.keys(row).filter((key) => key !== "split")))];
  const importance = chartBox("feature-importance");
  const permutation = chartBox("permutation-importance");
  const backtest = h("div", { id: "backtest" });
  const holdout = h("div", { id: "holdout" });
  replace(
    box,
    h("h3", {}, `Model v${model.version}: ${model.algorithm}`),
    h("dl", { class: "facts" }, h("dt", {}, "Target"), h("dd", {}, model.target), h("dt", {}, "Trained by run"), h("dd", {}, `#${model.training_run_id}`), h("dt", {}, "Artifact"), h("dd", {}, `${formatNumber(model.size_bytes / 1024, 1)} KB, sha256 ${String(model.sha256).slice(0, 12)}…`)),
    metricsTable.length ? table([{ key: "split", label: "Metrics" }, ...metricNames.map((name) => ({ key: name, numeric: true }))], metricsTable) : null,
    h("div", { class: "columns" }, model.feature_importance && model.feature_importance.length ? importance : null, model.permutation_importance && model.permutation_importance.length ? permutation : null),
    isForecast(model) ? backtest : holdout,
  );
  if (model.feature_importance && model.feature_importance.length) {
    await horizontalBars(importance, model.feature_importance.map((row) => row.feature), model.feature_importance.map((row) => row.importance), { title: "Feature importance", xTitle: "importance" });
  }
  if (model.permutation_importance && model.permutation_importance.length) {
    await horizontalBars(permutation, model.permutation_importance.map((row) => row.feature), model.permutation_importance.map((row) => row.importance), { title: "Permutation importance (MAE increase on the holdout)", xTitle: `MAE increase (${model.target})`, color: "#1e7d46" });
  }
  if (isForecast(model)) await showBacktest(project, caps, model, backtest);
  else await showHoldout(project, caps, model, holdout);
}

// Actual vs predicted on the run's holdout rows (GET .../holdout), where the server keeps them.
async function showHoldout(project, caps, model, box) {
  const elsewhere = "score a file that holds the target column on the Predict page to see actual against predicted.";
  if (!caps.holdout) {
    replace(box, h("p", { class: "muted small" }, `This server keeps no holdout predictions: ${elsewhere}`));
    return;
  }
  let answer;
  try {
    answer = await get(`/projects/${project.id}/models/${model.version}/holdout`);
  } catch (error) {
    const reason = error.status === 409 ? error.message : error.routeMissing ? "not available on this server" : null;
    replace(box, reason ? h("p", { class: "muted small" }, `No holdout predictions for this version (${reason}): ${elsewhere}`) : errorNotice(error));
    return;
  }
  const rows = answer.rows || [];
  const chart = chartBox("holdout");
  replace(box, chart);
  await actualVersusPredicted(chart, rows.map((row) => row.actual), rows.map((row) => row.predicted), { title: `Actual vs predicted on the holdout (${rows.length} rows)`, target: answer.target || model.target });
}

// Backtest windows: per origin, the actual values and the forecast made from that origin (GET .../backtest).
export async function showBacktest(project, caps, model, box) {
  if (!caps.backtest) {
    replace(box, notAvailable("The backtest view"));
    return;
  }
  let answer;
  try {
    answer = await get(`/projects/${project.id}/models/${model.version}/backtest`);
  } catch (error) {
    replace(box, error.routeMissing ? notAvailable("The backtest view") : errorNotice(error));
    return;
  }
  const settings = model.forecast || {};
  const dateKey = settings.date_column || "date";
  const seriesColumns = settings.series_columns || [];
  const seriesOf = (row) => seriesColumns.map((column) => row[column]).join(" · ") || "all";
  const allSeries = [...new Set(answer.windows.flatMap((window) => window.rows.map(seriesOf)))];
  const chart = chartBox("backtest", true);
  const picker = h("select", { name: "backtest-series" }, allSeries.map((series) => h("option", { value: series }, series)));
  const draw = () => {
    const traces = [];
    const actual = new Map();
    answer.windows.forEach((window, index) => {
      const rows = window.rows.filter((row) => seriesOf(row) === picker.value);
      for (const row of rows) actual.set(row[dateKey], row.actual);
      traces.push({ type: "scatter", mode: "lines+markers", name: plotText(`forecast from ${window.origin}`), x: rows.map((row) => row[dateKey]), y: rows.map((row) => row.forecast), line: { dash: index % 2 ? "dot" : "dash" } });
    });
    const dates = [...actual.keys()].sort();
    traces.unshift({ type: "scatter", mode: "lines+markers", name: "actual", x: dates, y: dates.map((date) => actual.get(date)), line: { color: "#1d2330" } });
    return plot(chart, traces, { title: `Backtest: actual vs forecast (${picker.value})`, xaxis: { type: "date" }, legend: { orientation: "h" } });
  };
  picker.addEventListener("change", draw);
  replace(box, h("h3", {}, "Backtest windows"), allSeries.length > 1 ? h("label", {}, "Series", picker) : null, chart);
  await draw();
}
