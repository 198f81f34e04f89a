/* Shared helpers for the chat and admin pages. Every piece of question/document text is rendered as text
   (textContent / text nodes), never parsed as HTML. */
(function () {
  "use strict";

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    if (attrs) {
      for (const [k, v] of Object.entries(attrs)) {
        if (v === null || v === undefined || v === false) continue;
        if (k === "class") node.className = v;
        else if (k === "text") node.textContent = v;
        else if (k === "dataset") Object.assign(node.dataset, v);
        else if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2), v);
        else node.setAttribute(k, v === true ? "" : String(v));
      }
    }
    for (const c of [].concat(children || [])) {
      if (c === null || c === undefined || c === false) continue;
      node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    }
    return node;
  }

  /* Ranges [start, end) in `text` covered by the highlight sentences (exact match, then whitespace-trimmed). */
  function highlightRanges(text, highlights) {
    const ranges = [];
    for (const raw of highlights || []) {
      if (typeof raw !== "string") continue;
      const candidates = [raw, raw.trim()];
      for (const h of candidates) {
        if (!h || h.length < 2) continue;
        let from = 0, found = false;
        for (;;) {
          const i = text.indexOf(h, from);
          if (i < 0) break;
          ranges.push([i, i + h.length]);
          found = true;
          from = i + h.length;
        }
        if (found) break;
      }
    }
    ranges.sort((a, b) => a[0] - b[0] || b[1] - a[1]);
    const merged = [];
    for (const r of ranges) {
      const last = merged[merged.length - 1];
      if (last && r[0] <= last[1]) last[1] = Math.max(last[1], r[1]);
      else merged.push([r[0], r[1]]);
    }
    return merged;
  }

  /* Fill `container` with `text`, wrapping highlight sentences in <mark> — built from text nodes only. */
  function renderHighlighted(container, text, highlights) {
    container.textContent = "";
    text = String(text || "");
    let pos = 0;
    for (const [s, e] of highlightRanges(text, highlights)) {
      if (s > pos) container.appendChild(document.createTextNode(text.slice(pos, s)));
      const m = document.createElement("mark");
      m.textContent = text.slice(s, e);
      container.appendChild(m);
      pos = e;
    }
    if (pos < text.length) container.appendChild(document.createTextNode(text.slice(pos)));
    return container;
  }

  async function api(method, path, body, headers) {
    const opts = { method, headers: Object.assign({}, headers || {}) };
    if (body instanceof FormData) opts.body = body;
    else if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, opts);
    } catch (e) {
      const err = new Error("无法连接服务，请检查网络后重试");
      err.status = 0;
      throw err;
    }
    let data = null;
    const ctype = res.headers.get("content-type") || "";
    if (ctype.includes("json")) data = await res.json().catch(() => null);
    else data = await res.text().catch(() => null);
    if (!res.ok) {
      const err = new Error(errorMessage(res.status, data));
      err.status = res.status;
      err.data = data;
      throw err;
    }
    return data;
  }

  function errorMessage(status, data) {
    if (data && typeof data === "object") {
      if (data.message) return data.message;
      if (typeof data.detail === "string") return data.detail;
      if (Array.isArray(data.detail) && data.detail.length) return data.detail.map((d) => d.msg).join("；");
    }
    if (status === 503) return "知识库暂不可用，请稍后再试";
    if (status === 429) return "提问太频繁，请稍后再试";
    return "出错了（HTTP " + status + "）";
  }

  let toastTimer = null;
  function toast(msg) {
    const t = document.getElementById("toast");
    if (!t) return;
    t.textContent = msg;
    t.classList.add("show");
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => t.classList.remove("show"), 1800);
  }

  async function copyText(text) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch (e) {
      const ta = el("textarea", { class: "sr-only", "aria-hidden": "true" });
      ta.value = text;
      document.body.appendChild(ta);
      ta.select();
      let ok = false;
      try { ok = document.execCommand("copy"); } catch (e2) { ok = false; }
      ta.remove();
      return ok;
    }
  }

  function sourceLine(p) {
    const parts = [p.doc_title || p.doc || ""];
    if (p.section_path) parts.push(p.section_path);
    return parts.filter(Boolean).join(" › ");
  }

  function formatBytes(n) {
    if (n === null || n === undefined) return "";
    if (n < 1024) return n + " B";
    if (n < 1024 * 1024) return (n / 1024).toFixed(1) + " KB";
    return (n / 1024 / 1024).toFixed(1) + " MB";
  }

  function formatTime(ts) {
    if (!ts) return "";
    const d = typeof ts === "number" ? new Date(ts * 1000) : new Date(ts);
    if (isNaN(d.getTime())) return String(ts);
    const pad = (x) => String(x).padStart(2, "0");
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " + pad(d.getHours()) + ":" + pad(d.getMinutes());
  }

  const ICONS = {
    doc: "M14 2H6a2 2 0 0 0-2 2v16a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2V8zM14 2v6h6M8 13h8M8 17h5",
    up: "M14 9V5a3 3 0 0 0-3-3l-4 9v11h11.28a2 2 0 0 0 2-1.7l1.38-9a2 2 0 0 0-2-2.3zM7 22H4a2 2 0 0 1-2-2v-7a2 2 0 0 1 2-2h3",
    down: "M10 15v4a3 3 0 0 0 3 3l4-9V2H5.72a2 2 0 0 0-2 1.7l-1.38 9a2 2 0 0 0 2 2.3zm7-13h2.67A2.31 2.31 0 0 1 22 4v7a2.31 2.31 0 0 1-2.33 2H17",
    copy: "M20 9h-9a2 2 0 0 0-2 2v9a2 2 0 0 0 2 2h9a2 2 0 0 0 2-2v-9a2 2 0 0 0-2-2zM5 15H4a2 2 0 0 1-2-2V4a2 2 0 0 1 2-2h9a2 2 0 0 1 2 2v1",
  };

  /* A small stroke icon as SVG built with DOM calls (emoji fonts are not everywhere). */
  function icon(name, cls) {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("class", "icon" + (cls ? " " + cls : ""));
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("fill", "none");
    svg.setAttribute("stroke", "currentColor");
    svg.setAttribute("stroke-width", "2");
    svg.setAttribute("stroke-linecap", "round");
    svg.setAttribute("stroke-linejoin", "round");
    const path = document.createElementNS(ns, "path");
    path.setAttribute("d", ICONS[name] || "");
    svg.appendChild(path);
    return svg;
  }

  window.KBUI = { el, icon, renderHighlighted, highlightRanges, api, toast, copyText, sourceLine, formatBytes, formatTime, errorMessage };
})();
