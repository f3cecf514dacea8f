// The caller's projects with their status, and a form to create one.

import { get, post } from "../api.js";
import { errorNotice, field, formatDate, h, replace, table } from "../dom.js";
import { statusBadge } from "./project_shell.js";

export async function projectsView({ main, navigate }) {
  const projects = await get("/projects?page_size=100");
  const name = h("input", { name: "name", required: true, maxlength: 200, placeholder: "Supplements" });
  const target = h("input", { name: "target", value: "sales", maxlength: 200 });
  const description = h("input", { name: "description", maxlength: 1000 });
  const message = h("div");
  const form = h(
    "form",
    {
      class: "card",
      onsubmit: async (event) => {
        event.preventDefault();
        try {
          const created = await post("/projects", { name: name.value.trim(), target: target.value.trim() || "sales", description: description.value });
          navigate(`#/projects/${created.id}`);
        } catch (error) {
          replace(message, errorNotice(error));
        }
      },
    },
    h("h2", {}, "New project"),
    h("div", { class: "row" }, h("div", { class: "grow" }, field("Name", name)), field("Target column", target), h("div", { class: "grow" }, field("Description", description))),
    message,
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Create project")),
  );
  const list = projects.length
    ? table(
        [
          { key: "name", label: "Project" },
          { key: "status", format: (status) => statusBadge(status) },
          { key: "target", label: "Target" },
          { key: "active_model", label: "Serving model", format: (version) => (version ? `v${version}` : "—") },
          { key: "updated_at", label: "Updated", format: formatDate },
        ],
        projects,
        { onSelect: (project) => navigate(`#/projects/${project.id}`) },
      )
    : h("p", { class: "muted" }, "No projects yet: create one below, then upload its sales history.");
  replace(main, h("h1", {}, "Projects"), h("div", { class: "card", id: "project-list" }, list), form);
}
