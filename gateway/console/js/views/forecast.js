// Forecast (docs/API.md, Forecasting): POST /forecast for the serving forecast model, one chart per series with the
// recent history (the actual values of its backtest windows) and the forecast with its 80% and 95% bands; the
// forecast as CSV; the backtest windows below.

import { get, post } from "../api.js";
import { chartBox, forecastChart } from "../charts.js";
import { csvText, errorNotice, field, h, notice, replace, saveBlob, table } from "../dom.js";
import { showBacktest } from "./results.js";
import { isForecast, notAvailable, projectShell } from "./project_shell.js";

const BAND_COLUMNS = ["forecast", "lower_80", "upper_80", "lower_95", "upper_95"];

export async function forecastView(context) {
  const { project, model, caps, content } = await projectShell(context, "forecast");
  if (!caps.forecast) {
    replace(content, notAvailable("Forecasting"));
    return;
  }
  if (!isForecast(model)) {
    replace(content, notice("", model ? `The serving model (v${model.version}) is not a forecast model: train one with the forecast task.` : "No model serves yet: train a forecast model."));
    return;
  }
  const settings = model.forecast || {};
  const seriesColumns = settings.series_columns || [];
  const dateKey = settings.date_column;
  const horizon = h("input", { type: "number", name: "horizon", min: 1, max: settings.horizon, value: settings.horizon, step: 1 });
  const picker = h("select", { name: "series" });
  const chart = chartBox("forecast", true);
  const result = h("div", { id: "forecast-result" });
  const message = h("div");
  const backtest = h("div", { id: "backtest" });
  const seriesOf = (row) => seriesColumns.map((column) => row[column]).join(" · ") || "all";
  let history = new Map();
  let draw = () => {};
  picker.addEventListener("change", () => draw());

  const run = async () => {
    replace(message);
    let answer;
    try {
      answer = await post(`/projects/${project.id}/forecast`, { horizon: Number(horizon.value) });
    } catch (error) {
      replace(message, error.routeMissing ? notAvailable("Forecasting") : errorNotice(error));
      return;
    }
    const rows = answer.forecasts || [];
    const allSeries = [...new Set(rows.map(seriesOf))];
    const previous = picker.value;
    replace(picker, allSeries.map((series) => h("option", { value: series, selected: series === previous }, series)));
    draw = () => {
      const shown = rows.filter((row) => seriesOf(row) === picker.value);
      return forecastChart(chart, { title: `${model.target}: ${picker.value} (${answer.frequency}, ${answer.horizon} periods)`, history: history.get(picker.value) || [], forecast: shown, dateKey });
    };
    const columns = [...seriesColumns, dateKey, ...BAND_COLUMNS];
    replace(
      result,
      h(
        "div",
        { class: "actions" },
        h("button", { type: "button", id: "download-forecast", onclick: () => saveBlob(new Blob([csvText(columns, rows)], { type: "text/csv" }), `forecast-v${answer.model_version}.csv`) }, "Download forecast as CSV"),
        h("span", { class: "muted small" }, `${rows.length} rows, ${allSeries.length} series, model v${answer.model_version}`),
      ),
      table(columns.map((key) => ({ key, numeric: BAND_COLUMNS.includes(key) })), rows.slice(0, 200)),
    );
    await draw();
  };

  replace(
    content,
    h(
      "div",
      { class: "card" },
      h("h2", {}, `Forecast of ${model.target}`),
      h(
        "form",
        {
          id: "forecast-form",
          class: "row",
          onsubmit: (event) => {
            event.preventDefault();
            run();
          },
        },
        field("Horizon (periods)", horizon, `at most ${settings.horizon}`),
        seriesColumns.length ? field(`Series (${seriesColumns.join(", ")})`, picker) : null,
        h("button", { type: "submit" }, "Forecast"),
      ),
      message,
      chart,
      result,
    ),
    h("div", { class: "card" }, backtest),
  );
  history = await recentHistory(project, caps, model, seriesOf, dateKey);
  await run();
  await showBacktest(project, caps, model, backtest);
}

// The most recent actual values the API gives: those of the backtest windows, per series, in date order.
async function recentHistory(project, caps, model, seriesOf, dateKey) {
  const history = new Map();
  if (!caps.backtest) return history;
  try {
    const answer = await get(`/projects/${project.id}/models/${model.version}/backtest`);
    const byDate = new Map();
    for (const window of answer.windows || []) {
      for (const row of window.rows) byDate.set(`${seriesOf(row)}\u0000${row[dateKey]}`, { series: seriesOf(row), date: row[dateKey], value: row.actual });
    }
    for (const point of [...byDate.values()].sort((a, b) => String(a.date).localeCompare(String(b.date)))) {
      if (!history.has(point.series)) history.set(point.series, []);
      history.get(point.series).push(point);
    }
  } catch {
    // No history to draw: the forecast is shown alone.
  }
  return history;
}
