/* The 用户与令牌 tab (admins): accounts and their roles, API tokens, open sign-in sessions. A new password
   or token is shown once, in the page, and never again (only its hash is stored). */
(function () {
  "use strict";
  const { el } = KBDom;
  const { toast, formatTime } = KBUI;
  const api = (m, p, b) => KBAdmin.api(m, p, b);
  const ROLE_NAMES = { viewer: "只读 viewer", editor: "编辑 editor", admin: "管理员 admin" };
  const panel = document.getElementById("tab-users");

  function roleSelect(id, value) {
    return el("select", { id }, Object.entries(ROLE_NAMES).map(([v, t]) => el("option", { value: v, text: t, selected: v === value })));
  }

  function table(headers, rows, empty) {
    return el("div", { class: "table-wrap" }, [el("table", { class: "grid" }, [
      el("thead", {}, [el("tr", {}, headers.map((h) => el("th", { scope: "col", text: h })))]),
      el("tbody", {}, rows.length ? rows : [el("tr", {}, [el("td", { colspan: String(headers.length), class: "empty", text: empty })])]),
    ])]);
  }

  function secretBox(label, value) {
    return el("div", { class: "secret", role: "status" }, [
      el("strong", { text: label + "（只显示这一次）：" }), el("code", { class: "secret-value", text: value }),
    ]);
  }

  async function act(fn, done) {
    try { await fn(); if (done) toast(done); load(); } catch (e) { toast(e.message); }
  }

  function accountRow(u) {
    const role = roleSelect("role-" + u.name, u.role);
    role.setAttribute("aria-label", u.name + " 的角色");
    role.addEventListener("change", () => act(() => api("PATCH", "/v1/admin/users/" + encodeURIComponent(u.name), { role: role.value }), "角色已修改"));
    const reset = el("button", { type: "button", class: "btn ghost small", text: "重置密码" });
    reset.addEventListener("click", () => act(async () => {
      const pw = prompt("为 " + u.name + " 设置新密码（至少 10 个字符）");
      if (pw) await api("PATCH", "/v1/admin/users/" + encodeURIComponent(u.name), { password: pw });
    }));
    const toggle = el("button", { type: "button", class: "btn ghost small", text: u.disabled ? "启用" : "停用" });
    toggle.addEventListener("click", () => act(() => api("PATCH", "/v1/admin/users/" + encodeURIComponent(u.name), { disabled: !u.disabled })));
    const del = el("button", { type: "button", class: "btn danger small", text: "删除" });
    del.addEventListener("click", () => confirm("删除账号 " + u.name + "？") && act(() => api("DELETE", "/v1/admin/users/" + encodeURIComponent(u.name)), "账号已删除"));
    return el("tr", { dataset: { user: u.name } }, [
      el("td", { text: u.name }), el("td", {}, [role]),
      el("td", {}, [el("span", { class: "pill " + (u.disabled ? "removed" : "indexed"), text: u.disabled ? "已停用" : "可用" })]),
      el("td", { text: u.last_login ? formatTime(u.last_login) : "从未" }), el("td", { class: "num-cell", text: String(u.sessions) }),
      el("td", { class: "actions" }, [reset, toggle, del]),
    ]);
  }

  function tokenRow(t) {
    const revoke = t.revoked_at ? null : el("button", { type: "button", class: "btn danger small", text: "吊销" });
    if (revoke) revoke.addEventListener("click", () => confirm("吊销令牌“" + t.name + "”？用它的程序将无法再访问。") && act(() => api("DELETE", "/v1/admin/tokens/" + t.id), "令牌已吊销"));
    return el("tr", { dataset: { token: t.id } }, [
      el("td", { text: t.name }), el("td", { text: ROLE_NAMES[t.role] || t.role }), el("td", { text: t.created_by }),
      el("td", { text: formatTime(t.created_at) }), el("td", { text: t.last_used ? formatTime(t.last_used) : "从未" }),
      el("td", {}, [el("span", { class: "pill " + (t.revoked_at ? "removed" : "indexed"), text: t.revoked_at ? "已吊销" : "有效" })]),
      el("td", { class: "actions" }, [revoke]),
    ]);
  }

  function sessionRow(s) {
    const end = s.current ? null : el("button", { type: "button", class: "btn ghost small", text: "结束" });
    if (end) end.addEventListener("click", () => act(() => api("DELETE", "/v1/admin/sessions/" + s.id), "会话已结束"));
    return el("tr", {}, [
      el("td", { text: s.account + (s.current ? "（本浏览器）" : "") }), el("td", { text: s.ip }),
      el("td", { text: formatTime(s.created_at) }), el("td", { text: formatTime(s.expires_at) }),
      el("td", { class: "ua", text: s.user_agent }), el("td", { class: "actions" }, [end]),
    ]);
  }

  function addForm(title, fields, submitText, onSubmit) {
    const out = el("div", { class: "form-out" });
    const form = el("form", { class: "row add-form" }, [...fields, el("button", { type: "submit", class: "btn primary", text: submitText })]);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try { out.replaceChildren(await onSubmit(form)); form.reset(); load(true); } catch (e) { out.replaceChildren(el("p", { class: "form-msg err", text: e.message })); }
    });
    return el("div", { class: "add" }, [el("h3", { text: title }), form, out]);
  }

  function labelled(id, text, input) {
    return el("span", { class: "field" }, [el("label", { for: id, text }), input]);
  }

  let forms = null;
  function buildForms() {
    const userForm = addForm("添加账号", [
      labelled("new-user-name", "账号", el("input", { id: "new-user-name", required: true, maxlength: "64", autocomplete: "off" })),
      labelled("new-user-role", "角色", roleSelect("new-user-role", "editor")),
      labelled("new-user-password", "密码（留空则随机生成）", el("input", { id: "new-user-password", type: "password", minlength: "10", autocomplete: "new-password" })),
    ], "添加", async () => {
      const body = { name: document.getElementById("new-user-name").value.trim(), role: document.getElementById("new-user-role").value };
      const pw = document.getElementById("new-user-password").value;
      if (pw) body.password = pw;
      const r = await api("POST", "/v1/admin/users", body);
      return r.password ? secretBox("账号 " + r.name + " 的密码", r.password) : el("p", { class: "form-msg ok", text: "已添加 " + r.name });
    });
    const tokenForm = addForm("新建 API 令牌", [
      labelled("new-token-name", "用途", el("input", { id: "new-token-name", required: true, maxlength: "100", placeholder: "如：夜间导入脚本" })),
      labelled("new-token-role", "角色", roleSelect("new-token-role", "editor")),
    ], "生成令牌", async () => {
      const r = await api("POST", "/v1/admin/tokens", { name: document.getElementById("new-token-name").value.trim(), role: document.getElementById("new-token-role").value });
      return secretBox("令牌 " + r.name, r.token);
    });
    return { userForm, tokenForm, users: el("div"), tokens: el("div"), sessions: el("div") };
  }

  async function load(keepOutput) {
    if (!forms) {
      forms = buildForms();
      panel.append(
        el("div", { class: "panel" }, [el("h2", { text: "账号" }), el("p", { class: "muted small", text: "只读：查看文档、反馈与统计；编辑：另可上传、删除文档，修改词典，重新索引；管理员：另可管理账号、令牌、接入站点并查看审计日志。" }), forms.users, forms.userForm]),
        el("div", { class: "panel" }, [el("h2", { text: "API 令牌" }), el("p", { class: "muted small", text: "给脚本用：请求时带上 Authorization: Bearer <令牌>。令牌只显示一次，服务端只保存它的哈希。" }), forms.tokens, forms.tokenForm]),
        el("div", { class: "panel" }, [el("h2", { text: "登录会话" }), forms.sessions]));
    }
    if (keepOutput !== true) for (const out of panel.querySelectorAll(".form-out")) out.replaceChildren();
    try {
      const [u, t, s] = await Promise.all([api("GET", "/v1/admin/users"), api("GET", "/v1/admin/tokens"), api("GET", "/v1/admin/sessions")]);
      forms.users.replaceChildren(table(["账号", "角色", "状态", "最近登录", "会话", "操作"], u.users.map(accountRow), "还没有账号"));
      forms.tokens.replaceChildren(table(["用途", "角色", "创建者", "创建时间", "最近使用", "状态", "操作"], t.tokens.map(tokenRow), "还没有令牌"));
      forms.sessions.replaceChildren(table(["账号", "地址", "登录时间", "过期时间", "浏览器", "操作"], s.sessions.map(sessionRow), "没有会话"));
    } catch (e) { toast(e.message); }
  }

  KBAdmin.onTab("users", load);
})();
