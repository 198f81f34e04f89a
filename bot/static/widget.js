/*! 坐席知识库助手 widget — <script src="https://HOST/widget.js" data-title="客服助手" async></script>
 * Adds a floating button and a chat panel that asks the knowledge base at this script's own origin.
 * Styles live in a Shadow DOM (the host page's CSS cannot leak in or out); no third-party assets;
 * all question/document text is rendered as text, never as HTML.
 * Optional attributes: data-title, data-position="left|right", data-color="#1d4ed8", data-open="true".
 */
(function () {
  "use strict";
  if (window.__kbWidget) return;
  var script = document.currentScript;
  var ORIGIN = script && script.src ? new URL(script.src, location.href).origin : location.origin;
  var ds = (script && script.dataset) || {};
  var TITLE = (ds.title || "客服助手").slice(0, 40);
  var SIDE = ds.position === "left" ? "left" : "right";
  var COLOR = /^#[0-9a-fA-F]{3,8}$/.test(ds.color || "") ? ds.color : "#1d4ed8";

  var CSS = [
    ":host { all: initial; }",
    "* { box-sizing: border-box; }",
    ".root { position: fixed; bottom: 20px; " + SIDE + ": 20px; z-index: 2147483000; font-family: -apple-system, BlinkMacSystemFont, 'Segoe UI', 'PingFang SC', 'Hiragino Sans GB', 'Microsoft YaHei', 'Noto Sans CJK SC', 'WenQuanYi Micro Hei', sans-serif; font-size: 14px; line-height: 1.6; color: #1f2937; }",
    "button, textarea, input { font: inherit; color: inherit; }",
    ".launcher { width: 56px; height: 56px; border-radius: 50%; border: 0; cursor: pointer; background: var(--c); color: #fff; display: grid; place-items: center; box-shadow: 0 8px 24px rgba(15,23,42,.25); transition: transform .15s; margin-left: auto; }",
    ".launcher:hover { transform: scale(1.05); }",
    ".launcher:focus-visible, button:focus-visible, textarea:focus-visible { outline: 2px solid var(--c); outline-offset: 2px; }",
    ".launcher svg { width: 26px; height: 26px; }",
    ".panel { position: absolute; bottom: 70px; " + SIDE + ": 0; width: 380px; height: min(600px, calc(100vh - 110px)); background: #f5f7fb; border-radius: 16px; box-shadow: 0 18px 48px rgba(15,23,42,.28); display: flex; flex-direction: column; overflow: hidden; border: 1px solid rgba(15,23,42,.08); }",
    ".panel[hidden] { display: none; }",
    ".head { background: var(--c); color: #fff; padding: 12px 14px; display: flex; align-items: center; gap: 10px; }",
    ".head .t { font-weight: 600; font-size: 15px; flex: 1; min-width: 0; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }",
    ".head .s { display: block; font-weight: 400; font-size: 11.5px; opacity: .85; }",
    ".hbtn { border: 0; background: rgba(255,255,255,.16); color: #fff; border-radius: 7px; padding: 3px 9px; cursor: pointer; font-size: 12.5px; }",
    ".hbtn:hover { background: rgba(255,255,255,.28); }",
    ".msgs { flex: 1; overflow-y: auto; padding: 12px; }",
    ".hello { color: #4b5563; background: #fff; border-radius: 12px; padding: 10px 12px; border: 1px solid #e5e7eb; }",
    ".u { margin: 10px 0 10px auto; max-width: 85%; width: fit-content; background: var(--c); color: #fff; padding: 7px 12px; border-radius: 12px 12px 3px 12px; white-space: pre-wrap; word-break: break-word; }",
    ".b { margin: 8px 0 12px; }",
    ".status { font-size: 12.5px; color: #6b7280; margin: 0 0 6px; }",
    ".card { background: #fff; border: 1px solid #e5e7eb; border-left: 3px solid #cbd5e1; border-radius: 9px; padding: 8px 10px; margin: 6px 0; }",
    ".card.principle { border-left-color: #0f766e; } .card.case { border-left-color: #b45309; }",
    ".ch { display: flex; gap: 6px; align-items: baseline; }",
    ".tag { flex: none; font-size: 11px; font-weight: 600; padding: 0 6px; border-radius: 5px; background: #eef2f7; color: #4b5563; }",
    ".tag.principle { background: #e6f6f3; color: #0f766e; } .tag.case { background: #fdf3e4; color: #b45309; }",
    ".title { font-weight: 600; font-size: 14px; word-break: break-word; }",
    ".txt { margin: 4px 0 0; white-space: pre-wrap; word-break: break-word; color: #374151; font-size: 13.5px; display: -webkit-box; -webkit-line-clamp: 5; -webkit-box-orient: vertical; overflow: hidden; }",
    ".txt.open { display: block; }",
    "mark { background: #fff1a8; color: inherit; border-radius: 2px; }",
    ".src { display: block; width: 100%; text-align: left; border: 0; background: none; padding: 4px 0 0; margin-top: 4px; border-top: 1px dashed #e5e7eb; color: #6b7280; font-size: 12px; cursor: pointer; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }",
    ".src:hover { color: var(--c); }",
    ".nf { background: #fff7ed; border: 1px solid #fed7aa; color: #7c2d12; border-radius: 9px; padding: 8px 10px; font-size: 13px; }",
    ".nf b { color: #9a3412; display: block; }",
    ".near { font-size: 12px; color: #6b7280; margin: 8px 0 2px; }",
    ".chips { display: flex; flex-wrap: wrap; gap: 6px; margin-top: 8px; }",
    ".chip { border: 1px solid #c7d5f5; background: #fff; color: #1e40af; border-radius: 999px; padding: 3px 10px; font-size: 12.5px; cursor: pointer; text-align: left; }",
    ".fb { display: flex; gap: 6px; align-items: center; margin-top: 6px; font-size: 12px; color: #6b7280; }",
    ".fb button { border: 1px solid #e5e7eb; background: #fff; border-radius: 6px; padding: 0 7px; cursor: pointer; }",
    ".fb button:disabled { opacity: .5; cursor: default; }",
    ".err { background: #fdecec; color: #b91c1c; border-radius: 9px; padding: 8px 10px; }",
    ".typing { color: #6b7280; font-size: 13px; margin: 8px 0; }",
    "form { display: flex; gap: 8px; padding: 10px; background: #fff; border-top: 1px solid #e5e7eb; align-items: flex-end; }",
    "textarea { flex: 1; resize: none; border: 1px solid #d1d9e6; border-radius: 10px; padding: 7px 10px; max-height: 120px; outline: none; background: #fff; }",
    "textarea:focus { border-color: var(--c); }",
    ".send { border: 0; background: var(--c); color: #fff; border-radius: 10px; padding: 8px 14px; cursor: pointer; }",
    ".send:disabled { opacity: .6; cursor: default; }",
    ".foot { text-align: center; font-size: 11px; color: #9ca3af; padding: 0 0 6px; background: #fff; }",
    "@media (max-width: 480px) { .root { bottom: 12px; " + SIDE + ": 12px; } .panel { position: fixed; inset: 0; width: auto; height: auto; border-radius: 0; bottom: 0; } }",
  ].join("\n");

  function h(tag, cls, text) {
    var n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text !== undefined && text !== null) n.textContent = String(text);
    return n;
  }

  function highlighted(node, text, highlights) {
    text = String(text || "");
    var ranges = [];
    (highlights || []).forEach(function (s) {
      if (typeof s !== "string" || s.trim().length < 2) return;
      s = s.trim();
      var i = text.indexOf(s);
      while (i >= 0) { ranges.push([i, i + s.length]); i = text.indexOf(s, i + s.length); }
    });
    ranges.sort(function (a, b) { return a[0] - b[0]; });
    var pos = 0;
    ranges.forEach(function (r) {
      if (r[0] < pos) { if (r[1] <= pos) return; r = [pos, r[1]]; }
      if (r[0] > pos) node.appendChild(document.createTextNode(text.slice(pos, r[0])));
      node.appendChild(h("mark", null, text.slice(r[0], r[1])));
      pos = r[1];
    });
    if (pos < text.length) node.appendChild(document.createTextNode(text.slice(pos)));
    return node;
  }

  function icon() {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("fill", "none");
    svg.setAttribute("stroke", "currentColor");
    svg.setAttribute("stroke-width", "2");
    svg.setAttribute("stroke-linecap", "round");
    svg.setAttribute("stroke-linejoin", "round");
    var p = document.createElementNS(ns, "path");
    p.setAttribute("d", "M21 12a8 8 0 0 1-11.6 7.1L4 20l1-4.6A8 8 0 1 1 21 12zM8 10h8M8 14h5");
    svg.appendChild(p);
    return svg;
  }

  function mount() {
    var host = document.createElement("kb-assistant");
    host.setAttribute("data-kb-widget", "");
    document.body.appendChild(host);
    var shadow = host.attachShadow({ mode: "open" });
    try {
      var sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      shadow.adoptedStyleSheets = [sheet];
    } catch (e) {
      var st = document.createElement("style");
      st.textContent = CSS;
      shadow.appendChild(st);
    }
    var root = h("div", "root");
    root.style.setProperty("--c", COLOR);
    shadow.appendChild(root);

    var panel = h("section", "panel");
    panel.hidden = true;
    panel.setAttribute("role", "dialog");
    panel.setAttribute("aria-label", TITLE);
    var head = h("div", "head");
    var t = h("div", "t", TITLE);
    t.appendChild(h("span", "s", "引用培训资料中的原则与案例"));
    var newBtn = h("button", "hbtn", "新对话");
    newBtn.type = "button";
    var closeBtn = h("button", "hbtn", "✕");
    closeBtn.type = "button";
    closeBtn.setAttribute("aria-label", "关闭");
    head.append(t, newBtn, closeBtn);
    var msgs = h("div", "msgs");
    msgs.setAttribute("aria-live", "polite");
    var hello = h("div", "hello", "你好！描述客户的问题或场景，我会找出相关的处理原则和案例。");
    msgs.appendChild(hello);
    var form = h("form");
    var ta = h("textarea");
    ta.rows = 1;
    ta.maxLength = 500;
    ta.placeholder = "输入客户的问题，Enter 发送";
    ta.setAttribute("aria-label", "问题");
    var send = h("button", "send", "发送");
    send.type = "submit";
    form.append(ta, send);
    panel.append(head, msgs, form, h("div", "foot", "答案来自知识库原文，请核对出处"));

    var launcher = h("button", "launcher");
    launcher.type = "button";
    launcher.setAttribute("aria-label", "打开" + TITLE);
    launcher.title = TITLE;
    launcher.appendChild(icon());
    root.append(panel, launcher);

    var sessionId = null, busy = false, last = "";

    function toggle(open) {
      panel.hidden = !open;
      launcher.setAttribute("aria-expanded", String(open));
      if (open) ta.focus();
    }
    launcher.addEventListener("click", function () { toggle(panel.hidden); });
    closeBtn.addEventListener("click", function () { toggle(false); launcher.focus(); });
    newBtn.addEventListener("click", function () {
      sessionId = null;
      msgs.textContent = "";
      msgs.appendChild(hello);
      ta.focus();
    });
    panel.addEventListener("keydown", function (e) { if (e.key === "Escape") { toggle(false); launcher.focus(); } });

    function label(kind) { return kind === "principle" ? "原则" : kind === "case" ? "案例" : "资料"; }

    function source(p) { return [p.doc_title || p.doc, p.section_path].filter(Boolean).join(" › "); }

    function card(p) {
      var kind = p.kind === "principle" || p.kind === "case" ? p.kind : "other";
      var c = h("div", "card " + kind);
      var ch = h("div", "ch");
      ch.append(h("span", "tag " + kind, label(kind)), h("span", "title", p.title || ""));
      var txt = highlighted(h("p", "txt"), p.text, p.highlights);
      var src = h("button", "src", "出处：" + source(p) + " ▾");
      src.type = "button";
      src.title = "展开原文";
      src.addEventListener("click", function () { txt.classList.toggle("open"); });
      c.append(ch, txt, src);
      return c;
    }

    function render(ans) {
      var b = h("div", "b");
      if (ans.matched) {
        var np = (ans.principles || []).length, nc = (ans.cases || []).length;
        b.appendChild(h("div", "status", "找到 " + np + " 条原则" + (nc ? "、" + nc + " 个案例" : "")));
        (ans.principles || []).concat(ans.cases || []).forEach(function (p) { b.appendChild(card(p)); });
      } else {
        var nf = h("div", "nf");
        nf.append(h("b", null, "没有找到：知识库里没有相关内容"), document.createTextNode("可以换个说法再问。下面是最接近的内容，仅供参考。"));
        b.appendChild(nf);
        var near = (ans.passages || []).slice(0, 2);
        if (near.length) b.appendChild(h("div", "near", "最接近的内容"));
        near.forEach(function (p) { b.appendChild(card(p)); });
      }
      if (ans.suggestions && ans.suggestions.length) {
        var chips = h("div", "chips");
        ans.suggestions.slice(0, 4).forEach(function (s) {
          var c = h("button", "chip", s);
          c.type = "button";
          c.addEventListener("click", function () { ask(s); });
          chips.appendChild(c);
        });
        b.appendChild(chips);
      }
      var top = (ans.principles || [])[0] || (ans.cases || [])[0] || (ans.passages || [])[0];
      var fb = h("div", "fb", "有帮助吗？");
      var up = h("button", null, "有用"), down = h("button", null, "没用");
      up.type = down.type = "button";
      up.setAttribute("aria-label", "有帮助");
      down.setAttribute("aria-label", "没帮助");
      function vote(helpful) {
        up.disabled = down.disabled = true;
        post("/v1/feedback", { question: ans.question, passage_id: top ? top.id : null, helpful: helpful, session_id: ans.session_id || null })
          .then(function () { fb.lastChild.textContent = "感谢反馈"; })
          .catch(function () { up.disabled = down.disabled = false; });
      }
      up.addEventListener("click", function () { vote(true); });
      down.addEventListener("click", function () { vote(false); });
      fb.append(up, down, h("span", null, ""));
      b.appendChild(fb);
      return b;
    }

    function post(path, body) {
      return fetch(ORIGIN + path, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
        credentials: "omit",
      }).then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (data) {
          if (!r.ok) {
            var msg = data && (data.message || (typeof data.detail === "string" ? data.detail : null));
            throw new Error(msg || (r.status === 503 ? "知识库暂不可用" : "出错了（HTTP " + r.status + "）"));
          }
          return data;
        });
      });
    }

    function ask(q) {
      q = (q || "").trim();
      if (!q || busy) return;
      busy = true;
      send.disabled = true;
      last = q;
      ta.value = "";
      if (hello.parentNode) hello.remove();
      msgs.appendChild(h("div", "u", q));
      var wait = h("div", "typing", "正在查找资料…");
      msgs.appendChild(wait);
      msgs.scrollTop = msgs.scrollHeight;
      post("/v1/ask", { question: q, session_id: sessionId })
        .then(function (ans) {
          sessionId = ans.session_id || sessionId;
          wait.replaceWith(render(ans));
        })
        .catch(function (e) {
          wait.replaceWith(h("div", "err", e.message === "Failed to fetch" ? "无法连接知识库服务" : e.message));
        })
        .then(function () {
          busy = false;
          send.disabled = false;
          var u = msgs.querySelectorAll(".u");
          if (u.length) u[u.length - 1].scrollIntoView({ block: "start" });
          ta.focus();
        });
    }

    form.addEventListener("submit", function (e) { e.preventDefault(); ask(ta.value); });
    ta.addEventListener("keydown", function (e) {
      if (e.isComposing || e.keyCode === 229) return;
      if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); ask(ta.value); }
      else if (e.key === "ArrowUp" && !ta.value && last) { e.preventDefault(); ta.value = last; }
    });
    window.__kbWidget = { open: function () { toggle(true); }, close: function () { toggle(false); }, ask: ask };
    if (ds.open === "true") toggle(true);
  }

  window.__kbWidget = { loading: true };
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
