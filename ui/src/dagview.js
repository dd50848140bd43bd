// What the DAG pages share: the tab bar, the structure (tasks, edges, groups) and state ordering.
import { enc, get } from "./api.js";
import { h } from "./dom.js";

export function tabs(dagId, here, runId) {
  const run = runId ? `?run=${enc(runId)}` : "";
  const tab = (name, label) => h("a", { href: `#/dag/${enc(dagId)}/${name}${name === "trigger" ? "" : run}`, "aria-current": here === name ? "page" : null }, label);
  return h("div", { class: "dag-head" },
    h("h1", {}, h("a", { href: "#/dags", class: "muted" }, "DAGs"), " / ", dagId),
    h("nav", { class: "tabs", "aria-label": "DAG views" },
      tab("grid", "Grid"), tab("graph", "Graph"), tab("gantt", "Gantt"), tab("trigger", "Trigger")));
}

const structures = new Map();
export async function structure(dagId) {
  if (!structures.has(dagId)) structures.set(dagId, await get(`/dags/${enc(dagId)}/structure`));
  return structures.get(dagId);
}

// The state a collapsed group shows: the most urgent of its members'.
const URGENCY = ["failed", "upstream_failed", "up_for_retry", "running", "queued", "scheduled", "deferred",
  "up_for_reschedule", "none", "skipped", "removed", "success"];
export function worst(states) {
  let best = null;
  for (const s of states) {
    const rank = URGENCY.indexOf(s || "none");
    if (best === null || (rank >= 0 && rank < URGENCY.indexOf(best))) best = s || "none";
  }
  return best || "none";
}

/** Task ids reachable from `start` along `next` (downstream or upstream lists), start excluded. */
export function reach(tasksById, start, next) {
  const seen = new Set();
  const stack = [...(tasksById.get(start)?.[next] || [])];
  while (stack.length) {
    const t = stack.pop();
    if (seen.has(t)) continue;
    seen.add(t);
    stack.push(...(tasksById.get(t)?.[next] || []));
  }
  return [...seen].sort();
}

export function gridPath(dagId, runs = 25) {
  return `/ui/dags/${enc(dagId)}/grid?runs=${runs}`;
}
