// The REST API client: the session cookie authenticates, mutating calls carry the CSRF token from
// the readable windvane_csrf cookie, and polling GETs send back the ETag they got so an unchanged
// answer costs a 304 and no re-render.
const BASE = "/api/v1";

export class ApiError extends Error {
  constructor(status, detail) {
    super(typeof detail === "string" ? detail : JSON.stringify(detail));
    this.status = status;
  }
}

function csrf() {
  const m = document.cookie.match(/(?:^|;\s*)windvane_csrf=([^;]+)/);
  return m ? decodeURIComponent(m[1]) : "";
}

async function request(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET") headers["X-CSRF-Token"] = csrf();
  const res = await fetch(BASE + path, {
    method, headers, credentials: "same-origin", cache: "no-store",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status === 401 && !path.startsWith("/auth/") && !location.hash.startsWith("#/login")) {
    location.hash = "#/login?next=" + encodeURIComponent(location.hash || "#/dags");
    throw new ApiError(401, "not authenticated");
  }
  if (res.status === 204) return null;
  const data = await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, data?.detail ?? res.statusText);
  return data;
}

export const get = (path) => request("GET", path);
export const post = (path, body) => request("POST", path, body ?? {});
export const patch = (path, body) => request("PATCH", path, body);
export const del = (path) => request("DELETE", path);

/**
 * A poller: GET with If-None-Match, returning [body, changed] (`changed` false on a 304). Each
 * page makes its own, so a page drawn afresh always gets its first answer as changed.
 */
export function poller() {
  const etags = new Map(); // path -> [etag, parsed body]
  return async function poll(path) {
    const known = etags.get(path);
    const headers = { Accept: "application/json" };
    if (known) headers["If-None-Match"] = known[0];
    const res = await fetch(BASE + path, { headers, credentials: "same-origin", cache: "no-store" });
    if (res.status === 304 && known) return [known[1], false];
    if (res.status === 401) return request("GET", path).then((b) => [b, true]);
    const data = await res.json().catch(() => null);
    if (!res.ok) throw new ApiError(res.status, data?.detail ?? res.statusText);
    const tag = res.headers.get("ETag");
    if (tag) etags.set(path, [tag, data]);
    return [data, true];
  };
}

export const enc = encodeURIComponent;
export const runPath = (dagId, runId) => `/dags/${enc(dagId)}/dagRuns/${enc(runId)}`;
export const tiPath = (dagId, runId, taskId) => `${runPath(dagId, runId)}/taskInstances/${enc(taskId)}`;
