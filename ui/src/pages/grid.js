// Grid: runs (columns, oldest left) × tasks (rows, grouped by task group, groups collapsible),
// each square coloured by state and linking to its task instance.
import { enc, poller } from "../api.js";
import { clear, h, square, time } from "../dom.js";
import { gridPath, structure, tabs, worst } from "../dagview.js";

export async function render(main, [dagId], query) {
  const poll = poller();
  const struct = await structure(dagId);
  const collapsed = new Set();
  const table = h("div", { class: "grid-wrap", id: "grid" });
  clear(main, tabs(dagId, "grid", query.get("run")), legend(), table);
  let last = null;

  function draw(data) {
    const runs = data.dag_runs.slice().reverse();
    const cell = new Map();
    for (const ti of data.task_instances) {
      const key = `${ti.run_id}\u0000${ti.task_id}`;
      cell.set(key, [...(cell.get(key) || []), ti]);
    }
    const head = h("tr", {}, h("th", { scope: "col" }, "Task"), runs.map((r) =>
      h("th", { scope: "col", class: "run-col" },
        square(r.state, `run ${r.run_id}: ${r.state}`, `#/dag/${enc(dagId)}/gantt?run=${enc(r.run_id)}`))));
    const rows = [];
    const groupsOf = new Map(struct.groups.map((g) => [g.group_id, g]));
    const emitted = new Set();
    const hidden = (groupId) => {
      for (let g = groupId; g; g = groupsOf.get(g)?.parent) if (collapsed.has(g)) return true;
      return false;
    };
    const depth = (groupId) => (groupId ? groupId.split(".").length : 0);
    for (const task of struct.tasks) {
      // Emit each enclosing group's header row before its first task.
      const chain = [];
      for (let g = task.task_group; g; g = groupsOf.get(g)?.parent) chain.unshift(g);
      for (const g of chain) {
        if (emitted.has(g)) continue;
        emitted.add(g);
        if (hidden(groupsOf.get(g)?.parent)) continue;
        const members = struct.tasks.filter((t) => t.task_group === g || t.task_group?.startsWith(g + "."));
        const open = !collapsed.has(g);
        rows.push(h("tr", { class: "group-row" },
          h("th", { scope: "row", style: `padding-left:${depth(g) - 1}em` },
            h("button", { type: "button", class: "link", "aria-expanded": String(open),
              onclick: () => { open ? collapsed.add(g) : collapsed.delete(g); draw(last); } },
              open ? "▾ " : "▸ ", g.split(".").pop())),
          runs.map((r) => {
            const st = worst(members.flatMap((t) => (cell.get(`${r.run_id}\u0000${t.task_id}`) || []).map((c) => c.state)));
            return h("td", {}, square(st, `group ${g} in ${r.run_id}: ${st}`));
          })));
      }
      if (hidden(task.task_group)) continue;
      rows.push(h("tr", {},
        h("th", { scope: "row", style: `padding-left:${depth(task.task_group)}em` }, task.task_id.split(".").pop()),
        runs.map((r) => {
          const tis = cell.get(`${r.run_id}\u0000${task.task_id}`) || [];
          const st = worst(tis.map((c) => c.state));
          const label = `${task.task_id} in ${r.run_id}: ${tis.length ? st : "no instance"}`;
          return h("td", {}, tis.length ? square(st, label, `#/ti/${enc(dagId)}/${enc(r.run_id)}/${enc(task.task_id)}`) : square("absent", label));
        })));
    }
    clear(table, runs.length ? h("table", { class: "grid" },
      h("caption", { class: "sr-only" }, `Runs of ${dagId} by task`),
      h("thead", {}, head), h("tbody", {}, rows)) : h("p", {}, "No runs yet."),
    runs.length ? h("p", { class: "muted small" }, "Newest run: ", h("code", {}, runs[runs.length - 1].run_id), " · ", time(runs[runs.length - 1].logical_date)) : null);
  }

  async function refresh() {
    const [data, changed] = await poll(gridPath(dagId));
    if (changed || !last) { last = data; draw(data); }
  }
  await refresh();
  return { refresh };
}

export function legend() {
  const states = ["success", "running", "queued", "scheduled", "up_for_retry", "failed", "upstream_failed", "skipped", "none"];
  return h("ul", { class: "legend", "aria-label": "State colours" }, states.map((s) => h("li", {}, h("span", { class: `sq s-${s}`, "aria-hidden": "true" }), s)));
}
