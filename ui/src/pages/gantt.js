// Gantt of one run: a bar per task instance from its start to its end (or now while running),
// on the run's own time axis; queued time shown as a lighter lead-in.
import { enc, poller } from "../api.js";
import { clear, duration, h, time } from "../dom.js";
import { gridPath, tabs } from "../dagview.js";

export async function render(main, [dagId], query) {
  const poll = poller();
  const picker = h("select", { id: "gantt-run", onchange: () => { location.hash = `#/dag/${enc(dagId)}/gantt?run=${enc(picker.value)}`; } });
  const box = h("div", { id: "gantt", class: "gantt" });
  clear(main, tabs(dagId, "gantt", query.get("run")), h("div", { class: "filters" }, h("label", { for: "gantt-run" }, "Run"), picker), box);

  async function refresh() {
    const [data, changed] = await poll(gridPath(dagId));
    if (!changed && picker.options.length) return;
    const runId = query.get("run") || data.dag_runs[0]?.run_id;
    clear(picker, data.dag_runs.map((r) => h("option", { value: r.run_id, selected: r.run_id === runId }, `${r.run_id} (${r.state})`)));
    const run = data.dag_runs.find((r) => r.run_id === runId);
    if (!run) return clear(box, h("p", {}, "No runs yet."));
    const tis = data.task_instances.filter((t) => t.run_id === runId && t.start_date)
      .sort((a, b) => a.start_date.localeCompare(b.start_date));
    const now = Date.now();
    const t0 = Math.min(...tis.map((t) => Date.parse(t.start_date)), Date.parse(run.start_date || run.queued_at || run.logical_date));
    const t1 = Math.max(...tis.map((t) => (t.end_date ? Date.parse(t.end_date) : now)), t0 + 1000);
    const pct = (t) => (((t - t0) / (t1 - t0)) * 100).toFixed(2) + "%";
    clear(box,
      h("p", { class: "muted small" }, "Run ", h("code", {}, run.run_id), " started ", time(run.start_date), ", ",
        run.end_date ? ["ended ", time(run.end_date)] : "still running", ` · span ${duration((t1 - t0) / 1000)}`),
      tis.length ? h("ol", { class: "gantt-rows", "aria-label": `Task instances of ${run.run_id} by start` }, tis.map((t) => {
        const start = Date.parse(t.start_date);
        const end = t.end_date ? Date.parse(t.end_date) : now;
        const label = `${t.task_id}: ${t.state}, ${duration((end - start) / 1000)}`;
        return h("li", {},
          h("a", { class: "gantt-label", href: `#/ti/${enc(dagId)}/${enc(runId)}/${enc(t.task_id)}` }, t.task_id),
          h("span", { class: "gantt-track" },
            h("span", { class: `gantt-bar s-${t.state}`, title: label, "aria-label": label, role: "img",
              style: `left:${pct(start)};width:max(3px, calc(${pct(end)} - ${pct(start)}))` })));
      })) : h("p", {}, "No task has started in this run yet."));
  }
  await refresh();
  return { refresh };
}
