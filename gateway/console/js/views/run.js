// One training run, live: status, stage and a progress bar from polling the run; cancel; then its leaderboard.

import { get, post } from "../api.js";
import { errorNotice, formatDate, h, notice, replace } from "../dom.js";
import { leaderboard } from "./leaderboard.js";
import { projectShell, statusBadge } from "./project_shell.js";

const POLL_MS = 1000;
const FINISHED = new Set(["succeeded", "failed", "cancelled"]);

export async function runView(context) {
  const [, runId] = context.params;
  const { project, content } = await projectShell(context, "results");
  const path = `/projects/${project.id}/training-runs/${runId}`;
  const status = h("span", { id: "run-status" });
  const stage = h("span", { id: "run-stage", class: "muted" });
  const bar = h("progress", { id: "run-progress", max: 1, value: 0 });
  const percent = h("span", { id: "run-percent" });
  const message = h("div");
  const outcome = h("div", { id: "run-outcome" });
  const cancel = h("button", {
    type: "button",
    class: "danger",
    id: "cancel-run",
    onclick: async () => {
      cancel.disabled = true;
      try {
        await post(`${path}/cancel`);
      } catch (error) {
        replace(message, errorNotice(error));
        cancel.disabled = false;
      }
    },
  }, "Cancel run");
  const started = h("span", { class: "muted small" });
  replace(
    content,
    h(
      "div",
      { class: "card" },
      h("h2", {}, `Training run #${runId}`),
      h("div", { class: "row" }, status, stage, h("span", { class: "spacer" }), started),
      bar,
      h("div", { class: "actions" }, percent, cancel),
      message,
    ),
    outcome,
  );

  let timer = null;
  let stopped = false;
  context.onLeave(() => {
    stopped = true;
    clearTimeout(timer);
  });
  const poll = async () => {
    let run;
    try {
      run = await get(path);
    } catch (error) {
      replace(message, errorNotice(error));
      if (!stopped) timer = setTimeout(poll, POLL_MS * 3);
      return;
    }
    replace(status, statusBadge(run.status));
    stage.textContent = run.stage || "";
    bar.value = run.progress || 0;
    percent.textContent = `${Math.round((run.progress || 0) * 100)}%`;
    started.textContent = `queued ${formatDate(run.created_at)}${run.attempt > 1 ? ` · attempt ${run.attempt}` : ""}`;
    cancel.hidden = FINISHED.has(run.status);
    if (!FINISHED.has(run.status)) {
      if (!stopped) timer = setTimeout(poll, POLL_MS);
      return;
    }
    showOutcome(project, run, outcome);
  };
  await poll();
}

function showOutcome(project, run, outcome) {
  if (run.status === "failed") {
    replace(outcome, notice("error", "The run failed: ", (run.error && run.error.message) || "no reason given"));
    return;
  }
  if (run.status === "cancelled") {
    replace(outcome, notice("warning", "The run was cancelled."));
    return;
  }
  const board = leaderboard(run);
  const activation = run.activation ? h("p", { class: "muted small" }, `Activation: ${run.activation.decision} — ${run.activation.reason || ""}`) : null;
  replace(
    outcome,
    h(
      "div",
      { class: "card" },
      h("h2", {}, "Leaderboard"),
      notice("success", `Model v${run.model_version} trained. `, h("a", { href: `#/projects/${project.id}/results` }, "See the results"), " · ", h("a", { href: `#/projects/${project.id}/predict` }, "Predict")),
      activation,
      board.element,
    ),
  );
  board.draw();
}
