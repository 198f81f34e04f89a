/* The 接入站点 tab (admins): sites that embed the widget, their allowed origins, and the secret their backend
   signs widget tokens with (shown once, when made or replaced). docs/deploying.md shows how a site mints a
   token with it. */
(function () {
  "use strict";
  const { el } = KBDom;
  const { toast, formatTime } = KBUI;
  const api = (m, p, b) => KBAdmin.api(m, p, b);
  const panel = document.getElementById("tab-sites");
  const lines = (text) => text.split(/[\s,]+/).map((s) => s.trim()).filter(Boolean);
  let list = null, out = null;

  function secretBox(r) {
    return el("div", { class: "secret", role: "status" }, [
      el("strong", { text: "站点 " + r.site_id + " 的签名密钥（只显示这一次，请保存在网站后端）：" }),
      el("code", { class: "secret-value", text: r.secret }),
    ]);
  }

  function row(s) {
    const origins = el("textarea", { rows: "2", "aria-label": s.site_id + " 的来源", spellcheck: "false" });
    origins.value = s.origins.join("\n");
    const save = el("button", { type: "button", class: "btn ghost small", text: "保存来源" });
    save.addEventListener("click", async () => {
      try { await api("PATCH", "/v1/admin/sites/" + s.site_id, { origins: lines(origins.value) }); toast("来源已保存"); load(); } catch (e) { toast(e.message); }
    });
    const rotate = el("button", { type: "button", class: "btn ghost small", text: s.signed ? "更换密钥" : "生成密钥" });
    rotate.addEventListener("click", async () => {
      if (s.signed && !confirm("更换密钥后，用旧密钥签发的令牌立即失效。继续？")) return;
      try { const r = await api("PATCH", "/v1/admin/sites/" + s.site_id, { new_secret: true }); await load(); out.replaceChildren(secretBox(r)); } catch (e) { toast(e.message); }
    });
    const del = el("button", { type: "button", class: "btn danger small", text: "删除" });
    del.addEventListener("click", async () => {
      if (!confirm("删除站点 " + s.site_id + "？它的页面将不能再调用知识库。")) return;
      try { await api("DELETE", "/v1/admin/sites/" + s.site_id); load(); } catch (e) { toast(e.message); }
    });
    return el("tr", { dataset: { site: s.site_id } }, [
      el("td", {}, [el("div", { class: "doc-title", text: s.name }), el("code", { text: s.site_id })]),
      el("td", {}, [origins]),
      el("td", { text: s.signed ? "已设置" : "无（匿名）" }),
      el("td", { text: formatTime(s.created_at) + " · " + s.created_by }),
      el("td", { class: "actions" }, [save, rotate, del]),
    ]);
  }

  function build() {
    list = el("div");
    out = el("div", { class: "form-out" });
    const form = el("form", { class: "row add-form" }, [
      el("span", { class: "field" }, [el("label", { for: "site-id", text: "站点 ID（令牌的 aud）" }), el("input", { id: "site-id", required: true, maxlength: "64", pattern: "[a-z0-9][a-z0-9._\\-]*", placeholder: "shop" })]),
      el("span", { class: "field" }, [el("label", { for: "site-name", text: "名称" }), el("input", { id: "site-name", required: true, maxlength: "100", placeholder: "网上商城" })]),
      el("span", { class: "field wide" }, [el("label", { for: "site-origins", text: "来源（每行一个，如 https://shop.example.com）" }), el("textarea", { id: "site-origins", rows: "2", spellcheck: "false" })]),
      el("label", { class: "check" }, [el("input", { type: "checkbox", id: "site-signed", checked: true }), "生成签名密钥（坐席身份）"]),
      el("button", { type: "submit", class: "btn primary", text: "登记站点" }),
    ]);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const $ = (id) => document.getElementById(id);
      try {
        const r = await api("POST", "/v1/admin/sites", { id: $("site-id").value.trim(), name: $("site-name").value.trim(), origins: lines($("site-origins").value), signed: $("site-signed").checked });
        form.reset();
        await load();
        out.replaceChildren(r.secret ? secretBox(r) : el("p", { class: "form-msg ok", text: "已登记 " + r.site_id }));
      } catch (e) { out.replaceChildren(el("p", { class: "form-msg err", text: e.message })); }
    });
    panel.append(el("div", { class: "panel" }, [
      el("h2", { text: "接入站点" }),
      el("p", { class: "muted small", text: "嵌入坐席助手小窗的网站：列出的来源可以调用知识库（与 KB_CORS_ORIGINS 一起生效）。有签名密钥的站点，可由网站后端签发短期令牌，告诉知识库是哪位坐席、哪个团队在提问（见 docs/deploying.md）。" }),
      list, el("h3", { text: "登记新站点" }), form, out,
    ]));
  }

  async function load() {
    if (!list) build();
    try {
      const data = await api("GET", "/v1/admin/sites");
      list.replaceChildren(el("div", { class: "table-wrap" }, [el("table", { class: "grid" }, [
        el("thead", {}, [el("tr", {}, ["站点", "来源", "签名密钥", "登记", "操作"].map((h) => el("th", { scope: "col", text: h })))]),
        el("tbody", {}, data.sites.length ? data.sites.map(row) : [el("tr", {}, [el("td", { colspan: "5", class: "empty", text: "还没有登记站点" })])]),
      ])]));
    } catch (e) { toast(e.message); }
  }

  KBAdmin.onTab("sites", () => { if (out) out.replaceChildren(); load(); });
})();
