/* Agents' chat page. All question/document text is rendered with textContent / text nodes. */
(function () {
  "use strict";
  const { el, icon, renderHighlighted, api, toast, copyText, sourceLine } = window.KBUI;

  const form = document.getElementById("ask-form");
  const input = document.getElementById("question");
  const sendBtn = document.getElementById("send");
  const convo = document.getElementById("conversation");
  const welcome = document.getElementById("welcome");
  const meta = document.getElementById("kb-meta");
  const counter = document.getElementById("counter");

  const state = { sessionId: null, history: [], recall: -1, busy: false, maxChars: 500 };
  try { state.sessionId = sessionStorage.getItem("kb.session") || null; } catch (e) { /* private mode */ }

  function setSession(id) {
    state.sessionId = id || null;
    try {
      if (id) sessionStorage.setItem("kb.session", id); else sessionStorage.removeItem("kb.session");
    } catch (e) { /* ignore */ }
  }

  async function loadInfo() {
    try {
      const info = await api("GET", "/v1/info");
      state.maxChars = info.max_question_chars || state.maxChars;
      input.maxLength = state.maxChars;
      const n = info.stats && (info.stats.passages || 0);
      const d = info.stats && (info.stats.documents || 0);
      meta.textContent = "知识库 " + shortVersion(info.version) + " · " + d + " 份资料 · " + n + " 段";
    } catch (e) {
      meta.textContent = e.status === 503 ? "知识库未就绪" : "";
      if (e.status === 503) showBanner("知识库还没有准备好（尚未建立索引或正在加载）。请联系知识库编辑，或稍后刷新。");
    }
  }

  function shortVersion(v) {
    return v ? String(v).slice(0, 15) : "";
  }

  function showBanner(text) {
    if (document.getElementById("banner")) return;
    convo.prepend(el("div", { class: "banner", id: "banner", role: "alert", text }));
  }

  function autoresize() {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight, 180) + "px";
    const len = input.value.length;
    counter.textContent = len > state.maxChars * 0.8 ? len + " / " + state.maxChars : "";
  }

  function scrollToEnd(node) {
    (node || convo.lastElementChild)?.scrollIntoView({ behavior: "smooth", block: "start" });
  }

  function userBubble(text) {
    return el("div", { class: "msg user" }, [el("div", { class: "bubble", text })]);
  }

  function pendingBubble() {
    return el("div", { class: "msg bot pending" }, [
      el("div", { class: "avatar", "aria-hidden": "true", text: "知" }),
      el("div", { class: "answer" }, [
        el("div", { class: "typing", "aria-label": "正在查找" }, [el("span"), el("span"), el("span")]),
        el("span", { class: "typing-label", text: "正在查找资料…" }),
      ]),
    ]);
  }

  function kindLabel(kind) {
    return kind === "principle" ? "原则" : kind === "case" ? "案例" : "资料";
  }

  function card(p, opts) {
    opts = opts || {};
    const kind = p.kind === "principle" || p.kind === "case" ? p.kind : "other";
    const textNode = renderHighlighted(el("p", { class: "passage-text" }), p.text, p.highlights);
    const detail = el("div", { class: "source-detail", hidden: true });
    const srcBtn = el("button", {
      type: "button", class: "source", "aria-expanded": "false",
      title: "展开查看原文段落",
    }, [icon("doc", "doc-icon"), el("span", { class: "src-text", text: sourceLine(p) }), el("span", { class: "caret", "aria-hidden": "true", text: "▾" })]);
    srcBtn.addEventListener("click", () => toggleSource(p, srcBtn, detail));
    const copyBtn = el("button", { type: "button", class: "icon-btn", title: "复制这段（含出处）" }, [icon("copy"), "复制"]);
    copyBtn.addEventListener("click", async () => {
      const ok = await copyText(kindLabel(kind) + "｜" + (p.title || "") + "\n" + p.text + "\n——出处：" + sourceLine(p));
      toast(ok ? "已复制" : "复制失败，请手动选择文字");
    });
    const more = el("button", { type: "button", class: "more", text: "展开全文" });
    more.addEventListener("click", () => {
      const open = textNode.classList.toggle("expanded");
      more.textContent = open ? "收起" : "展开全文";
    });
    const head = el("header", { class: "card-head" }, [
      el("span", { class: "tag " + kind, text: kindLabel(kind) }),
      el("h3", { class: "card-title", text: p.title || "（无标题）" }),
      opts.num ? el("span", { class: "num", text: "[" + opts.num + "]" }) : null,
    ]);
    const node = el("article", { class: "card " + kind + (opts.muted ? " muted" : ""), dataset: { pid: p.id || "" } }, [
      head, textNode, more,
      el("footer", { class: "card-foot" }, [srcBtn, copyBtn]),
      detail,
    ]);
    requestAnimationFrame(() => {
      if (textNode.scrollHeight <= textNode.clientHeight + 4) more.hidden = true;
    });
    return node;
  }

  async function toggleSource(p, btn, detail) {
    const open = btn.getAttribute("aria-expanded") !== "true";
    btn.setAttribute("aria-expanded", String(open));
    detail.hidden = !open;
    if (!open || detail.dataset.loaded) return;
    detail.textContent = "正在加载原文…";
    let full = p;
    try {
      if (p.id) full = await api("GET", "/v1/passages/" + encodeURIComponent(p.id));
    } catch (e) {
      full = p;
    }
    detail.textContent = "";
    detail.dataset.loaded = "1";
    const sources = (full.sources && full.sources.length ? full.sources : [full]);
    const seen = new Set();
    const list = el("ul", { class: "sources" });
    for (const s of sources) {
      const line = sourceLine(s);
      if (seen.has(line)) continue;
      seen.add(line);
      list.appendChild(el("li", { text: line }));
    }
    detail.append(
      el("div", { class: "detail-label", text: "原文段落" }),
      renderHighlighted(el("blockquote", { class: "full-text" }), full.text || p.text, p.highlights),
      el("div", { class: "detail-label", text: seen.size > 1 ? "出处（多处出现）" : "出处" }),
      list,
    );
  }

  function group(title, kind, items, startNum) {
    if (!items || !items.length) return null;
    const g = el("section", { class: "group " + kind }, [
      el("h4", { class: "group-title" }, [el("span", { class: "dot " + kind }), title + "（" + items.length + "）"]),
    ]);
    items.forEach((p, i) => g.appendChild(card(p, { num: startNum + i })));
    return g;
  }

  function feedbackBar(ans) {
    const top = (ans.principles && ans.principles[0]) || (ans.cases && ans.cases[0]) || (ans.passages && ans.passages[0]);
    const bar = el("div", { class: "feedback" });
    const label = el("span", { class: "fb-label", text: "这个回答有帮助吗？" });
    const up = el("button", { type: "button", class: "icon-btn fb up", title: "有帮助", "aria-label": "有帮助" }, [icon("up"), "有用"]);
    const down = el("button", { type: "button", class: "icon-btn fb down", title: "没帮助", "aria-label": "没帮助" }, [icon("down"), "没用"]);
    const copyAll = el("button", { type: "button", class: "icon-btn", title: "复制整个回答（含出处）" }, [icon("copy"), "复制回答"]);
    copyAll.addEventListener("click", async () => toast((await copyText(ans.answer || "")) ? "已复制回答" : "复制失败"));
    const box = el("form", { class: "fb-comment", hidden: true });
    const comment = el("input", { type: "text", maxlength: "500", placeholder: "哪里不对或缺了什么？（可选）" });
    box.append(comment, el("button", { type: "submit", class: "btn small primary", text: "提交" }));
    async function send(helpful, text) {
      try {
        await api("POST", "/v1/feedback", {
          question: ans.question, passage_id: top ? top.id : null, helpful, comment: text || null,
          session_id: ans.session_id || null,
        });
        up.disabled = down.disabled = true;
        (helpful ? up : down).classList.add("chosen");
        box.hidden = true;
        label.textContent = helpful ? "感谢反馈！" : "已记录，编辑会跟进补充资料。";
      } catch (e) {
        toast(e.message);
      }
    }
    up.addEventListener("click", () => send(true));
    down.addEventListener("click", () => { box.hidden = false; down.classList.add("chosen"); comment.focus(); });
    box.addEventListener("submit", (ev) => { ev.preventDefault(); send(false, comment.value.trim()); });
    comment.addEventListener("keydown", (ev) => { if (ev.key === "Escape") { box.hidden = true; down.classList.remove("chosen"); input.focus(); } });
    bar.append(label, up, down, el("span", { class: "spacer" }), copyAll);
    return el("div", {}, [bar, box]);
  }

  function suggestionChips(list) {
    if (!list || !list.length) return null;
    const chips = el("div", { class: "chips" });
    for (const s of list) {
      const c = el("button", { type: "button", class: "chip", text: s });
      c.addEventListener("click", () => ask(s));
      chips.appendChild(c);
    }
    return el("div", { class: "suggestions" }, [el("div", { class: "sugg-label", text: "你可能还想问" }), chips]);
  }

  function renderAnswer(ans) {
    const body = el("div", { class: "answer" });
    const nP = (ans.principles || []).length, nC = (ans.cases || []).length;
    const conf = Math.round((ans.confidence || 0) * 100);
    if (ans.matched) {
      body.appendChild(el("div", { class: "status ok" }, [
        el("span", { class: "status-icon", "aria-hidden": "true", text: "✓" }),
        el("span", { text: "找到 " + nP + " 条原则" + (nC ? "、" + nC + " 个案例" : "") }),
        el("span", { class: "conf", title: "匹配置信度", text: "置信度 " + conf + "%" }),
      ]));
      body.appendChild(group("处理原则", "principle", ans.principles, 1));
      const g = group("参考案例", "case", ans.cases, nP + 1);
      if (g) body.appendChild(g);
    } else {
      body.appendChild(el("div", { class: "notfound", role: "note" }, [
        el("div", { class: "nf-title" }, [el("span", { class: "nf-icon", "aria-hidden": "true", text: "?" }), "没有找到：知识库里没有相关内容"]),
        el("p", { text: "培训资料中没有能直接回答这个问题的原则或案例。可以换个说法再问，或按公司规定上报。下面是最接近的内容，仅供参考，请勿直接引用给客户。" }),
      ]));
      const near = (ans.passages || []).slice(0, 3);
      if (near.length) {
        const g = el("section", { class: "group nearest" }, [el("h4", { class: "group-title", text: "最接近的内容（" + near.length + "）" })]);
        near.forEach((p) => g.appendChild(card(p, { muted: true })));
        body.appendChild(g);
      }
    }
    const sugg = suggestionChips(ans.suggestions);
    if (sugg) body.appendChild(sugg);
    body.appendChild(feedbackBar(ans));
    return body;
  }

  async function ask(text) {
    text = (text || "").trim();
    if (!text || state.busy) return;
    if (text.length > state.maxChars) { toast("问题太长：最多 " + state.maxChars + " 个字"); return; }
    state.busy = true;
    sendBtn.disabled = true;
    welcome.hidden = true;
    if (state.history[state.history.length - 1] !== text) state.history.push(text);
    state.recall = -1;
    input.value = "";
    autoresize();
    const u = userBubble(text);
    convo.appendChild(u);
    const pending = pendingBubble();
    convo.appendChild(pending);
    scrollToEnd(u);
    try {
      const ans = await api("POST", "/v1/ask", { question: text, session_id: state.sessionId });
      setSession(ans.session_id);
      pending.classList.remove("pending");
      pending.replaceChild(renderAnswer(ans), pending.querySelector(".answer"));
      pending.classList.add(ans.matched ? "matched" : "unmatched");
    } catch (e) {
      pending.classList.remove("pending");
      pending.replaceChild(el("div", { class: "answer" }, [el("div", { class: "error", role: "alert", text: e.message })]), pending.querySelector(".answer"));
    } finally {
      state.busy = false;
      sendBtn.disabled = false;
      input.focus();
    }
  }

  form.addEventListener("submit", (ev) => { ev.preventDefault(); ask(input.value); });
  input.addEventListener("input", autoresize);
  input.addEventListener("keydown", (ev) => {
    if (ev.isComposing || ev.keyCode === 229) return; // Chinese IME: Enter picks a candidate
    if (ev.key === "Enter" && !ev.shiftKey && !ev.ctrlKey && !ev.altKey && !ev.metaKey) {
      ev.preventDefault();
      ask(input.value);
    } else if (ev.key === "ArrowUp" && state.history.length && (input.value === "" || state.recall >= 0) &&
               input.selectionStart === input.selectionEnd && !input.value.slice(0, input.selectionStart).includes("\n")) {
      ev.preventDefault();
      state.recall = state.recall < 0 ? state.history.length - 1 : Math.max(0, state.recall - 1);
      input.value = state.history[state.recall];
      autoresize();
      input.setSelectionRange(input.value.length, input.value.length);
    } else if (ev.key === "ArrowDown" && state.recall >= 0) {
      ev.preventDefault();
      state.recall += 1;
      input.value = state.recall < state.history.length ? state.history[state.recall] : "";
      if (state.recall >= state.history.length) state.recall = -1;
      autoresize();
    }
  });
  document.getElementById("new-chat").addEventListener("click", () => {
    setSession(null);
    for (const n of Array.from(convo.children)) if (n !== welcome) n.remove();
    welcome.hidden = false;
    input.value = "";
    autoresize();
    input.focus();
    toast("已开始新对话");
  });
  for (const chip of document.querySelectorAll("#examples .chip")) {
    chip.addEventListener("click", () => ask(chip.textContent));
  }
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "/" && document.activeElement !== input && !(ev.target instanceof HTMLInputElement)) {
      ev.preventDefault();
      input.focus();
    }
  });
  loadInfo();
  autoresize();
})();
