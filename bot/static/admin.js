/* Editors' admin page: status, documents, re-index (and the job panel a tune job shows in), the feedback queue,
   dictionary and synonyms. Signing in,
   the CSRF token and the tabs are admin-session.js's (KBAdmin); all document text is rendered as text. */
(function () {
  "use strict";
  const { el } = KBDom;
  const { toast, formatBytes, formatTime } = KBUI;
  const $ = (id) => document.getElementById(id);
  const adminApi = KBAdmin.api;

  const STAGES = {
    queued: "排队中", starting: "准备", load: "读取文档", clean: "清洗文本", split: "切分段落", embed: "计算向量",
    index: "建立索引", gate: "评测新版本", evaluate: "评测新版本", publish: "发布新版本", swap: "切换到新版本",
    unchanged: "内容无变化", done: "完成",
  };
  const STATES = { queued: "排队中", running: "索引中", succeeded: "已完成", failed: "失败" };
  const STATUS = { indexed: "已索引", pending: "待索引", removed: "已删除（待重建）", error: "读取失败" };

  let polling = null;

  async function start() {
    try {
      const st = await adminApi("GET", "/v1/admin/status");
      renderStatus(st);
      if (st.job) pollJob(st.job.id);
      else if (st.last_job) renderJob(st.last_job);
      loadDocs();
      KBAdmin.refreshQueueBadge();  // admin-queue.js
    } catch (e) {
      if (e.status !== 401) toast(e.message);
    }
  }
  KBAdmin.onSignIn(start);

  function stat(k, v, cls) {
    return el("div", { class: "stat" }, [el("div", { class: "v" + (cls ? " " + cls : ""), text: String(v) }), el("div", { class: "k", text: k })]);
  }

  function renderStatus(st) {
    const box = $("stats");
    box.textContent = "";
    const s = st.stats || {};
    const kinds = s.by_kind || (st.manifest && st.manifest.counts && st.manifest.counts.by_kind) || {};
    if (!st.ready) {
      box.appendChild(el("div", { class: "stat" }, [el("div", { class: "v", text: "未就绪" }), el("div", { class: "k", text: st.error || "还没有知识库版本，请上传文档后重新索引" })]));
    } else {
      box.append(
        stat("文档", s.documents ?? "-"), stat("段落", s.passages ?? "-"),
        stat("原则", kinds.principle ?? "-"), stat("案例", kinds.case ?? "-"),
        stat("当前版本", st.version || "-", "ver"),
        stat("向量模型", s.tuned_model ? "微调 " + s.tuned_model : "基础模型", "ver"),
      );
    }
    $("upload-hint").textContent = "支持 " + (st.supported_suffixes || []).join(" ") + "，单个文件不超过 " + formatBytes(st.max_upload_bytes);
    $("file").accept = (st.supported_suffixes || []).join(",");
  }

  async function refreshStatus() {
    try { renderStatus(await adminApi("GET", "/v1/admin/status")); } catch (e) { /* shown elsewhere */ }
  }

  /* ---------- documents ---------- */
  async function loadDocs() {
    let data;
    try { data = await adminApi("GET", "/v1/admin/documents"); } catch (e) { return; }
    const rows = $("doc-rows");
    rows.textContent = "";
    for (const d of data.documents) rows.appendChild(docRow(d));
    if (!data.documents.length) rows.appendChild(el("tr", {}, [el("td", { colspan: "7", class: "empty", text: "还没有文档，请先上传。" })]));
    const n = data.documents.length, pending = data.documents.filter((d) => d.status !== "indexed").length;
    $("doc-summary").textContent = n + " 份" + (pending ? "，其中 " + pending + " 份需要重新索引才会生效" : "，全部已索引");
    const probs = $("problems");
    probs.textContent = "";
    for (const p of data.problems || []) probs.appendChild(el("li", { text: p }));
  }

  function docRow(d) {
    const k = d.kinds || {};
    const name = el("td", {}, [
      el("div", { class: "doc-title", text: d.title || d.doc_id }),
      d.title && d.title !== d.doc_id ? el("div", { class: "doc-id", text: d.doc_id }) : null,
    ]);
    if (d.warnings && d.warnings.length) {
      const det = el("details", { class: "doc-warn" }, [el("summary", { text: "清洗提示 " + d.warnings.length + " 条" })]);
      const ul = el("ul");
      for (const w of d.warnings) ul.appendChild(el("li", { text: w }));
      det.appendChild(ul);
      name.appendChild(det);
    }
    if (d.error) name.appendChild(el("div", { class: "doc-err", text: "读取失败：" + d.error }));
    const view = el("button", { type: "button", class: "btn ghost small", text: "查看段落", disabled: !d.indexed });
    view.addEventListener("click", () => openPassages(d));
    const del = KBAdmin.can("editor") ? el("button", { type: "button", class: "btn danger small", text: "删除", disabled: d.status === "removed" }) : null;
    if (del) del.addEventListener("click", () => removeDoc(d));
    return el("tr", { dataset: { doc: d.doc_id } }, [
      name,
      el("td", { class: "num-cell", text: formatBytes(d.size) }),
      el("td", { class: "num-cell", text: d.indexed ? String(d.passages || 0) : "—" }),
      el("td", { class: "kinds" }, d.indexed ? [
        el("span", { class: "k p", text: String(k.principle || 0) }), " / ",
        el("span", { class: "k c", text: String(k.case || 0) }), " / ",
        el("span", { class: "k o", text: String(k.other || 0) }),
      ] : ["—"]),
      el("td", { class: "num-cell", text: d.indexed_at ? formatTime(d.indexed_at) : "—" }),
      el("td", {}, [
        el("span", { class: "pill " + d.status, text: STATUS[d.status] || d.status }),
        d.uploaded ? el("span", { class: "pill uploaded", text: "上传" }) : null,
      ]),
      el("td", { class: "actions" }, [view, del]),
    ]);
  }

  async function removeDoc(d) {
    if (!confirm("删除文档“" + (d.title || d.doc_id) + "”？\n重新索引后，助手将不再引用它。")) return;
    try {
      await adminApi("DELETE", "/v1/admin/documents/" + encodeURIComponent(d.doc_id));
      toast("已删除，重新索引后生效");
      loadDocs();
    } catch (e) { toast(e.message); }
  }

  async function openPassages(d) {
    const drawer = $("drawer"), body = $("drawer-body");
    $("drawer-title").textContent = d.title || d.doc_id;
    $("drawer-sub").textContent = "正在加载…";
    body.textContent = "";
    drawer.hidden = false;
    $("drawer-close").focus();
    try {
      const data = await adminApi("GET", "/v1/admin/documents/" + encodeURIComponent(d.doc_id) + "/passages");
      $("drawer-sub").textContent = data.passages.length + " 段 · 版本 " + data.version + " · 助手会按下面的样子引用";
      for (const p of data.passages) {
        const kind = p.kind === "principle" || p.kind === "case" ? p.kind : "other";
        body.appendChild(el("article", { class: "p-card " + kind }, [
          el("div", { class: "p-head" }, [el("span", { class: "tag " + kind, text: kind === "principle" ? "原则" : kind === "case" ? "案例" : "其他" }), el("span", { class: "p-title", text: p.title || "" })]),
          p.section_path ? el("div", { class: "p-path", text: p.section_path }) : null,
          el("p", { class: "p-text", text: p.text }),
          el("div", { class: "p-id", text: p.id }),
        ]));
      }
    } catch (e) {
      $("drawer-sub").textContent = e.message;
    }
  }
  function closeDrawer() { $("drawer").hidden = true; }
  $("drawer-close").addEventListener("click", closeDrawer);
  $("drawer").addEventListener("click", (ev) => { if (ev.target === $("drawer")) closeDrawer(); });
  document.addEventListener("keydown", (ev) => { if (ev.key === "Escape" && !$("drawer").hidden) closeDrawer(); });

  /* ---------- upload ---------- */
  const fileInput = $("file");
  function chosenChanged() {
    const files = Array.from(fileInput.files || []);
    $("chosen").textContent = files.length ? files.map((f) => f.name + "（" + formatBytes(f.size) + "）").join("、") : "未选择文件";
    $("upload-btn").disabled = !files.length;
  }
  fileInput.addEventListener("change", chosenChanged);
  const drop = $("drop");
  ["dragenter", "dragover"].forEach((t) => drop.addEventListener(t, (ev) => { ev.preventDefault(); drop.classList.add("over"); }));
  ["dragleave", "drop"].forEach((t) => drop.addEventListener(t, () => drop.classList.remove("over")));
  drop.addEventListener("drop", (ev) => {
    ev.preventDefault();
    if (ev.dataTransfer && ev.dataTransfer.files.length) { fileInput.files = ev.dataTransfer.files; chosenChanged(); }
  });
  $("upload-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const files = Array.from(fileInput.files || []);
    if (!files.length) return;
    const out = $("upload-result");
    out.textContent = "";
    $("upload-btn").disabled = true;
    let okCount = 0;
    for (const f of files) {
      const fd = new FormData();
      fd.append("file", f, f.name);
      fd.append("replace", $("replace").checked ? "true" : "false");
      try {
        const r = await adminApi("POST", "/v1/admin/documents", fd);
        okCount++;
        out.appendChild(el("div", { class: "ok", text: "✓ 已上传 " + r.doc_id + (r.renamed ? "（同名文档已存在，已自动改名）" : "") + (r.warnings && r.warnings.length ? "；提示：" + r.warnings.join("；") : "") }));
      } catch (e) {
        out.appendChild(el("div", { class: "err", text: "✗ " + f.name + "：" + e.message }));
      }
    }
    fileInput.value = "";
    chosenChanged();
    if (okCount) out.appendChild(el("div", { class: "muted small", text: "点击“重新索引”后，助手就能引用新文档。" }));
    loadDocs();
  });

  /* ---------- re-index job ---------- */
  $("reindex").addEventListener("click", async () => {
    jobButtons(true);
    try {
      const job = await adminApi("POST", "/v1/admin/reindex");
      renderJob(job);
      pollJob(job.id);
    } catch (e) {
      if (e.status === 409 && e.data && e.data.job_id) { toast("已有索引任务在运行"); pollJob(e.data.job_id); }
      else { toast(e.message); jobButtons(false); }
    }
  });

  /* A job of another kind than re-index (the tune job, admin-tune.js) brings its own stage names, state words
     and result view: KBAdmin.jobViews[kind]. */
  const viewOf = (job) => (KBAdmin.jobViews || {})[job.kind];

  function renderJob(job) {
    $("job").hidden = false;
    const view = viewOf(job);
    const st = $("job-state");
    st.className = "job-state " + job.state;
    st.textContent = (view && job.state === "running" && view.running) || STATES[job.state] || job.state;
    $("job-stage").textContent = job.state === "running" || job.state === "queued"
      ? (STAGES[job.stage] || (view ? view.stage(job.stage) : job.stage)) : "";
    const bar = $("job-bar");
    const running = job.state === "running" || job.state === "queued";
    $("job-count").textContent = running && job.total ? job.done + " / " + job.total : (job.finished_at ? formatTime(job.finished_at) + " · 用时 " + job.seconds + " 秒" : "");
    if (running && !job.total) { bar.classList.add("indeterminate"); bar.style.width = ""; }
    else {
      bar.classList.remove("indeterminate");
      bar.style.width = (running ? Math.round(100 * job.done / Math.max(1, job.total)) : 100) + "%";
    }
    const res = $("job-result");
    res.textContent = "";
    if (view) view.result(job, res);
    else if (job.state === "succeeded" && job.report) {
      const r = job.report;
      const kinds = r.by_kind || {};
      res.appendChild(el("div", { text: (r.changed === false ? "文档没有变化，继续使用当前版本 " : "新版本 ") + (r.version_id || "") + " 已上线：" + r.documents + " 份文档、" + r.passages + " 段（原则 " + (kinds.principle || 0) + "、案例 " + (kinds.case || 0) + "）；新计算向量 " + (r.embedded || 0) + " 段，复用 " + (r.reused || 0) + " 段。" }));
      const lost = (r.labels && r.labels.unresolved) || [];
      if (lost.length) res.appendChild(el("div", { class: "err", text: lost.length + " 个标注在新版本中找不到段落（已保留，见“标注问题”）：" + lost.slice(0, 5).map((x) => x.question).join("；") }));
      if (r.errors && r.errors.length) {
        const ul = el("ul");
        for (const e of r.errors) ul.appendChild(el("li", { class: "err", text: e.doc + "：" + e.error }));
        res.append(el("div", { class: "err", text: "以下文档没能读取：" }), ul);
      }
    } else if (job.state === "failed") {
      res.appendChild(el("div", { class: "err", text: job.error || "失败" }));
      const ev = job.details && job.details.evaluation;
      if (ev) res.appendChild(el("div", { text: "评测结果：" + Object.entries(ev).filter(([, v]) => typeof v === "number").map(([k, v]) => k + "=" + (Math.round(v * 1000) / 1000)).join("  ") }));
    }
  }

  function jobButtons(disabled) {
    for (const id of ["reindex", "tune"]) $(id).disabled = disabled;
  }

  function pollJob(id) {
    clearTimeout(polling);
    jobButtons(true);
    const tick = async () => {
      let job;
      try { job = await adminApi("GET", "/v1/admin/jobs/" + encodeURIComponent(id)); } catch (e) { polling = setTimeout(tick, 2000); return; }
      renderJob(job);
      if (job.state === "running" || job.state === "queued") { polling = setTimeout(tick, 600); return; }
      jobButtons(false);
      const view = viewOf(job);
      if (view) toast(job.state === "succeeded" ? view.done : view.failed);
      else toast(job.state === "succeeded" ? "索引完成，新版本已上线" : "索引失败");
      refreshStatus();
      loadDocs();
    };
    tick();
  }
  KBAdmin.watchJob = (job) => { if (job.state) renderJob(job); pollJob(job.id); };

  /* ---------- dictionary & synonyms ---------- */
  async function loadDict() {
    try {
      const [d, s] = await Promise.all([adminApi("GET", "/v1/admin/dictionary"), adminApi("GET", "/v1/admin/synonyms")]);
      $("dict-text").value = d.text;
      $("syn-text").value = s.text;
    } catch (e) { toast(e.message); }
  }
  function saver(formId, path, textId, msgId) {
    $(formId).addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const msg = $(msgId);
      msg.className = "form-msg";
      msg.textContent = "正在保存…";
      try {
        const r = await adminApi("PUT", path, { text: $(textId).value });
        $(textId).value = r.text;
        msg.className = "form-msg ok";
        msg.textContent = "已保存，重新索引后生效";
      } catch (e) {
        msg.className = "form-msg err";
        msg.textContent = e.message;
      }
    });
  }
  saver("dict-form", "/v1/admin/dictionary", "dict-text", "dict-msg");
  saver("syn-form", "/v1/admin/synonyms", "syn-text", "syn-msg");

  /* ---------- tabs, own password ---------- */
  KBAdmin.onTab("dict", loadDict);
  KBAdmin.onTab("docs", loadDocs);

  function closePassword() { $("password-dialog").hidden = true; $("password-open").focus(); }
  $("password-open").addEventListener("click", () => {
    $("password-dialog").hidden = false;
    $("pw-msg").textContent = "";
    $("pw-current").focus();
  });
  $("password-close").addEventListener("click", closePassword);
  $("password-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const msg = $("pw-msg");
    try {
      await adminApi("POST", "/v1/auth/password", { current: $("pw-current").value, new: $("pw-new").value });
      $("password-form").reset();
      await KBAdmin.start();  // a new session: a new CSRF token
      closePassword();
      toast("新密码已保存，其他已登录的浏览器已退出");
    } catch (e) {
      msg.className = "form-msg err";
      msg.textContent = e.message;
    }
  });
  document.addEventListener("keydown", (ev) => { if (ev.key === "Escape" && !$("password-dialog").hidden) closePassword(); });
})();