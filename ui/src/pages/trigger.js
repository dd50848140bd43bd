// Trigger a run with a conf form generated from the DAG's params: one field per param, typed by
// its default (checkbox, number, text, JSON), validated before sending; extra keys as JSON.
import { enc, post } from "../api.js";
import { clear, h } from "../dom.js";
import { structure, tabs } from "../dagview.js";

function field(name, value) {
  const id = "param-" + name;
  const kind = typeof value === "boolean" ? "bool" : typeof value === "number" ? "number"
    : typeof value === "string" || value === null ? "text" : "json";
  const input = kind === "bool" ? h("input", { type: "checkbox", id, name, checked: value })
    : kind === "number" ? h("input", { type: "number", id, name, value: String(value), step: Number.isInteger(value) ? "1" : "any" })
    : kind === "text" ? h("input", { type: "text", id, name, value: value ?? "" })
    : h("textarea", { id, name, rows: 3 }, JSON.stringify(value, null, 2));
  const err = h("span", { class: "field-error", id: id + "-error", role: "alert" });
  input.setAttribute("aria-describedby", id + "-error");
  const read = () => {
    err.textContent = "";
    input.removeAttribute("aria-invalid");
    if (kind === "bool") return input.checked;
    if (kind === "number") {
      const n = Number(input.value);
      if (input.value.trim() === "" || !Number.isFinite(n)) return fail(`${name} must be a number`);
      if (Number.isInteger(value) && !Number.isInteger(n)) return fail(`${name} must be a whole number`);
      return n;
    }
    if (kind === "text") return input.value;
    try { return JSON.parse(input.value); } catch (e) { return fail(`${name} is not valid JSON: ${e.message}`); }
  };
  function fail(text) {
    err.textContent = text;
    input.setAttribute("aria-invalid", "true");
    throw new Error(text);
  }
  return { el: h("div", { class: "field" }, h("label", { for: id }, name, h("span", { class: "muted small" }, ` (${kind})`)), input, err), read, input };
}

export async function render(main, [dagId]) {
  const struct = await structure(dagId);
  const fields = Object.entries(struct.params || {}).map(([k, v]) => [k, field(k, v)]);
  const extra = h("textarea", { id: "conf-extra", rows: 4, "aria-describedby": "conf-extra-error" }, "{}");
  const extraErr = h("span", { class: "field-error", id: "conf-extra-error", role: "alert" });
  const runId = h("input", { id: "run-id", placeholder: "manual__… (optional)", pattern: "[A-Za-z0-9_.~:+\\-]{1,248}" });
  const logical = h("input", { id: "logical-date", type: "datetime-local", step: "1" });
  const msg = h("p", { role: "status", id: "trigger-status" });
  const form = h("form", { class: "card trigger", id: "trigger-form" },
    h("h2", {}, "Trigger ", dagId),
    fields.length ? h("fieldset", {}, h("legend", {}, "Params"), fields.map(([, f]) => f.el)) : h("p", { class: "muted" }, "This DAG declares no params."),
    h("div", { class: "field" }, h("label", { for: "conf-extra" }, "More conf (a JSON object)"), extra, extraErr),
    h("div", { class: "field" }, h("label", { for: "run-id" }, "Run id"), runId),
    h("div", { class: "field" }, h("label", { for: "logical-date" }, "Logical date (your time zone; empty: now)"), logical),
    msg, h("button", { type: "submit", id: "trigger-submit" }, "Trigger"));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    msg.textContent = "";
    let conf;
    try {
      extraErr.textContent = "";
      let more;
      try { more = JSON.parse(extra.value || "{}"); } catch (e) { extraErr.textContent = `not valid JSON: ${e.message}`; throw e; }
      if (!more || typeof more !== "object" || Array.isArray(more)) { extraErr.textContent = "must be a JSON object"; throw new Error("conf"); }
      conf = { ...more };
      for (const [k, f] of fields) conf[k] = f.read();
    } catch {
      msg.textContent = "Fix the marked fields.";
      form.querySelector("[aria-invalid=true]")?.focus();
      return;
    }
    const body = { conf };
    if (runId.value) body.run_id = runId.value;
    if (logical.value) body.logical_date = new Date(logical.value).toISOString();
    try {
      const run = await post(`/dags/${enc(dagId)}/dagRuns`, body);
      location.hash = `#/dag/${enc(dagId)}/grid?run=${enc(run.run_id)}`;
    } catch (err) {
      msg.textContent = `Refused: ${err.message}`;
    }
  });
  clear(main, tabs(dagId, "trigger"), form);
}
