// Graph: tasks and edges laid out by dagre (compound graph: expanded task groups are boxes around
// their tasks, a collapsed group is one node), coloured by the chosen run's states, polled live.
import dagre from "@dagrejs/dagre";
import { enc, poller } from "../api.js";
import { clear, h } from "../dom.js";
import { gridPath, structure, tabs, worst } from "../dagview.js";
import { legend } from "./grid.js";

const SVG = "http://www.w3.org/2000/svg";
const NODE_W = 170;
const NODE_H = 36;

function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) el.setAttribute(k, String(v));
  el.append(...children);
  return el;
}

export async function render(main, [dagId], query) {
  const poll = poller();
  const struct = await structure(dagId);
  const collapsed = new Set(query.get("collapsed") ? query.get("collapsed").split(",") : []);
  const runPicker = h("select", { id: "graph-run", onchange: () => refresh(true) });
  const box = h("div", { class: "graph", id: "graph" });
  clear(main, tabs(dagId, "graph", query.get("run")),
    h("div", { class: "filters" }, h("label", { for: "graph-run" }, "Run"), runPicker), legend(), box);
  let data = null;

  // The visible node standing for a task: itself, or its outermost collapsed group.
  const groupsOf = new Map(struct.groups.map((g) => [g.group_id, g]));
  function rep(task) {
    let found = null;
    for (let g = task.task_group; g; g = groupsOf.get(g)?.parent) if (collapsed.has(g)) found = g;
    return found ? "group:" + found : task.task_id;
  }

  function draw() {
    const runId = runPicker.value;
    const states = new Map((data?.task_instances || []).filter((t) => t.run_id === runId).map((t) => [t.task_id, t.state]));
    const g = new dagre.graphlib.Graph({ compound: true, multigraph: false });
    g.setGraph({ rankdir: "LR", nodesep: 18, ranksep: 50, marginx: 12, marginy: 12 });
    g.setDefaultEdgeLabel(() => ({}));
    const byTask = new Map(struct.tasks.map((t) => [t.task_id, t]));
    for (const grp of struct.groups) {
      const hiddenByParent = [...ancestors(grp.parent)].some((a) => collapsed.has(a));
      if (hiddenByParent) continue;
      if (collapsed.has(grp.group_id)) {
        const members = struct.tasks.filter((t) => rep(t) === "group:" + grp.group_id);
        g.setNode("group:" + grp.group_id, { label: grp.group_id.split(".").pop(), width: NODE_W, height: NODE_H, group: grp.group_id,
          state: worst(members.map((t) => states.get(t.task_id))), count: members.length });
      } else {
        g.setNode("cluster:" + grp.group_id, { label: grp.group_id.split(".").pop(), cluster: grp.group_id });
      }
      if (grp.parent && !collapsed.has(grp.parent)) g.setParent((collapsed.has(grp.group_id) ? "group:" : "cluster:") + grp.group_id, "cluster:" + grp.parent);
    }
    for (const t of struct.tasks) {
      if (rep(t) !== t.task_id) continue;
      g.setNode(t.task_id, { label: t.task_id.split(".").pop(), width: NODE_W, height: NODE_H, task: t, state: states.get(t.task_id) || "none" });
      if (t.task_group) g.setParent(t.task_id, "cluster:" + t.task_group);
    }
    for (const e of struct.edges) {
      const a = rep(byTask.get(e.source));
      const b = rep(byTask.get(e.target));
      if (a !== b) g.setEdge(a, b);
    }
    dagre.layout(g);
    const { width, height } = g.graph();
    const svg = s("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "group", "aria-label": `Graph of ${dagId}` });
    for (const id of g.nodes()) {
      const n = g.node(id);
      if (!n.cluster) continue;
      const open = s("g", { class: "cluster", tabindex: 0, role: "button", "aria-label": `Collapse group ${n.cluster}` },
        s("rect", { x: n.x - n.width / 2, y: n.y - n.height / 2, width: n.width, height: n.height, rx: 6 }),
        s("text", { x: n.x - n.width / 2 + 6, y: n.y - n.height / 2 + 13 }, "▾ " + n.label));
      activate(open, () => { collapsed.add(n.cluster); draw(); });
      svg.append(open);
    }
    for (const e of g.edges()) {
      const pts = g.edge(e).points;
      svg.append(s("path", { class: "edge", d: "M" + pts.map((p) => `${p.x},${p.y}`).join(" L"), "marker-end": "url(#arrow)" }));
    }
    svg.prepend(s("defs", {}, s("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" },
      s("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "arrowhead" }))));
    for (const id of g.nodes()) {
      const n = g.node(id);
      if (n.cluster) continue;
      const shape = [s("rect", { x: n.x - n.width / 2, y: n.y - n.height / 2, width: n.width, height: n.height, rx: 5, class: `node s-${n.state}` }),
        s("text", { x: n.x, y: n.y + 4, "text-anchor": "middle" }, (n.group ? "▸ " : "") + n.label + (n.group ? ` (${n.count})` : ""))];
      if (n.group) {
        const el = s("g", { tabindex: 0, role: "button", class: "gnode", "aria-label": `Expand group ${n.group}: ${n.state}` }, ...shape);
        activate(el, () => { collapsed.delete(n.group); draw(); });
        svg.append(el);
      } else {
        const href = runId ? `#/ti/${enc(dagId)}/${enc(runId)}/${enc(n.task.task_id)}` : null;
        const title = s("title"); title.textContent = `${n.task.task_id} (${n.task.operator}): ${n.state}`;
        svg.append(href ? s("a", { href, "aria-label": `${n.task.task_id}: ${n.state}` }, title, ...shape) : s("g", {}, title, ...shape));
      }
    }
    clear(box, svg);
  }

  async function refresh(force = false) {
    const [fresh, changed] = await poll(gridPath(dagId));
    if (!changed && data && !force) return;
    data = fresh;
    const wanted = runPicker.value || query.get("run") || fresh.dag_runs[0]?.run_id || "";
    clear(runPicker, fresh.dag_runs.map((r) => h("option", { value: r.run_id }, `${r.run_id} (${r.state})`)));
    if (!fresh.dag_runs.length) runPicker.append(h("option", { value: "" }, "no runs yet"));
    runPicker.value = wanted;
    draw();
  }

  function ancestors(g) {
    const out = [];
    for (let x = g; x; x = groupsOf.get(x)?.parent) out.push(x);
    return out;
  }

  await refresh();
  return { refresh };
}

function activate(el, fn) {
  el.addEventListener("click", fn);
  el.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); fn(); } });
}
