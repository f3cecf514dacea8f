// The SalesML console: a hash router over views of the API's resources (MLflow-style: the API is the only back end).

import { session, signOut, whenSignedOut } from "./api.js";
import { errorNotice, h, replace } from "./dom.js";
import { actualsView } from "./views/actuals.js";
import { dataView } from "./views/data.js";
import { forecastView } from "./views/forecast.js";
import { predictView } from "./views/predict.js";
import { projectsView } from "./views/projects.js";
import { resultsView } from "./views/results.js";
import { runView } from "./views/run.js";
import { signInView } from "./views/sign_in.js";
import { trainView } from "./views/train.js";
import { whatIfView } from "./views/what_if.js";

const ROUTES = [
  [/^#\/sign-in$/, (context) => signInView(context, "sign-in"), { anonymous: true }],
  [/^#\/register$/, (context) => signInView(context, "register"), { anonymous: true }],
  [/^#\/projects$/, projectsView],
  [/^#\/projects\/(\d+)$/, dataView],
  [/^#\/projects\/(\d+)\/train$/, trainView],
  [/^#\/projects\/(\d+)\/runs\/(\d+)$/, runView],
  [/^#\/projects\/(\d+)\/results$/, resultsView],
  [/^#\/projects\/(\d+)\/predict$/, predictView],
  [/^#\/projects\/(\d+)\/forecast$/, forecastView],
  [/^#\/projects\/(\d+)\/what-if$/, whatIfView],
  [/^#\/projects\/(\d+)\/actuals$/, actualsView],
];

const main = document.getElementById("view");
const who = document.getElementById("who");
const signOutButton = document.getElementById("sign-out");
let leaving = [];

export function navigate(hash) {
  if (location.hash === hash) render();
  else location.hash = hash;
}

function render() {
  for (const callback of leaving) callback();
  leaving = [];
  const hash = location.hash || "#/projects";
  const match = ROUTES.map(([pattern, view, options]) => [hash.match(pattern), view, options || {}]).find(([found]) => found);
  if (!match) return navigate("#/projects");
  const [found, view, options] = match;
  if (!options.anonymous && !session.signedIn) return navigate("#/sign-in");
  who.textContent = session.signedIn ? session.username || "" : "";
  signOutButton.hidden = !session.signedIn;
  replace(document.getElementById("crumbs"));
  const context = {
    params: found.slice(1).map(Number),
    main,
    navigate,
    // Timers and polls a view starts stop when the user leaves it.
    onLeave: (callback) => leaving.push(callback),
  };
  replace(main, h("p", { class: "muted" }, "Loading…"));
  Promise.resolve(view(context)).catch((error) => replace(main, errorNotice(error)));
}

whenSignedOut(() => navigate("#/sign-in"));
signOutButton.addEventListener("click", async () => {
  await signOut();
  navigate("#/sign-in");
});
window.addEventListener("hashchange", render);
render();
