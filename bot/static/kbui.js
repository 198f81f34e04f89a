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

  window.KBUI = { el, renderHighlighted, highlightRanges, api, toast, copyText, sourceLine, formatBytes, formatTime, errorMessage };
})();
