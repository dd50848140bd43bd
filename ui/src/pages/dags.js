// The DAGs page: schedule, next run, the last runs as squares, paused toggle, tags filter and
// search; a banner with each import error's file and traceback.
import { enc, patch, poller } from "../api.js";
import { clear, errorBox, h, square, time } from "../dom.js";

const PAGE = 50;

export async function render(main, _params, query, ctx) {
  const poll = poller();
  const search = h("input", { type: "search", id: "dag-search", value: query.get("q") || "", placeholder: "dag id contains…" });
  const tag = h("input", { type: "search", id: "dag-tag", value: query.get("tag") || "", placeholder: "tag" });
  const paused = h("select", { id: "dag-paused" },
    h("option", { value: "" }, "all"), h("option", { value: "false" }, "active"), h("option", { value: "true" }, "paused"));
  paused.value = query.get("paused") || "";
  const offset = Number(query.get("offset") || 0);
  const banner = h("div", { id: "import-banner" });
  const body = h("div", { id: "dag-table" });
  const filters = h("form", { class: "filters", role: "search", onsubmit: (e) => { e.preventDefault(); go(0); } },
    h("label", { for: "dag-search" }, "Search"), search,
    h("label", { for: "dag-tag" }, "Tag"), tag,
    h("label", { for: "dag-paused" }, "Show"), paused,
    h("button", { type: "submit" }, "Filter"));
  clear(main, h("h1", {}, "DAGs"), banner, filters, body);

  function go(off) {
    const q = new URLSearchParams();
    if (search.value) q.set("q", search.value);
    if (tag.value) q.set("tag", tag.value);
    if (paused.value) q.set("paused", paused.value);
    if (off) q.set("offset", String(off));
    location.hash = "#/dags?" + q;
  }

  function listPath() {
    const q = new URLSearchParams({ limit: String(PAGE), offset: String(offset) });
    if (search.value) q.set("dag_id_pattern", search.value);
    if (tag.value) q.append("tags", tag.value);
    if (paused.value) q.set("paused", paused.value);
    return "/dags?" + q;
  }

  async function refresh() {
    const [page, changedDags] = await poll(listPath());
    const ids = page.dags.map((d) => d.dag_id);
    const runsQ = ids.map((i) => "dag_ids=" + enc(i)).join("&");
    const [recent, changedRuns] = ids.length ? await poll(`/ui/recentRuns?runs=10&${runsQ}`) : [{ runs: {} }, true];
    const [errors, changedErrors] = await poll("/importErrors?limit=20");
    if (changedErrors) renderBanner(banner, errors);
    if (changedDags || changedRuns) renderTable(body, page, recent.runs, offset, go, ctx.user, refresh);
  }
  await refresh();
  return { refresh };
}

function renderBanner(banner, errors) {
  if (!errors.total_entries) return clear(banner);
  clear(banner, h("section", { class: "banner", role: "alert", "aria-label": "Import errors" },
    h("strong", {}, `${errors.total_entries} DAG file${errors.total_entries > 1 ? "s" : ""} failed to import`),
    errors.import_errors.map((e) => h("details", {},
      h("summary", {}, e.filename, " · ", time(e.timestamp)),
      h("pre", {}, e.stacktrace)))));
}

function renderTable(body, page, runs, offset, go, user, refresh) {
  const canOperate = user && user.role !== "viewer";
  const rows = page.dags.map((d) => {
    const toggle = h("input", {
      type: "checkbox", role: "switch", checked: !d.is_paused, disabled: !canOperate,
      "aria-label": `${d.dag_id} active (unchecked: paused)`,
      onchange: async (e) => {
        try {
          await patch(`/dags/${enc(d.dag_id)}`, { is_paused: !e.target.checked });
          await refresh();
        } catch (err) {
          e.target.checked = !e.target.checked;
          body.prepend(errorBox(err));
        }
      },
    });
    const last = (runs[d.dag_id] || []).slice().reverse();
    return h("tr", {},
      h("td", {}, toggle),
      h("th", { scope: "row" }, h("a", { href: `#/dag/${enc(d.dag_id)}/grid` }, d.dag_id),
        d.description ? h("div", { class: "muted small" }, d.description) : null),
      h("td", {}, d.tags.map((t) => h("a", { class: "tag", href: `#/dags?tag=${enc(t)}` }, t))),
      h("td", {}, h("code", {}, d.timetable_summary || "–")),
      h("td", {}, d.is_paused ? h("span", { class: "muted" }, "paused") : time(d.next_dagrun_create_after)),
      h("td", { class: "squares" }, last.length ? last.map((r) =>
        square(r.state, `${r.run_id}: ${r.state}`, `#/dag/${enc(d.dag_id)}/grid?run=${enc(r.run_id)}`)) : h("span", { class: "muted" }, "no runs")),
      h("td", {}, canOperate ? h("a", { href: `#/dag/${enc(d.dag_id)}/trigger`, "aria-label": `Trigger ${d.dag_id}` }, "Trigger ▶") : null));
  });
  const pages = Math.ceil(page.total_entries / PAGE);
  const pager = pages > 1 ? h("nav", { class: "pager", "aria-label": "Pages" },
    h("button", { type: "button", disabled: offset === 0, onclick: () => go(Math.max(0, offset - PAGE)) }, "← Previous"),
    h("span", {}, `page ${Math.floor(offset / PAGE) + 1} of ${pages} (${page.total_entries} DAGs)`),
    h("button", { type: "button", disabled: offset + PAGE >= page.total_entries, onclick: () => go(offset + PAGE) }, "Next →")) : null;
  clear(body,
    h("table", { class: "dags" },
      h("caption", { class: "sr-only" }, "DAGs"),
      h("thead", {}, h("tr", {}, ["Active", "DAG", "Tags", "Schedule", "Next run", "Last runs", ""].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: 7 }, "No DAG matches.")))),
    pager);
}

