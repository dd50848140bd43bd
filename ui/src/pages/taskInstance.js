// One task instance: its tries (state, duration, hostname), why it is not running yet, XComs, the
// log of a try with live tail by byte offset, and clear / mark success / mark failed, each behind
// a confirmation that names every task instance it will change.
import { ApiError, enc, get, patch, poller, post, runPath, tiPath } from "../api.js";
import { badge, clear, confirmDialog, duration, errorBox, h, time } from "../dom.js";
import { reach, structure, tabs } from "../dagview.js";

const NOT_STARTED = new Set(["none", "scheduled", "queued", "up_for_retry", "up_for_reschedule", "deferred"]);
const TAIL_BYTES = 65536;

export async function render(main, [dagId, runId, taskId], query, ctx) {
  const poll = poller();
  const path = tiPath(dagId, runId, taskId);
  const struct = await structure(dagId);
  const byId = new Map(struct.tasks.map((t) => [t.task_id, t]));
  const summary = h("section", { id: "ti-summary", "aria-label": "Task instance" });
  const actions = h("section", { id: "ti-actions", class: "actions", "aria-label": "Actions" });
  const why = h("section", { id: "ti-why", class: "card", "aria-labelledby": "why-title" });
  const tries = h("section", { id: "ti-tries" });
  const xcoms = h("section", { id: "ti-xcoms" });
  const rendered = h("section", { id: "ti-rendered", class: "card" });
  const logBox = h("section", { id: "ti-log" });
  clear(main, tabs(dagId, "", runId),
    h("h2", {}, h("a", { href: `#/dag/${enc(dagId)}/grid` }, runId), " / ", taskId),
    summary, actions, why, tries, rendered, xcoms, logBox);

  let ti = null;
  const log = makeLog(logBox, path);

  async function refresh() {
    const [fresh, changed] = await poll(path);
    if (!changed && ti) return log.tail();
    const first = ti === null;
    const tryChanged = !ti || ti.try_number !== fresh.try_number;
    ti = fresh;
    clear(summary, h("dl", { class: "facts" },
      fact("State", badge(ti.state)), fact("Try", `${ti.try_number} of ${ti.max_tries + 1}`),
      fact("Operator", ti.operator || "–"), fact("Pool", `${ti.pool} (${ti.pool_slots} slot${ti.pool_slots === 1 ? "" : "s"})`),
      fact("Started", time(ti.start_date)), fact("Ended", time(ti.end_date)), fact("Duration", duration(ti.duration)),
      fact("Host", ti.hostname || "–"), ti.next_retry_at ? fact("Next retry", time(ti.next_retry_at)) : null),
      ti.error ? h("details", { open: ti.state === "failed" }, h("summary", {}, "Error"), h("pre", {}, ti.error)) : null);
    drawTries(tries, ti);
    drawRendered(rendered, ti.rendered_fields);
    if (first) drawActions(actions, ctx.user, dagId, runId, taskId, byId, refresh);
    await drawWhy(why, path, ti);
    const xs = await get(path + "/xcomEntries").catch(() => ({ xcom_entries: [] }));
    clear(xcoms, h("h3", {}, "XComs"), xs.xcom_entries.length ? h("table", {},
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Key"), h("th", { scope: "col" }, "Value"))),
      h("tbody", {}, xs.xcom_entries.map((x) => h("tr", {}, h("td", {}, h("code", {}, x.key)), h("td", {}, h("pre", {}, JSON.stringify(x.value, null, 2)))))))
      : h("p", { class: "muted" }, "None."));
    if (first || tryChanged) log.pick(ti, Number(query.get("try")) || ti.try_number);
    await log.tail();
  }
  await refresh();
  return { refresh, dispose: () => log.stop() };
}

function fact(k, v) {
  return h("div", {}, h("dt", {}, k), h("dd", {}, v));
}

function drawTries(box, ti) {
  const rows = ti.tries.map((t) => h("tr", {},
    h("td", {}, String(t.try_number)), h("td", {}, badge(t.state)), h("td", {}, time(t.recorded_at)),
    h("td", {}, t.try_number === ti.try_number ? duration(ti.duration) : "–"),
    h("td", {}, t.hostname || "–"), h("td", {}, t.error ? h("code", { class: "small" }, t.error.split("\n").pop()) : t.reason || "")));
  clear(box, h("h3", {}, "Tries"), rows.length ? h("table", { id: "tries" },
    h("thead", {}, h("tr", {}, ["Try", "State", "Recorded", "Duration", "Host", "Note"].map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, rows)) : h("p", { class: "muted" }, "No try yet."));
}

// The template fields as the latest try that rendered them stored them (secrets already ***).
function drawRendered(box, rendered) {
  const title = h("h3", {}, "Rendered templates");
  if (!rendered) return clear(box, title, h("p", { class: "muted", id: "rendered-none" },
    "None stored: a try stores its task's template fields once it has rendered them (tasks without template fields, or whose fields are all empty, store none)."));
  const fields = Object.entries(rendered.fields);
  clear(box, title,
    h("p", { class: "muted small" }, `Rendered by try ${rendered.try_number}, `, time(rendered.rendered_at)),
    h("dl", { id: "rendered-fields" }, fields.map(([name, value]) => h("div", {},
      h("dt", {}, h("code", {}, name)),
      h("dd", {}, h("pre", {}, typeof value === "string" ? value : JSON.stringify(value, null, 2)))))));
}

async function drawWhy(box, path, ti) {
  if (!NOT_STARTED.has(ti.state)) return clear(box).setAttribute("hidden", "");
  box.removeAttribute("hidden");
  const title = h("h3", { id: "why-title" }, "Why isn't this task running?");
  try {
    const why = await get(path + "/why");
    // The explanation of `windvane tasks why --json`: a verdict and every reason, most pressing first.
    const reasons = why.reasons || [];
    clear(box, title, h("p", {}, "Verdict: ", h("strong", { id: "why-verdict" }, why.verdict || "?")),
      reasons.length ? h("ul", { id: "why-reasons" }, reasons.map((r) =>
        h("li", {}, r.message, " ", h("code", { class: "small muted" }, r.code),
          r.details && Object.keys(r.details).length ? h("details", {}, h("summary", {}, "details"),
            h("pre", { class: "small" }, JSON.stringify(r.details, null, 2))) : null)))
        : h("p", { id: "why-reasons" }, "Nothing holds it back: the scheduler queues it on its next loop."));
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 404) return clear(box, title, errorBox(err));
    // A 404 names what is missing (the run, the task, the DAG): say so in the API's words.
    clear(box, title, h("p", { class: "placeholder", id: "why-missing" }, "No explanation: ", err.message));
  }
}

