/* The embeddable widget: <script src="https://HOST/widget.js" data-title="客服助手" async></script> adds a
   floating button and a chat panel that asks the knowledge base at this script's own origin.
   /widget.js is this file bundled by bot/routes/pages.py, in one function scope, after dom.js, api.js and
   answer-view.js (the chat page's own answer rendering) and WIDGET_CSS (palette.css, answer.css, widget.css):
   nothing but window.__kbWidget and window.kefuKB (setToken) reaches the embedding page. The styles live in a Shadow DOM (the page's CSS
   cannot leak in or out); no third-party assets; question and document text is rendered as text.
   Optional attributes: data-title, data-position="left|right", data-color="#1d4ed8", data-open="true",
   data-token-url (who is asking: widget-identity.js). */
(function (dom, kbapi, answers, identities, css) {
  "use strict";
  if (window.__kbWidget) return;
  const { el, icon, showToast } = dom;
  const script = document.currentScript;
  const ORIGIN = script && script.src ? new URL(script.src, location.href).origin : location.origin;
  const ds = (script && script.dataset) || {};
  const TITLE = (ds.title || "客服助手").slice(0, 40);
  const COLOR = /^#[0-9a-fA-F]{3,8}$/.test(ds.color || "") ? ds.color : null;

  const identity = identities.create(ds.tokenUrl || null);

  function request(method, path, body) {
    return kbapi.request(ORIGIN, method, path, body);
  }

  /* A call that says who is asking; a refused token (401) is fetched anew once and the call tried again. */
  async function asAgent(method, path, body) {
    try {
      return await kbapi.request(ORIGIN, method, path, body, await identity.headers());
    } catch (e) {
      if (e.status !== 401 || !identity.renewable()) throw e;
      await identity.renew().catch(() => null);
      return kbapi.request(ORIGIN, method, path, body, await identity.headers(false));
    }
  }

  /* What to tell the user when a call got no response. The browser hides why; the service answers a
     cross-origin GET /widget-access from anywhere, so a refused origin can be told apart from a service
     that is down, and the site's owner learns what to change. */
  async function unreachableMessage(err) {
    let access;
    try {
      access = await request("GET", "/widget-access");
    } catch (e) {
      return err.message;
    }
    if (access.allowed) return err.message;
    console.error("坐席知识库助手：" + ORIGIN + " 的知识库服务不接受本网站（" + location.origin + "）的请求。" +
      "请在服务端把 " + location.origin + " 加入 KB_CORS_ORIGINS（例如 KB_CORS_ORIGINS='[\"" + location.origin +
      "\"]'）后重启服务。");
    return "此网站未获授权使用知识库，请联系网站管理员";
  }

  function mount() {
    const host = el("kb-assistant", { "data-kb-widget": "" });
    document.body.appendChild(host);
    const shadow = host.attachShadow({ mode: "open" });
    try {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(css);
      shadow.adoptedStyleSheets = [sheet];
    } catch (e) {
      shadow.appendChild(el("style", { text: css }));
    }
    const root = el("div", { class: "root" + (ds.position === "left" ? " left" : "") });
    if (COLOR) {
      root.style.setProperty("--primary", COLOR);
      root.style.setProperty("--primary-2", COLOR);
    }
    shadow.appendChild(root);

    const newBtn = el("button", { type: "button", class: "hbtn", text: "新对话" });
    const closeBtn = el("button", { type: "button", class: "hbtn", "aria-label": "关闭", text: "✕" });
    const hello = el("div", { class: "hello", text: "你好！描述客户的问题或场景，我会找出相关的处理原则和案例。" });
    const msgs = el("div", { class: "msgs", "aria-live": "polite" }, [hello]);
    const ta = el("textarea", { rows: "1", maxlength: "500", placeholder: "输入客户的问题，Enter 发送", "aria-label": "问题" });
    const send = el("button", { type: "submit", class: "send", text: "发送" });
    const form = el("form", { class: "ask" }, [ta, send]);
    const toast = el("div", { class: "toast", role: "status", "aria-live": "polite" });
    const panel = el("section", { class: "panel", role: "dialog", "aria-label": TITLE, hidden: true }, [
      el("div", { class: "head" }, [
        el("div", { class: "t" }, [TITLE, el("span", { class: "s", text: "引用培训资料中的原则与案例" })]),
        newBtn, closeBtn,
      ]),
      msgs, form,
      el("p", { class: "foot", text: "答案来自知识库原文，请核对出处" }),
      toast,
    ]);
    const launcher = el("button", { type: "button", class: "launcher", "aria-label": "打开" + TITLE, title: TITLE,
                                    "aria-expanded": "false" }, [icon("chat")]);
    root.append(panel, launcher);

    let sessionId = null, busy = false, last = "";

    /* What the shared answer view (answer-view.js) needs from the widget. */
    const answerHost = {
      ask: (text) => ask(text),
      passage: (id) => asAgent("GET", "/v1/passages/" + encodeURIComponent(id)),
      feedback: (body) => asAgent("POST", "/v1/feedback", body),
      notify: (msg) => showToast(toast, msg),
      root: shadow,
    };

    function toggle(open) {
      panel.hidden = !open;
      root.classList.toggle("open", open);
      launcher.setAttribute("aria-expanded", String(open));
      if (open) ta.focus();
    }
    function close() {
      toggle(false);
      launcher.focus();
    }
    launcher.addEventListener("click", () => toggle(panel.hidden));
    closeBtn.addEventListener("click", close);
    newBtn.addEventListener("click", () => {
      sessionId = null;
      msgs.replaceChildren(hello);
      ta.focus();
    });
    panel.addEventListener("keydown", (e) => { if (e.key === "Escape") close(); });

    async function ask(text) {
      const q = (text || "").trim();
      if (!q || busy) return;
      busy = true;
      send.disabled = true;
      last = q;
      ta.value = "";
      hello.remove();
      const question = el("div", { class: "u", text: q });
      const waiting = el("div", { class: "waiting", text: "正在查找资料…" });
      msgs.append(question, waiting);
      msgs.scrollTop = msgs.scrollHeight;
      let shown;
      try {
        const ans = await asAgent("POST", "/v1/ask", { question: q, session_id: sessionId });
        sessionId = ans.session_id || sessionId;
        shown = answers.renderAnswer(ans, answerHost);
      } catch (e) {
        shown = answers.renderError(e.status === 0 ? await unreachableMessage(e) : e.message);
        if (!ta.value) ta.value = q; // a failure never loses the question
      }
      waiting.replaceWith(shown);
      msgs.scrollTop = question.offsetTop - msgs.offsetTop - 8;
      busy = false;
      send.disabled = false;
      ta.focus();
    }

    form.addEventListener("submit", (e) => { e.preventDefault(); ask(ta.value); });
    ta.addEventListener("keydown", (e) => {
      if (e.isComposing || e.keyCode === 229) return; // Chinese IME: Enter picks a candidate
      if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); ask(ta.value); }
      else if (e.key === "ArrowUp" && !ta.value && last) { e.preventDefault(); ta.value = last; }
    });
    window.__kbWidget = { open: () => toggle(true), close: () => toggle(false), ask };
    if (ds.open === "true") toggle(true);
  }

  window.kefuKB = { setToken: identity.setToken };
  window.__kbWidget = { loading: true };
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})(KBDom, KBApi, KBAnswer, KBWidgetIdentity, WIDGET_CSS);
