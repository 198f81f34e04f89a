/* The admin page's review queue and labels tabs: agents' 👎 answers and unanswered questions grouped (the same
   and near-identical questions together, with counts), what the bot answered, and the editor's fix - the
   passage that answers (picked with a search inside the page), out of scope, or dismiss. A fix is a label:
   every worker answers with it within about a second, without a re-index. The labels tab lists, filters,
   deletes, exports and imports labels. Requests go through KBAdmin.api (admin-session.js: the
   session cookie and the CSRF token); KBAdmin.onTab loads a tab when it opens. */
(function () {
  "use strict";
  const { el } = KBDom;
  const { toast, formatTime } = KBUI;
  const $ = (id) => document.getElementById(id);
  const KIND = { principle: "原则", case: "案例", other: "其他", oos: "范围外" };
  const api = (method, path, body) => KBAdmin.api(method, path, body);

  /* ---------- the review queue ---------- */
  async function loadQueue() {
    const list = $("queue-list");
    let data;
    try { data = await api("GET", "/v1/admin/queue"); } catch (e) { $("queue-summary").textContent = e.message; return; }
    list.textContent = "";
    $("queue-summary").textContent = data.groups.length
      ? data.groups.length + " 组，共 " + data.items + " 条 · 相同或几乎相同的问题合为一组，次数多的在前"
      : "";
    if (!data.groups.length) list.appendChild(el("li", { class: "empty", text: "暂时没有需要处理的问题。" }));
    for (const g of data.groups) list.appendChild(groupItem(g));
    $("fb-badge").textContent = data.groups.length || "";
  }

  function answerText(a) {
    const what = a.type === "feedback" ? "坐席点了“没帮助”" : "回答“没有找到”";
    if (!a.passage_id) return what;
    if (!a.in_version) return what + "，当时引用的段落已不在当前版本";
    return what + "，引用了" + (KIND[a.kind] || "") + "《" + (a.title || a.passage_id) + "》";
  }

  function groupItem(g) {
    const item = el("li", { class: "q-group", dataset: { group: g.id } });
    const others = g.questions.slice(1);
    const pickerId = "picker-" + g.id.slice(0, 24).replace(/[^\w-]/g, "") + "-" + Math.random().toString(36).slice(2, 7);
    const pickBtn = el("button", { type: "button", class: "btn primary small", text: "选择答案段落",
                                   "aria-expanded": "false", "aria-controls": pickerId });
    const oosBtn = el("button", { type: "button", class: "btn ghost small", text: "不在知识库范围" });
    const dismissBtn = el("button", { type: "button", class: "btn ghost small", text: "忽略" });
    const picker = el("div", { class: "q-picker", id: pickerId, hidden: true });
    const parts = [
      el("div", { class: "q-head" }, [
        el("span", { class: "q-count", title: "反馈与未找到共 " + g.count + " 条", text: "×" + g.count }),
        el("span", { class: "q-text", text: g.question }),
        el("span", { class: "q-time", text: formatTime(g.last_ts) }),
      ]),
      others.length ? el("div", { class: "q-variants", text: "其他问法：" + others.map((q) => q.text + (q.count > 1 ? "（×" + q.count + "）" : "")).join("；") }) : null,
      el("div", { class: "q-meta" }, [
        g.feedback ? el("span", { class: "fb-type feedback", text: "没帮助 " + g.feedback }) : null,
        g.unanswered ? el("span", { class: "fb-type unanswered", text: "未找到 " + g.unanswered }) : null,
        el("span", { class: "q-answer", text: "机器人上次：" + answerText(g.answer) }),
      ]),
      ...g.comments.map((c) => el("div", { class: "q-comment", text: "坐席留言：" + c })),
      el("div", { class: "q-actions" }, [pickBtn, oosBtn, dismissBtn]),
      picker,
    ];
    item.append(...parts.filter(Boolean));
    pickBtn.addEventListener("click", () => {
      const open = picker.hidden;
      picker.hidden = !open;
      pickBtn.setAttribute("aria-expanded", String(open));
      if (open && !picker.firstChild) buildPicker(picker, g);
      if (open) picker.querySelector("input").focus();
    });
    oosBtn.addEventListener("click", () => resolve(g, "oos", null, item));
    dismissBtn.addEventListener("click", () => resolve(g, "dismiss", null, item));
    return item;
  }

  function buildPicker(box, g) {
    const inputId = "search-" + box.id;
    const input = el("input", { type: "search", id: inputId, value: g.question, autocomplete: "off" });
    const results = el("ol", { class: "q-results", "aria-live": "polite" });
    const form = el("form", { class: "row q-search", role: "search" }, [
      el("label", { for: inputId, class: "sr-only", text: "搜索段落" }), input,
      el("button", { type: "submit", class: "btn ghost small", text: "搜索段落" }),
    ]);
    form.addEventListener("submit", (ev) => { ev.preventDefault(); search(input.value, results, g); });
    box.append(el("p", { class: "muted small", text: "搜索并选出能回答这个问题的段落（可以改写搜索词）：" }), form, results);
    search(g.question, results, g);
  }

  async function search(q, results, g) {
    if (!q.trim()) return;
    results.textContent = "";
    results.appendChild(el("li", { class: "muted small", text: "正在搜索…" }));
    let data;
    try { data = await api("GET", "/v1/admin/search?k=8&q=" + encodeURIComponent(q)); } catch (e) { results.textContent = e.message; return; }
    results.textContent = "";
    for (const p of data.passages) {
      const kind = p.kind === "principle" || p.kind === "case" ? p.kind : "other";
      const pick = el("button", { type: "button", class: "btn primary small", text: "这段能回答" });
      pick.addEventListener("click", () => resolve(g, "answer", p.id, results.closest(".q-group")));
      results.appendChild(el("li", { class: "q-result p-card " + kind, dataset: { passage: p.id } }, [
        el("div", { class: "p-head" }, [
          el("span", { class: "tag " + kind, text: KIND[kind] }),
          el("span", { class: "p-title", text: p.title || p.section_path }),
          pick,
        ]),
        el("div", { class: "p-path", text: p.doc_title + (p.section_path ? " › " + p.section_path : "") }),
        el("p", { class: "p-text clip", text: p.text }),
      ]));
    }
    if (!data.passages.length) results.appendChild(el("li", { class: "muted small", text: "没有找到段落，换个说法试试。" }));
  }

  async function resolve(g, action, passageId, item) {
    try {
      const r = await api("POST", "/v1/admin/queue/resolve", { question: g.question, keys: g.keys, action, passage_id: passageId });
      item.remove();
      const left = $("queue-list").querySelectorAll(".q-group").length;
      $("fb-badge").textContent = left || "";
      if (!left) $("queue-list").appendChild(el("li", { class: "empty", text: "暂时没有需要处理的问题。" }));
      toast(action === "dismiss" ? "已忽略" : action === "oos" ? "已标为不在范围内，约 1 秒内生效" : "已记住答案段落，约 1 秒内生效");
      if (r.label && r.label.status === "unresolved") toast("注意：这个标注在当前版本中找不到段落");
    } catch (e) { toast(e.message); }
  }

  /* ---------- labels ---------- */
  async function loadLabels() {
    const rows = $("label-rows");
    let data;
    try { data = await api("GET", "/v1/admin/labels" + ($("label-unresolved").checked ? "?unresolved=true" : "")); } catch (e) { return; }
    const c = data.counts;
    $("label-summary").textContent = c.labels + " 个标注（范围外 " + c.oos + "，找不到段落 " + c.unresolved + "）" + (data.use_labels ? "" : " · KB_USE_LABELS=false：当前不使用标注");
    rows.textContent = "";
    for (const label of data.labels) rows.appendChild(labelRow(label));
    if (!data.labels.length) rows.appendChild(el("tr", {}, [el("td", { colspan: "5", class: "empty", text: $("label-unresolved").checked ? "所有标注都能在当前版本中找到段落。" : "还没有标注。" })]));
  }

  function labelRow(label) {
    const where = label.status === "oos" ? el("span", { class: "pill removed", text: "不在知识库范围" })
      : label.status === "unresolved" ? el("span", { class: "pill error", text: "当前版本中找不到段落", title: "证据：" + label.gold.join(" | ") })
        : el("span", {}, label.passages.map((p, i) => el("span", { class: "l-passage", text: (i ? "；" : "") + (p.title || p.section_path) })));
    const del = el("button", { type: "button", class: "btn danger small", text: "删除", "aria-label": "删除标注 " + label.question });
    del.addEventListener("click", async () => {
      if (!confirm("删除这个标注？\n" + label.question)) return;
      try { await api("DELETE", "/v1/admin/labels/" + encodeURIComponent(label.id)); toast("已删除，约 1 秒内生效"); loadLabels(); } catch (e) { toast(e.message); }
    });
    return el("tr", { dataset: { label: label.id } }, [
      el("td", {}, [el("div", { class: "l-question", text: label.question }), el("div", { class: "doc-id", text: label.id })]),
      el("td", { text: KIND[label.kind] || label.kind }),
      el("td", {}, [where]),
      el("td", { class: "num-cell", text: (label.source === "editor" ? "编辑 " : "导入 ") + formatTime(label.created_at) }),
      el("td", { class: "actions" }, [del]),
    ]);
  }

  async function exportLabels() {
    try {
      const res = await fetch("/v1/admin/labels/export", { credentials: "same-origin" });
      if (!res.ok) throw new Error("HTTP " + res.status);
      const url = URL.createObjectURL(await res.blob());
      const a = el("a", { href: url, download: "labels.jsonl" });
      document.body.appendChild(a);
      a.click();
      a.remove();
      URL.revokeObjectURL(url);
    } catch (e) { toast("导出失败：" + e.message); }
  }

  async function importLabels() {
    const file = $("label-file").files[0];
    if (!file) return;
    const fd = new FormData();
    fd.append("file", file, file.name);
    const out = $("label-import-result");
    try {
      const r = await api("POST", "/v1/admin/labels/import", fd);
      out.className = "form-msg ok";
      out.textContent = "新增 " + r.added + "，更新 " + r.replaced + "，未变 " + r.unchanged + (r.unresolved.length ? "；" + r.unresolved.length + " 个在当前版本中找不到段落" : "");
      loadLabels();
    } catch (e) { out.className = "form-msg err"; out.textContent = e.message; }
    $("label-file").value = "";
  }

  $("label-unresolved").addEventListener("change", loadLabels);
  $("label-export").addEventListener("click", exportLabels);
  $("label-file").addEventListener("change", importLabels);
  $("queue-refresh").addEventListener("click", loadQueue);
  KBAdmin.onTab("feedback", loadQueue);
  KBAdmin.onTab("labels", loadLabels);
  KBAdmin.refreshQueueBadge = loadQueue;
})();
