// The header's health panel: heartbeats, queue depth, open pool slots and import errors from
// /ui/healthPanel (the metadata database), polled with an ETag every 5 s.
import { poller } from "./api.js";
import { clear, h } from "./dom.js";

function item(label, value, bad) {
  return h("span", { class: bad ? "hp bad" : "hp" }, h("span", { class: "muted" }, label + " "), value);
}

function beat(name, b) {
  const age = b.heartbeat_age_seconds === null ? "none" : `${Math.round(b.heartbeat_age_seconds)} s ago`;
  return item(name, b.status === "healthy" ? `♥ ${age}` : `${b.status} (${age})`, b.status !== "healthy");
}

export function startHealth(box, loggedIn) {
  const poll = poller();
  async function refresh() {
    if (!loggedIn() || document.visibilityState !== "visible") return;
    try {
      const [p, changed] = await poll("/ui/healthPanel");
      if (!changed) return;
      const p95 = p.scheduler_loop_p95_seconds;
      clear(box,
        beat("scheduler", p.scheduler),
        beat("processor", p.dag_processor),
        item("loop p95", p95 === null ? "n/a" : `${(p95 * 1000).toFixed(0)} ms`),
        item("queued", String(p.queued)),
        item("running", String(p.running)),
        item("open slots", `${p.open_slots}/${p.total_slots}`, p.open_slots === 0 && p.queued + p.scheduled > 0),
        h("a", { class: p.import_errors ? "hp bad" : "hp", href: "#/import-errors" },
          h("span", { class: "muted" }, "import errors "), String(p.import_errors)));
    } catch {
      clear(box, item("health", "unavailable", true));
    }
  }
  refresh();
  setInterval(refresh, 5000);
  return refresh;
}
