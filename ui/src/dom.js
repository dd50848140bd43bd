// Small DOM helpers: h() builds elements (text is always set as text, never parsed as HTML),
// time() shows a local time with the UTC instant on hover, and the state palette.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k === "style") el.style.cssText = v; // CSSOM, which the CSP allows (a style attribute it would not)
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export const fmt = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

/** A <time> in the user's zone; the UTC instant on hover and in datetime=. */
export function time(iso) {
  if (!iso) return h("span", { class: "muted" }, "–");
  const d = new Date(iso);
  return h("time", { datetime: d.toISOString(), title: d.toISOString().replace(".000Z", "Z") + " UTC" }, fmt.format(d));
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** A state's badge: colour plus the state's name, so colour is never the only cue. */
export function badge(state) {
  return h("span", { class: `badge s-${state || "none"}` }, state || "none");
}

/** A square coloured by state, labelled for screen readers and hover. */
export function square(state, label, href) {
  const attrs = { class: `sq s-${state || "none"}`, title: label, "aria-label": label };
  return href ? h("a", { ...attrs, href }) : h("span", { ...attrs, role: "img" });
}

export function clear(el, ...children) {
  el.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

export function errorBox(err) {
  return h("p", { class: "error", role: "alert" }, String(err.message || err));
}

/** A modal confirmation naming what will change; resolves true on confirm. */
export function confirmDialog(title, lines, action) {
  return new Promise((resolve) => {
    const dlg = h("dialog", { class: "confirm", "aria-labelledby": "dlg-title" },
      h("h2", { id: "dlg-title" }, title),
      h("ul", {}, lines.map((l) => h("li", {}, l))),
      h("div", { class: "buttons" },
        h("button", { type: "button", class: "secondary", onclick: () => dlg.close("no") }, "Cancel"),
        h("button", { type: "button", class: "danger", onclick: () => dlg.close("yes") }, action)));
    dlg.addEventListener("close", () => { dlg.remove(); resolve(dlg.returnValue === "yes"); });
    document.body.append(dlg);
    dlg.showModal();
  });
}
