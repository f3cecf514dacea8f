// What every page of a project shows: its name and status, the serving model, and the tabs of the views that apply.

import { capabilities, get } from "../api.js";
import { h, notice, replace } from "../dom.js";

export function statusBadge(status) {
  return h("span", { class: `badge ${status}` }, status);
}

export function isForecast(model) {
  return Boolean(model && model.task === "forecast");
}

// Loads the project, its serving model and what the server offers; draws the header and tabs into main and returns
// {project, model, caps, content} (content: the element the view fills).
export async function projectShell({ main, params }, current) {
  const [projectId] = params;
  const [project, caps] = await Promise.all([get(`/projects/${projectId}`), capabilities()]);
  const model = project.active_model ? await get(`/projects/${projectId}/models/${project.active_model}`) : null;
  const tabs = [
    ["data", "Data", `#/projects/${projectId}`, true],
    ["train", "Train", `#/projects/${projectId}/train`, true],
    ["results", "Results", `#/projects/${projectId}/results`, true],
    ["predict", "Predict", `#/projects/${projectId}/predict`, !isForecast(model)],
    ["forecast", "Forecast", `#/projects/${projectId}/forecast`, caps.forecast && isForecast(model)],
    ["what-if", "What-if", `#/projects/${projectId}/what-if`, caps.whatIf && model && !isForecast(model)],
    ["actuals", "Actuals", `#/projects/${projectId}/actuals`, caps.actuals && model],
  ];
  replace(
    document.getElementById("crumbs"),
    h("span", {}, "/"),
    h("a", { href: "#/projects" }, "Projects"),
    h("span", {}, "/"),
    h("a", { href: `#/projects/${projectId}` }, project.name),
  );
  const content = h("div", { id: "project-content" });
  replace(
    main,
    h(
      "div",
      { class: "row" },
      h("div", { class: "grow" }, h("h1", { id: "project-name" }, project.name), project.description ? h("p", { class: "muted small" }, project.description) : null),
      h(
        "div",
        { class: "muted small" },
        statusBadge(project.status),
        " target ",
        h("strong", {}, project.target),
        " · ",
        model ? `model v${model.version} (${model.algorithm}) serves` : "no model serves yet",
      ),
    ),
    h(
      "nav",
      { class: "tabs", "aria-label": "project" },
      tabs.filter(([key, , , shown]) => shown || key === current).map(([key, label, href]) => h("a", { href, class: key === current ? "current" : null, dataset: { tab: key } }, label)),
    ),
    content,
  );
  return { project, model, caps, content };
}

// What a view says when the server does not have the route it needs.
export function notAvailable(feature) {
  return notice("warning", `${feature} is not available on this server yet (its API route is missing).`);
}
