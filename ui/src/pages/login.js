// The login form: POST /auth/login sets the session and CSRF cookies, then back to where we were.
import { post } from "../api.js";
import { clear, h } from "../dom.js";

export function render(main, _params, query, ctx) {
  const msg = h("p", { class: "error", role: "alert", id: "login-error" });
  const user = h("input", { id: "username", name: "username", autocomplete: "username", required: true });
  const pass = h("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true });
  const form = h("form", { class: "login card", "aria-describedby": "login-error" },
    h("h1", {}, "Log in to Windvane"),
    h("label", { for: "username" }, "User name"), user,
    h("label", { for: "password" }, "Password"), pass,
    msg,
    h("button", { type: "submit" }, "Log in"));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clear(msg);
    try {
      await post("/auth/login", { username: user.value, password: pass.value });
      await ctx.who();
      const next = query.get("next") || "";
      location.hash = next.startsWith("#/") && !next.startsWith("#/login") ? next : "#/dags";
    } catch (err) {
      msg.textContent = err.status === 429 ? "Too many failed logins; wait a minute." : "Wrong user name or password.";
      pass.select();
    }
  });
  clear(main, form);
  user.focus();
}