function drawActions(box, user, dagId, runId, taskId, byId, refresh) {
  if (!user || user.role === "viewer") return clear(box, h("p", { class: "muted" }, "Viewers cannot change task instances."));
  const down = h("input", { type: "checkbox", id: "opt-down" });
  const up = h("input", { type: "checkbox", id: "opt-up" });
  const msg = h("p", { role: "status" });
  const affected = () => [taskId, ...(down.checked ? reach(byId, taskId, "downstream") : []), ...(up.checked ? reach(byId, taskId, "upstream") : [])];
  async function act(verb, fn) {
    const ids = [...new Set(affected())];
    const ok = await confirmDialog(`${verb} ${ids.length} task instance${ids.length > 1 ? "s" : ""} of ${runId}?`,
      ids.map((i) => `${dagId} / ${runId} / ${i}`), verb);
    if (!ok) return;
    try {
      const done = await fn(ids);
      msg.textContent = `${verb}: ${done.task_ids.join(", ") || "nothing to change"}`;
      await refresh();
    } catch (err) {
      msg.textContent = `${verb} refused: ${err.message}`;
    }
  }
  const body = () => ({ downstream: down.checked, upstream: up.checked });
  clear(box,
    h("label", {}, down, " with downstream"), h("label", {}, up, " with upstream"),
    h("button", { type: "button", id: "btn-clear", onclick: () => act("Clear", () => post(`${runPath(dagId, runId)}/clearTaskInstances`, { task_ids: [taskId], ...body() })) }, "Clear"),
    h("button", { type: "button", id: "btn-success", class: "secondary", onclick: () => act("Mark success", () => patch(tiPath(dagId, runId, taskId), { state: "success", ...body() })) }, "Mark success"),
    h("button", { type: "button", id: "btn-failed", class: "danger", onclick: () => act("Mark failed", () => patch(tiPath(dagId, runId, taskId), { state: "failed", ...body() })) }, "Mark failed"),
    msg);
}

// The log of one try, read in chunks from a byte offset and appended while the try runs.
function makeLog(box, path) {
  const picker = h("select", { id: "log-try", "aria-label": "Try" });
  const pre = h("pre", { class: "log", id: "log", tabindex: 0, "aria-label": "Log", "aria-live": "off" });
  const status = h("span", { class: "muted small", id: "log-status" });
  let offset = 0;
  let tryNumber = 0;
  let busy = false;
  let stopped = false;
  picker.addEventListener("change", () => { tryNumber = Number(picker.value); offset = 0; pre.textContent = ""; tail(); });
  clear(box, h("h3", {}, "Log ", picker, " ", status), pre);

  function pick(ti, wanted) {
    box.hidden = ti.try_number === 0; // no try, no log
    const n = Math.max(1, Math.min(wanted, ti.try_number || 1));
    clear(picker, Array.from({ length: Math.max(1, ti.try_number) }, (_, i) => h("option", { value: i + 1 }, `try ${i + 1}`)));
    picker.value = String(n);
    if (n !== tryNumber) { tryNumber = n; offset = 0; pre.textContent = ""; }
  }

  async function tail() {
    if (busy || stopped || !tryNumber || box.hidden) return;
    busy = true;
    try {
      for (let i = 0; i < 20; i++) { // at most 1.25 MiB per refresh, the rest on the next
        const chunk = await get(`${path}/logs/${tryNumber}?offset=${offset}&limit=${TAIL_BYTES}`);
        const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
        pre.append(chunk.content);
        offset = chunk.next_offset;
        if (atBottom) pre.scrollTop = pre.scrollHeight;
        status.textContent = `${offset.toLocaleString()} of ${chunk.size.toLocaleString()} bytes`;
        if (chunk.next_offset >= chunk.size || !chunk.content) break;
      }
    } catch (err) {
      status.textContent = err.status === 404 ? "no log yet" : String(err.message);
    } finally {
      busy = false;
    }
  }
  return { pick, tail, stop: () => { stopped = true; } };
}
