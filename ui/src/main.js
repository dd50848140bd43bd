// The shell: hash routes to pages, the header (who is logged in, the health panel) and the live
// loop. A page's render() may return { refresh } which is called every POLL_MS while the tab is
// visible; pages poll with ETags, so an unchanged answer re-renders nothing.
import "./style.css";
import { get, post } from "./api.js";
import { clear, errorBox, h } from "./dom.js";
import { startHealth } from "./health.js";
import * as audit from "./pages/audit.js";
import * as dags from "./pages/dags.js";
import * as gantt from "./pages/gantt.js";
import * as graph from "./pages/graph.js";
import * as grid from "./pages/grid.js";
import * as importErrors from "./pages/importErrors.js";
import * as login from "./pages/login.js";
import * as pools from "./pages/pools.js";
import * as taskInstance from "./pages/taskInstance.js";
import * as trigger from "./pages/trigger.js";

const POLL_MS = 2000;
const ROUTES = [
  [/^login$/, login],
  [/^dags$/, dags],
  [/^dag\/([^/]+)\/grid$/, grid],
  [/^dag\/([^/]+)\/graph$/, graph],
  [/^dag\/([^/]+)\/gantt$/, gantt],
  [/^dag\/([^/]+)\/trigger$/, trigger],
  [/^ti\/([^/]+)\/([^/]+)\/([^/]+)$/, taskInstance],
  [/^pools$/, pools],
  [/^import-errors$/, importErrors],
  [/^audit$/, audit],
];

const main = document.getElementById("main");
let current = null; // { refresh, dispose }
let user = null;

function parse() {
  const raw = location.hash.replace(/^#\/?/, "") || "dags";
  const [path, qs] = raw.split("?");
  return { path, query: new URLSearchParams(qs || "") };
}

async function who() {
  const box = document.getElementById("who");
  try {
    user = await get("/auth/me");
  } catch {
    user = null;
  }
  clear(box, user ? [
    h("span", {}, `${user.username} (${user.role})`),
    h("button", { type: "button", class: "link", onclick: logout }, "Log out"),
  ] : []);
  if (user) refreshHealth();
  else clear(document.getElementById("health"));
  return user;
}

async function logout() {
  await post("/auth/logout").catch(() => null);
  user = null;
  location.hash = "#/login";
}

async function route() {
  current?.dispose?.();
  current = null;
  const { path, query } = parse();
  for (const [re, page] of ROUTES) {
    const m = path.match(re);
    if (!m) continue;
    if (page !== login && !user && !(await who())) {
      location.hash = "#/login?next=" + encodeURIComponent("#/" + path);
      return;
    }
    markNav(path);
    clear(main);
    try {
      current = (await page.render(main, m.slice(1).map(decodeURIComponent), query, { user, who })) || null;
    } catch (err) {
      if (err.status !== 401) main.append(errorBox(err));
    }
    return;
  }
  clear(main, h("h1", {}, "Not found"), h("p", {}, h("a", { href: "#/dags" }, "Back to the DAGs")));
}

function markNav(path) {
  for (const a of document.querySelectorAll("#nav a")) {
    const here = path.startsWith(a.getAttribute("href").slice(2));
    if (here) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

function tick() {
  if (document.visibilityState === "visible" && current?.refresh) {
    current.refresh().catch(() => null);
  }
}

window.addEventListener("hashchange", route);
setInterval(tick, POLL_MS);
const refreshHealth = startHealth(document.getElementById("health"), () => user !== null);
who().then(route);
