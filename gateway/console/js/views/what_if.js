// What-if (docs/API.md, Decisions): a base row from the feature form, one column varied over a range, the predicted
// curve, and (with a price column) the revenue curve and the value that maximises it.

import { post } from "../api.js";
import { chartBox, plot, plotText } from "../charts.js";
import { errorNotice, field, formatNumber, h, notice, replace, select } from "../dom.js";
import { featureForm, kindOf } from "./feature_form.js";
import { isForecast, notAvailable, projectShell } from "./project_shell.js";

export async function whatIfView(context) {
  const { project, model, caps, content } = await projectShell(context, "what-if");
  if (!caps.whatIf) {
    replace(content, notAvailable("What-if analysis"));
    return;
  }
  if (!model || isForecast(model)) {
    replace(content, notice("", "What-if needs a serving regression model: ", h("a", { href: `#/projects/${project.id}/train` }, "train one"), "."));
    return;
  }
  const numeric = (model.features || []).filter((feature) => ["integer", "number"].includes(kindOf(feature.dtype)) && !feature.categories);
  if (!numeric.length) {
    replace(content, notice("", "The model has no numeric feature to vary."));
    return;
  }
  const byName = new Map(numeric.map((feature) => [feature.name, feature]));
  const priceLike = numeric.find((feature) => /price|preco|preço/i.test(feature.name));
  const column = select(numeric.map((feature) => feature.name), { name: "vary", value: (priceLike || numeric[0]).name });
  const from = h("input", { type: "number", step: "any", name: "from", required: true });
  const to = h("input", { type: "number", step: "any", name: "to", required: true });
  const steps = h("input", { type: "number", min: 2, max: 200, step: 1, value: 25, name: "steps" });
  const revenueOf = select([["", "no revenue"], ...numeric.map((feature) => feature.name)], { name: "revenue_of", value: priceLike ? priceLike.name : "" });
  const setRange = () => {
    const feature = byName.get(column.value);
    from.value = feature.min ?? 0;
    to.value = feature.max ?? 1;
  };
  column.addEventListener("change", setRange);
  setRange();
  const base = featureForm(model.features || []);
  const chart = chartBox("what-if", true);
  const result = h("div", { id: "what-if-result" });
  const submit = h("button", { type: "submit" }, "Compute");
  replace(
    content,
    h(
      "form",
      {
        class: "card",
        id: "what-if-form",
        onsubmit: async (event) => {
          event.preventDefault();
          submit.disabled = true;
          const body = { base: base.values(), vary: [{ column: column.value, from: Number(from.value), to: Number(to.value), steps: Number(steps.value) }] };
          if (revenueOf.value) body.revenue_of = revenueOf.value;
          try {
            const answer = await post(`/projects/${project.id}/what-if`, body);
            drawCurve(chart, result, model, column.value, answer);
          } catch (error) {
            replace(result, error.routeMissing ? notAvailable("What-if analysis") : errorNotice(error));
          } finally {
            submit.disabled = false;
          }
        },
      },
      h("h2", {}, "What if…"),
      h("div", { class: "row" }, field("Vary", column), field("From", from), field("To", to), field("Steps", steps), field("Revenue = prediction ×", revenueOf)),
      h("h3", {}, "The other features"),
      base.element,
      h("div", { class: "actions" }, submit),
      result,
      chart,
    ),
  );
}

function drawCurve(chart, result, model, varied, answer) {
  const points = answer.points || [];
  const x = points.map((point) => point[varied]);
  const traces = [{ type: "scatter", mode: "lines+markers", name: plotText(`predicted ${model.target}`), x, y: points.map((point) => point.prediction) }];
  const hasRevenue = points.some((point) => typeof point.revenue === "number");
  if (hasRevenue) traces.push({ type: "scatter", mode: "lines", name: "revenue", x, y: points.map((point) => point.revenue), yaxis: "y2", line: { dash: "dot", color: "#1e7d46" } });
  const best = answer.best;
  if (best) traces.push({ type: "scatter", mode: "markers", name: "best", x: [best[varied]], y: [hasRevenue ? best.revenue : best.prediction], yaxis: hasRevenue ? "y2" : "y", marker: { size: 14, symbol: "star", color: "#b3261e" } });
  replace(
    result,
    best
      ? notice("success", h("span", { id: "what-if-best" }, `Best ${varied}: ${formatNumber(best[varied])}`), ` — predicted ${model.target} ${formatNumber(best.prediction, 2)}`, typeof best.revenue === "number" ? `, revenue ${formatNumber(best.revenue, 2)}` : "")
      : null,
  );
  plot(chart, traces, {
    title: `${model.target} as ${varied} varies`,
    xaxis: { title: { text: plotText(varied) } },
    yaxis: { title: { text: plotText(model.target) } },
    ...(hasRevenue ? { yaxis2: { title: { text: "revenue" }, overlaying: "y", side: "right" }, margin: { l: 60, r: 70, t: 40, b: 50 } } : {}),
    legend: { orientation: "h" },
  });
}
