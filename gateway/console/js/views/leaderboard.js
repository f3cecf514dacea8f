// A run's leaderboard as a table and a bar chart of the metric the run was sorted by.

import { bars, chartBox } from "../charts.js";
import { h, table } from "../dom.js";

const REGRESSION_METRICS = ["MAE", "MSE", "RMSE", "R2", "RMSLE", "MAPE"];
const FORECAST_METRICS = ["MASE", "MAE", "RMSE", "WAPE", "SMAPE"];

export function leaderboard(run) {
  const rows = run.leaderboard || [];
  const forecasting = (run.params && run.params.task) === "forecast" || (rows[0] && "MASE" in rows[0]);
  const metrics = (forecasting ? FORECAST_METRICS : REGRESSION_METRICS).filter((metric) => rows.some((row) => metric in row));
  const sortedBy = (run.params && run.params.sort) || metrics[0];
  const chart = chartBox("leaderboard");
  const element = h(
    "div",
    { class: "leaderboard" },
    table(
      [
        { key: "rank", label: "#", value: (row) => rows.indexOf(row) + 1 },
        { key: "name", label: "Model", value: (row) => `${row.name} (${row.model})` },
        ...metrics.map((metric) => ({ key: metric, numeric: true })),
        { key: "fit_seconds", label: "Fit (s)", numeric: true },
      ],
      rows,
    ),
    chart,
  );
  const draw = () => bars(chart, rows.map((row) => row.name), rows.map((row) => row[sortedBy]), { title: `${sortedBy} by model (best first)`, yTitle: sortedBy });
  return { element, draw };
}
