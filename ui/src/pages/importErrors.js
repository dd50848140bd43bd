// Import errors: every DAG file that failed to import, with when and its traceback.
import { poller } from "../api.js";
import { clear, h, time } from "../dom.js";

export async function render(main) {
  const poll = poller();
  const box = h("div", { id: "import-errors" });
  clear(main, h("h1", {}, "Import errors"), box);
  async function refresh() {
    const [page, changed] = await poll("/importErrors?limit=1000");
    if (!changed && box.firstChild) return;
    clear(box, page.import_errors.length ? page.import_errors.map((e) => h("article", { class: "card" },
      h("h2", { class: "file" }, h("code", {}, e.filename)), h("p", { class: "muted small" }, "Seen ", time(e.timestamp)),
      h("pre", {}, e.stacktrace))) : h("p", {}, "Every DAG file imports cleanly."));
  }
  await refresh();
  return { refresh };
}
