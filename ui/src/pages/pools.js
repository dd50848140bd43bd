// Pools: slots, what occupies them now (running and queued task instances), and, for admins,
// create / resize / delete.
import { del, enc, patch, poller, post } from "../api.js";
import { clear, confirmDialog, errorBox, h } from "../dom.js";

export async function render(main, _p, _q, ctx) {
  const poll = poller();
  const admin = ctx.user?.role === "admin";
  const table = h("div", { id: "pools" });
  const msg = h("div", { role: "status" });
  const name = h("input", { id: "pool-name", required: true, maxlength: 256 });
  const slots = h("input", { id: "pool-slots", type: "number", min: 0, max: 1000000, required: true, value: "1" });
  const desc = h("input", { id: "pool-desc" });
  const form = admin ? h("form", { class: "filters card", "aria-label": "New pool" },
    h("label", { for: "pool-name" }, "Name"), name, h("label", { for: "pool-slots" }, "Slots"), slots,
    h("label", { for: "pool-desc" }, "Description"), desc, h("button", { type: "submit" }, "Create pool")) : null;
  form?.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      await post("/pools", { name: name.value, slots: Number(slots.value), description: desc.value || null });
      name.value = ""; desc.value = "";
      await refresh();
    } catch (err) { clear(msg, errorBox(err)); }
  });
  clear(main, h("h1", {}, "Pools"), msg, table, form);

  async function refresh() {
    const [pools, changed] = await poll("/ui/pools");
    if (!changed && table.firstChild) return;
    clear(table, h("table", {},
      h("thead", {}, h("tr", {}, ["Pool", "Slots", "Running", "Queued", "Open", "Description", ""].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, pools.pools.map((p) => {
        const open = p.open;
        const size = h("input", { type: "number", min: 0, value: String(p.slots), "aria-label": `Slots of ${p.name}`, disabled: !admin,
          onchange: async (e) => {
            try { await patch(`/pools/${enc(p.name)}`, { slots: Number(e.target.value) }); await refresh(); }
            catch (err) { clear(msg, errorBox(err)); }
          } });
        return h("tr", {}, h("th", { scope: "row" }, p.name), h("td", {}, size), h("td", {}, String(p.running)), h("td", {}, String(p.queued)),
          h("td", { class: open === 0 ? "bad" : "" }, String(open)), h("td", {}, p.description || ""),
          h("td", {}, admin && p.name !== "default_pool" ? h("button", { type: "button", class: "danger", onclick: async () => {
            if (!(await confirmDialog(`Delete pool ${p.name}?`, [`pool ${p.name} (${p.slots} slots)`], "Delete"))) return;
            try { await del(`/pools/${enc(p.name)}`); await refresh(); } catch (err) { clear(msg, errorBox(err)); }
          } }, "Delete") : null));
      }))));
  }
  await refresh();
  return { refresh };
}
