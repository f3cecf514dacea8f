// The public API, same origin, with the user's own tokens. Tokens live in sessionStorage (this tab only, gone when it
// closes), never in a cookie: the gateway reads only the Authorization header, so no request can ride on ambient
// credentials.

const BASE = "/api/v1";
const KEYS = { access: "salesml.access", refresh: "salesml.refresh", username: "salesml.username" };
export const PARQUET = "application/vnd.apache.parquet";

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `The server answered ${status}.`);
    this.status = status;
    this.errors = (body && body.errors) || null;
  }

  // 404/405 on a route the console knows: the server does not have that feature (yet).
  get routeMissing() {
    return this.status === 405 || this.status === 404;
  }
}

export const session = {
  get access() {
    return sessionStorage.getItem(KEYS.access);
  },
  get refresh() {
    return sessionStorage.getItem(KEYS.refresh);
  },
  get username() {
    return sessionStorage.getItem(KEYS.username);
  },
  get signedIn() {
    return Boolean(this.access);
  },
  store(tokens, username) {
    sessionStorage.setItem(KEYS.access, tokens.access_token);
    if (tokens.refresh_token) sessionStorage.setItem(KEYS.refresh, tokens.refresh_token);
    if (username) sessionStorage.setItem(KEYS.username, username);
  },
  clear() {
    for (const key of Object.values(KEYS)) sessionStorage.removeItem(key);
  },
};

// Called when the session cannot be renewed (the app sends the user to the sign-in page).
let onSignedOut = () => {};
export function whenSignedOut(callback) {
  onSignedOut = callback;
}

async function errorOf(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  return new ApiError(response.status, body);
}

async function refreshAccess() {
  const refresh = session.refresh;
  if (!refresh) return false;
  const response = await fetch(`${BASE}/auth/refresh`, { method: "POST", headers: { Authorization: `Bearer ${refresh}` } });
  if (!response.ok) return false;
  session.store(await response.json());
  return true;
}

// request("POST", "/projects", {json: {...}}) → the parsed JSON answer (null for 204); {raw: true} → the Response.
// Throws ApiError with the API's message and field errors.
export async function request(method, path, { json, body, headers = {}, accept, raw = false, anonymous = false, signal } = {}) {
  const send = () => {
    const allHeaders = { ...headers };
    if (!anonymous && session.access) allHeaders.Authorization = `Bearer ${session.access}`;
    if (accept) allHeaders.Accept = accept;
    let payload = body;
    if (json !== undefined) {
      allHeaders["Content-Type"] = "application/json";
      payload = JSON.stringify(json);
    }
    return fetch(BASE + path, { method, headers: allHeaders, body: payload, signal, credentials: "omit", redirect: "error" });
  };
  let response = await send();
  if (response.status === 401 && !anonymous && session.refresh) {
    if (await refreshAccess()) {
      response = await send();
    }
    if (response.status === 401) {
      session.clear();
      onSignedOut();
    }
  }
  if (!response.ok) throw await errorOf(response);
  if (raw) return response;
  if (response.status === 204) return null;
  return response.json();
}

export const get = (path, options) => request("GET", path, options);
export const post = (path, json, options = {}) => request("POST", path, { json, ...options });

export async function signIn(username, password) {
  const tokens = await request("POST", "/auth/login", { json: { username, password }, anonymous: true });
  session.store(tokens, username);
}

export async function register(username, password) {
  await request("POST", "/auth/register", { json: { username, password }, anonymous: true });
  await signIn(username, password);
}

export async function signOut() {
  const tokens = [session.access, session.refresh].filter(Boolean);
  session.clear();
  // Revoke both tokens; a failure here changes nothing for this tab, which has forgotten them.
  await Promise.allSettled(tokens.map((token) => fetch(`${BASE}/auth/logout`, { method: "POST", headers: { Authorization: `Bearer ${token}` } })));
}

// --- what this server offers: read from its OpenAPI document -----------------------------------------------------

let capabilitiesPromise = null;

function normalized(path) {
  return path.replace(/\{[^}/]+\}/g, "{}").replace(/\/$/, "");
}

// {forecast, backtest, holdout, whatIf, actuals, explain, forecastExplain, forecastTask, modelIds, sortMetrics}: which
// documented features this gateway routes today. Views of features it lacks say so instead of calling routes that are
// not there.
export function capabilities() {
  if (!capabilitiesPromise) {
    capabilitiesPromise = fetch(`${BASE}/openapi.json`, { credentials: "omit" })
      .then((response) => (response.ok ? response.json() : { paths: {} }))
      .catch(() => ({ paths: {} }))
      .then(describeCapabilities);
  }
  return capabilitiesPromise;
}

function resolveSchema(document, schema) {
  let current = schema || {};
  for (let hops = 0; current.$ref && hops < 10; hops += 1) {
    current = current.$ref.replace(/^#\//, "").split("/").reduce((node, key) => (node ? node[key] : undefined), document) || {};
  }
  return current;
}

function describeCapabilities(document) {
  const paths = {};
  for (const [path, item] of Object.entries(document.paths || {})) paths[normalized(path)] = item;
  const has = (path, method) => Boolean(paths[path] && paths[path][method]);
  const predict = (paths["/api/v1/projects/{}/predict"] || {}).post || {};
  const forecast = (paths["/api/v1/projects/{}/forecast"] || {}).post || {};
  const takesExplain = (operation) => (operation.parameters || []).some((parameter) => resolveSchema(document, parameter).name === "explain");
  const train = (paths["/api/v1/projects/{}/train"] || {}).post || {};
  const trainBody = resolveSchema(document, (((train.requestBody || {}).content || {})["application/json"] || {}).schema);
  const trainProperties = trainBody.properties || {};
  const include = resolveSchema(document, trainProperties.include);
  return {
    forecast: has("/api/v1/projects/{}/forecast", "post"),
    backtest: has("/api/v1/projects/{}/models/{}/backtest", "get"),
    holdout: has("/api/v1/projects/{}/models/{}/holdout", "get"),
    whatIf: has("/api/v1/projects/{}/what-if", "post"),
    actuals: has("/api/v1/projects/{}/actuals", "post"),
    explain: takesExplain(predict),
    forecastExplain: takesExplain(forecast),
    forecastTask: "task" in trainProperties,
    modelIds: ((include.items && resolveSchema(document, include.items).enum) || []).slice(),
    sortMetrics: (resolveSchema(document, trainProperties.sort).enum || []).slice(),
  };
}
