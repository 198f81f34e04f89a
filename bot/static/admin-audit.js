/* The 审计日志 tab (admins): every admin action, newest first, filtered by who, what and when; exported as CSV
   or JSON lines with the same filters. */
(function () {
  "use strict";
  const { el } = KBDom;
  const { toast, formatTime } = KBUI;
  const panel = document.getElementById("tab-audit");
  let form = null, rows = null, links = null;

  function field(id, label, input) {
    input.id = id;
    return el("span", { class: "field" }, [el("label", { for: id, text: label }), input]);
  }

  function query(format) {
    const params = new URLSearchParams({ limit: "500" });
    for (const [key, id] of [["actor", "au-actor"], ["action", "au-action"], ["since", "au-since"], ["until", "au-until"]]) {
      const v = document.getElementById(id).value.trim();
      if (v) params.set(key, v);
    }
    if (format) params.set("format", format);
    return "/v1/admin/audit?" + params.toString();
  }

  function build() {
    form = el("form", { class: "row filters" }, [
      field("au-actor", "谁", el("input", { placeholder: "账号或 token:名称", maxlength: "100" })),
      field("au-action", "操作（前缀）", el("input", { placeholder: "如 login 或 POST", maxlength: "100" })),
      field("au-since", "从", el("input", { type: "date" })),
      field("au-until", "到（不含）", el("input", { type: "date" })),
      el("button", { type: "submit", class: "btn primary", text: "筛选" }),
    ]);
    form.addEventListener("submit", (ev) => { ev.preventDefault(); load(); });
    links = el("span", { class: "row" });
    rows = el("tbody");
    panel.append(el("div", { class: "panel" }, [
      el("div", { class: "panel-head" }, [el("h2", { text: "审计日志" }), links]),
      el("p", { class: "muted small", text: "每一次上传、删除、重新索引、词典修改、账号与令牌变更、登录和登录失败都记录在这里，只能追加，不能修改。" }),
      form,
      el("div", { class: "table-wrap" }, [el("table", { class: "grid audit" }, [
        el("thead", {}, [el("tr", {}, ["时间", "谁", "角色", "来自", "操作", "对象", "结果", "详情"].map((h) => el("th", { scope: "col", text: h })))]),
        rows,
      ])]),
    ]));
  }

  function row(e) {
    const ok = e.status < 400;
    return el("tr", {}, [
      el("td", { class: "num-cell", text: formatTime(e.ts) }), el("td", { text: e.actor }), el("td", { text: e.role || "—" }),
      el("td", { text: e.ip }), el("td", {}, [el("code", { text: e.action })]), el("td", { text: e.target || "—" }),
      el("td", {}, [el("span", { class: "pill " + (ok ? "indexed" : "error"), text: e.status ? String(e.status) : "—" })]),
      el("td", { class: "detail", text: Object.keys(e.detail).length ? JSON.stringify(e.detail) : "" }),
    ]);
  }

  async function load() {
    if (!form) build();
    links.replaceChildren(el("a", { class: "btn ghost small", href: query("csv"), download: "", text: "导出 CSV" }),
      el("a", { class: "btn ghost small", href: query("jsonl"), download: "", text: "导出 JSONL" }));
    try {
      const data = await KBAdmin.api("GET", query());
      rows.replaceChildren(...(data.entries.length ? data.entries.map(row) : [el("tr", {}, [el("td", { colspan: "8", class: "empty", text: "没有符合条件的记录" })])]));
    } catch (e) { toast(e.message); }
  }

  KBAdmin.onTab("audit", load);
})();
