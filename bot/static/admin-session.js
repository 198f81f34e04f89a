/* The admin page's sign-in: who is signed in (GET /v1/auth/me), the name + password form, signing out, and
   `KBAdmin`, what every tab's script uses:
     KBAdmin.api(method, path, body)  same-origin call with the session cookie; writes carry X-CSRF-Token;
                                      a 401 shows the sign-in form again
     KBAdmin.can(role)                whether the signed-in role includes `role` (viewer < editor < admin)
     KBAdmin.onTab(name, load)        `load()` runs each time the tab is opened
     KBAdmin.onSignIn(fn)             `fn(me)` runs after each sign-in (and at load when signed in already)
   Elements with data-min-role="editor" / "admin" are hidden from roles below it, fields with
   data-readonly-below="editor" are read-only for them. The server checks every
   role itself; hiding only keeps the page honest about what a role can do. */
var KBAdmin = (function () {
  "use strict";
  const { api } = KBUI;
  const $ = (id) => document.getElementById(id);
  const ROLES = ["viewer", "editor", "admin"];
  const ROLE_NAMES = { viewer: "只读", editor: "编辑", admin: "管理员" };
  let me = null;
  const tabLoaders = {}, signInHooks = [];

  function can(role) {
    return !!me && ROLES.indexOf(me.role) >= ROLES.indexOf(role);
  }

  function request(method, path, body) {
    const headers = method !== "GET" && me && me.csrf ? { "X-CSRF-Token": me.csrf } : {};
    return api(method, path, body, headers).catch((e) => {
      if (e.status === 401) showLogin("登录已过期，请重新登录");
      throw e;
    });
  }

  function show(signedIn) {
    $("login").hidden = signedIn;
    $("app").hidden = !signedIn;
    $("account").hidden = !signedIn;
  }

  function showLogin(msg) {
    me = null;
    show(false);
    $("login-error").textContent = msg || "";
    $("login-name").focus();
  }

  function applyRole() {
    for (const node of document.querySelectorAll("[data-min-role]")) node.hidden = !can(node.dataset.minRole);
    for (const node of document.querySelectorAll("[data-readonly-below]")) node.readOnly = !can(node.dataset.readonlyBelow);
    $("whoami").textContent = me.name + "（" + (ROLE_NAMES[me.role] || me.role) + "）";
  }

  function signedIn(info) {
    me = info;
    show(true);
    applyRole();
    for (const fn of signInHooks) fn(me);
  }

  $("login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const name = $("login-name").value.trim(), password = $("login-password").value;
    $("login-error").textContent = "";
    try {
      const info = await api("POST", "/v1/auth/login", { name, password });
      $("login-password").value = "";
      signedIn(info);
    } catch (e) {
      $("login-error").textContent = e.message;
      $("login-password").select();
    }
  });

  $("logout").addEventListener("click", async () => {
    try { await request("POST", "/v1/auth/logout"); } catch (e) { /* signed out either way */ }
    showLogin("");
  });

  /* Opening a tab: its panel shows, the others hide, its loader runs. */
  function openTab(tab) {
    for (const t of document.querySelectorAll(".tab")) {
      const on = t === tab;
      t.classList.toggle("active", on);
      t.setAttribute("aria-selected", String(on));
      $("tab-" + t.dataset.tab).hidden = !on;
    }
    const load = tabLoaders[tab.dataset.tab];
    if (load) load();
  }
  for (const tab of document.querySelectorAll(".tab")) tab.addEventListener("click", () => openTab(tab));

  async function start() {
    try {
      signedIn(await api("GET", "/v1/auth/me"));
    } catch (e) {
      showLogin("");
    }
  }

  // After every tab's script has registered its hooks (deferred scripts all run before this event).
  document.addEventListener("DOMContentLoaded", start);

  return {
    api: request, can, start, showLogin,
    me: () => me,
    onTab: (name, load) => { tabLoaders[name] = load; },
    onSignIn: (fn) => { signInHooks.push(fn); },
  };
})();
