// Forecast (docs/API.md, Forecasting): POST /forecast for the serving forecast model, one chart per series with the
// recent history (the actual values of its backtest windows) and the forecast with its 80% and 95% bands; the
// forecast as CSV; where the server explains forecasts, why the picked series' forecast is what it is (its level,
// season, known-future columns and trend, period by period); the backtest windows below.

import { get, post } from "../api.js";
import { chartBox, forecastChart, plot, plotText } from "../charts.js";
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
  const why = h("div", { id: "forecast-why" });
  const message = h("div");
  const backtest = h("div", { id: "backtest" });
  const seriesOf = (row) => seriesColumns.map((column) => row[column]).join(" · ") || "all";
  const seriesKeys = new Map(); // the picker's label -> {series column: value}, as /forecast takes a series
  let history = new Map();
  let shownHorizon = settings.horizon; // the horizon of the forecast on the page
  let explaining = 0; // the explanation asked last: an older answer arriving after it is dropped
  let draw = () => {};
  picker.addEventListener("change", () => {
    explaining += 1;
    replace(why);
    draw();
  });

  const explain = async () => {
    const asked = (explaining += 1);
    const label = picker.value;
    const series = seriesKeys.get(label);
    const body = { horizon: shownHorizon, ...(seriesColumns.length && series ? { series: [series] } : {}) };
    try {
      const answer = await post(`/projects/${project.id}/forecast?explain=true`, body);
      if (asked === explaining) drawForecastExplanation(why, answer.forecasts || [], dateKey, `${model.target}: ${label}`);
    } catch (error) {
      if (asked === explaining) replace(why, errorNotice(error));
    }
  };

  const run = async () => {
    explaining += 1;
    replace(message);
    replace(why);
    let answer;
    try {
      answer = await post(`/projects/${project.id}/forecast`, { horizon: Number(horizon.value) });
    } catch (error) {
      replace(message, error.routeMissing ? notAvailable("Forecasting") : errorNotice(error));
      return;
    }
    const rows = answer.forecasts || [];
    shownHorizon = answer.horizon;
    for (const row of rows) seriesKeys.set(seriesOf(row), Object.fromEntries(seriesColumns.map((column) => [column, row[column]])));
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
        caps.forecastExplain ? h("button", { type: "button", id: "explain-forecast", onclick: explain }, "Why this forecast?") : null,
        h("span", { class: "muted small" }, `${rows.length} rows, ${allSeries.length} series, model v${answer.model_version}`),
      ),
      why,
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

// Each period's forecast as its parts (docs/API.md, Forecast explanations): the series' level, then the effects of
// last season, of each known-future column and of the trend, each drawn from where the ones before it end; baseline +
// effects = the forecast.
function drawForecastExplanation(box, rows, dateKey, title) {
  const parts = [...new Set(rows.flatMap((row) => row.explanation.contributions.map((contribution) => contribution.feature)))];
  const effect = (row, part) => row.explanation.contributions.find((contribution) => contribution.feature === part)?.effect ?? 0;
  const dates = rows.map((row) => row[dateKey]);
  const chart = chartBox("forecast-explanation");
  const columns = [
    { key: dateKey, label: "Period" },
    { key: "baseline", label: "Level", numeric: true, value: (row) => row.explanation.baseline },
    ...parts.map((part) => ({ key: part, label: part, numeric: true, value: (row) => effect(row, part) })),
    { key: "forecast", label: "Forecast", numeric: true },
  ];
  replace(
    box,
    h("h3", {}, "Why this forecast"),
    rows.length ? h("p", { id: "forecast-why-summary" }, rows[0].explanation.summary) : null,
    chart,
    table(columns, rows),
    h("p", { class: "muted small" }, `Level + ${parts.join(" + ")} = forecast, in each of the ${rows.length} periods.`),
  );
  // A waterfall per period: each part's bar starts where the level and the parts before it end.
  const reached = rows.map((row) => row.explanation.baseline);
  let [low, high] = [Math.min(...reached), Math.max(...reached)];
  const partTraces = parts.map((part) => {
    const base = [...reached];
    const y = rows.map((row, index) => {
      reached[index] += effect(row, part);
      [low, high] = [Math.min(low, reached[index]), Math.max(high, reached[index])];
      return effect(row, part);
    });
    return { type: "bar", name: plotText(part), x: dates, y, base };
  });
  const traces = [
    { type: "bar", name: "level", x: dates, y: rows.map((row) => row.explanation.baseline), marker: { color: "#b8c4d6" } },
    ...partTraces,
    { type: "scatter", mode: "lines+markers", name: "forecast", x: dates, y: rows.map((row) => row.forecast), line: { color: "#1d2330" } },
  ];
  // The axis spans the parts, not zero to the level: the level bars are cut so that the effects on them show.
  const margin = Math.max((high - low) * 0.15, Math.abs(high) * 0.01, 1e-9);
  return plot(chart, traces, {
    title: `Why: ${title}`,
    barmode: "overlay",
    xaxis: { type: "date" },
    yaxis: { range: [low - margin, high + margin] },
    legend: { orientation: "h" },
  });
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
