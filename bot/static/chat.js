/* Agents' chat page. All question/document text is rendered with textContent / text nodes. */
(function () {
  "use strict";
  const { el } = KBDom;
  const { api, toast } = KBUI;
  const { renderAnswer, renderError } = KBAnswer;

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

  /* Scrolls `node` to the top of the view (below the sticky top bar: .msg's scroll-margin-top). */
  function bringToTop(node) {
    node.scrollIntoView({ behavior: "smooth", block: "start" });
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

  /* What the shared answer view (answer-view.js) needs from this page. */
  const answerHost = {
    ask: (text) => ask(text),
    passage: (id) => api("GET", "/v1/passages/" + encodeURIComponent(id)),
    feedback: (body) => api("POST", "/v1/feedback", body),
    notify: toast,
    root: document.body,
  };

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
    const question = userBubble(text);
    const reply = pendingBubble();
    convo.append(question, reply);
    bringToTop(question);
    let shown;
    try {
      const ans = await api("POST", "/v1/ask", { question: text, session_id: state.sessionId });
      setSession(ans.session_id);
      shown = renderAnswer(ans, answerHost);
      reply.classList.add(ans.matched ? "matched" : "unmatched");
    } catch (e) {
      shown = renderError(e.message);
      if (!input.value) { input.value = text; autoresize(); } // a failure never loses the question
    }
    reply.classList.remove("pending");
    reply.replaceChild(shown, reply.querySelector(".answer"));
    // The answer is far taller than the pending line: scroll again, so that it reads from its start.
    bringToTop(question);
    state.busy = false;
    sendBtn.disabled = false;
    input.focus();
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
