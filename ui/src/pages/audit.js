// The audit log: every mutating API call (who, what, when, result), newest first, filterable.
import { poller } from "../api.js";
import { clear, h, time } from "../dom.js";

const PAGE = 100;

export async function render(main, _p, query) {
  const poll = poller();
  const user = h("input", { id: "audit-user", type: "search", value: query.get("username") || "" });
  const action = h("input", { id: "audit-action", type: "search", value: query.get("action") || "", placeholder: "e.g. trigger_dag_run" });
  const offset = Number(query.get("offset") || 0);
  const box = h("div", { id: "audit" });
  const go = (off) => {
    const q = new URLSearchParams();
    if (user.value) q.set("username", user.value);
    if (action.value) q.set("action", action.value);
    if (off) q.set("offset", String(off));
    location.hash = "#/audit?" + q;
  };
  clear(main, h("h1", {}, "Audit log"),
    h("form", { class: "filters", role: "search", onsubmit: (e) => { e.preventDefault(); go(0); } },
      h("label", { for: "audit-user" }, "User"), user, h("label", { for: "audit-action" }, "Action"), action,
      h("button", { type: "submit" }, "Filter")), box);

  async function refresh() {
    const q = new URLSearchParams({ limit: String(PAGE), offset: String(offset) });
    if (user.value) q.set("username", user.value);
    if (action.value) q.set("action", action.value);
    const [page, changed] = await poll("/audit-log?" + q);
    if (!changed && box.firstChild) return;
    clear(box, h("table", {},
      h("thead", {}, h("tr", {}, ["When", "Who", "Action", "Target", "Status", "Result", "From"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, page.audit_log.map((e) => h("tr", {},
        h("td", {}, time(e.at)), h("td", {}, e.username || "–"), h("td", {}, h("code", {}, e.action)),
        h("td", {}, h("code", { class: "small" }, `${e.method} ${e.target}`)), h("td", {}, String(e.status_code)),
        h("td", { class: e.result === "success" ? "" : "bad" }, e.result), h("td", {}, e.remote_addr || "–"))))),
    h("nav", { class: "pager", "aria-label": "Pages" },
      h("button", { type: "button", disabled: offset === 0, onclick: () => go(Math.max(0, offset - PAGE)) }, "← Newer"),
      h("span", {}, `${page.total_entries} entries`),
      h("button", { type: "button", disabled: offset + PAGE >= page.total_entries, onclick: () => go(offset + PAGE) }, "Older →")));
  }
  await refresh();
  return { refresh };
}
