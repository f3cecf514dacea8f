// Charts with Plotly.js (window.Plotly, loaded by index.html from the gateway). Plotly reads a little HTML in its
// texts (<b>, <br>, links), so every user string handed to it goes through plotText first: it is drawn as written.

import { h } from "./dom.js";

const CONFIG = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["select2d", "lasso2d"] };
const BASE_LAYOUT = {
  margin: { l: 60, r: 20, t: 40, b: 50 },
  paper_bgcolor: "#ffffff",
  plot_bgcolor: "#ffffff",
  font: { family: "system-ui, sans-serif", size: 12, color: "#1d2330" },
  hoverlabel: { namelength: -1 },
};
const ENTITIES = { "&": "&amp;", "<": "&lt;", ">": "&gt;" };

export function plotText(value) {
  return String(value ?? "").replace(/[&<>]/g, (character) => ENTITIES[character]);
}

export function chartBox(name, tall = false) {
  return h("div", { class: tall ? "chart tall" : "chart", dataset: { chart: name } });
}

export function plot(element, traces, layout = {}) {
  const merged = { ...BASE_LAYOUT, ...layout, title: layout.title ? { text: plotText(layout.title), font: { size: 14 } } : undefined };
  return window.Plotly.react(element, traces, merged, CONFIG).then(() => {
    element.dataset.drawn = "true";
  });
}

// Horizontal bars, largest on top: feature importance, drift.
export function horizontalBars(element, labels, values, { title, xTitle, color = "#1f5fa8" } = {}) {
  const order = values.map((value, index) => index).sort((a, b) => (values[a] ?? 0) - (values[b] ?? 0));
  return plot(
    element,
    [{ type: "bar", orientation: "h", y: order.map((index) => plotText(labels[index])), x: order.map((index) => values[index]), marker: { color }, hovertemplate: "%{y}: %{x}<extra></extra>" }],
    { title, xaxis: { title: { text: plotText(xTitle) } }, yaxis: { automargin: true, type: "category" }, height: Math.max(300, 28 * labels.length + 90) },
  );
}

export function bars(element, labels, values, { title, yTitle, color = "#1f5fa8" } = {}) {
  return plot(element, [{ type: "bar", x: labels.map(plotText), y: values, marker: { color }, hovertemplate: "%{x}: %{y}<extra></extra>" }], {
    title,
    yaxis: { title: { text: plotText(yTitle) } },
    xaxis: { type: "category", automargin: true },
  });
}

// History, forecast and its 80% and 95% bands (band traces drawn first, so the lines stay on top).
export function forecastChart(element, { title, history, forecast, dateKey }) {
  const dates = forecast.map((row) => row[dateKey]);
  const band = (lower, upper, name, fillcolor) => [
    { type: "scatter", mode: "lines", x: dates, y: forecast.map((row) => row[lower]), line: { width: 0 }, hoverinfo: "skip", showlegend: false },
    { type: "scatter", mode: "lines", x: dates, y: forecast.map((row) => row[upper]), line: { width: 0 }, fill: "tonexty", fillcolor, name },
  ];
  const traces = [
    ...band("lower_95", "upper_95", "95% interval", "rgba(31,95,168,0.12)"),
    ...band("lower_80", "upper_80", "80% interval", "rgba(31,95,168,0.25)"),
    { type: "scatter", mode: "lines", x: history.map((row) => row.date), y: history.map((row) => row.value), name: "history", line: { color: "#1d2330" } },
    { type: "scatter", mode: "lines+markers", x: dates, y: forecast.map((row) => row.forecast), name: "forecast", line: { color: "#1f5fa8" } },
  ];
  return plot(element, traces, { title, xaxis: { type: "date" }, legend: { orientation: "h" } });
}

export function actualVersusPredicted(element, actual, predicted, { title = "Actual vs predicted", target = "actual" } = {}) {
  const finite = actual.map((value, index) => [value, predicted[index]]).filter(([a, p]) => Number.isFinite(a) && Number.isFinite(p));
  const values = finite.flat();
  const low = Math.min(...values);
  const high = Math.max(...values);
  return plot(
    element,
    [
      { type: "scatter", mode: "markers", x: finite.map(([a]) => a), y: finite.map(([, p]) => p), name: "rows", marker: { size: 6, opacity: 0.6, color: "#1f5fa8" } },
      { type: "scatter", mode: "lines", x: [low, high], y: [low, high], name: "perfect", line: { dash: "dot", color: "#5d6677" } },
    ],
    { title, xaxis: { title: { text: plotText(`${target} (actual)`) } }, yaxis: { title: { text: "prediction" } }, legend: { orientation: "h" } },
  );
}
