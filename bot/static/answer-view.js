/* An answer as agents see it, on the chat page and in the widget alike (bundled into /widget.js by
   bot/routes/pages.py): the status line, the principle and case cards with their highlighted sentences
   and sources (a card the answer converted into the question's script turns back into its document's own
   with "原文"), the no-answer state with the nearest passages, suggestions and feedback.
   Question and document text is rendered as text nodes, never parsed as HTML.

   renderAnswer(ans, host) returns the answer's element; `host` is what differs between the two:
     ask(text)          a suggestion was chosen
     passage(id)        Promise of the full passage with its sources (GET /v1/passages/{id})
     feedback(body)     Promise; POST /v1/feedback
     notify(msg)        a short message (toast)
     root               where a copy falls back to a hidden textarea (the widget's Shadow DOM) */
var KBAnswer = (function (dom) {
  "use strict";
  const { el, icon, copyText } = dom;

  const NEAREST_SHOWN = 3;

  /* Ranges [start, end) in `text` covered by the highlight sentences (exact match, then whitespace-trimmed),
     overlapping ranges merged. */
  function highlightRanges(text, highlights) {
    const ranges = [];
    for (const raw of highlights || []) {
      if (typeof raw !== "string") continue;
      for (const h of [raw, raw.trim()]) {
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

  /* Fills `container` with `text`, the highlight sentences wrapped in <mark>. */
  function renderHighlighted(container, text, highlights) {
    container.textContent = "";
    text = String(text || "");
    let pos = 0;
    for (const [s, e] of highlightRanges(text, highlights)) {
      if (s > pos) container.appendChild(document.createTextNode(text.slice(pos, s)));
      container.appendChild(el("mark", { text: text.slice(s, e) }));
      pos = e;
    }
    if (pos < text.length) container.appendChild(document.createTextNode(text.slice(pos)));
    return container;
  }

  function sourceLine(p) {
    const parts = [p.doc_title || p.doc || ""];
    if (p.section_path) parts.push(p.section_path);
    return parts.filter(Boolean).join(" › ");
  }

  function kindOf(p) {
    return p.kind === "principle" || p.kind === "case" ? p.kind : "other";
  }

  function kindLabel(kind) {
    return kind === "principle" ? "原则" : kind === "case" ? "案例" : "资料";
  }

  async function copyWithNotice(host, text, done) {
    const ok = await copyText(text, host.root);
    host.notify(ok ? done : "复制失败，请手动选择文字");
  }

  /* A passage's text without its first line when that line is the title the card shows above it. */
  function withoutHeading(title, text) {
    const cut = text.indexOf("\n");
    return title && cut > 0 && text.slice(0, cut).trim() === title.trim() ? text.slice(cut + 1) : text;
  }

  /* What a card shows: the passage in the answer's script, or in its document's own ("原文") when the
     answer converted it. */
  function views(p) {
    const title = p.title || "";
    const shown = { title, text: withoutHeading(title, p.text || ""), highlights: p.highlights };
    if (!p.original_text && !p.original_title) return [shown];
    const originalTitle = p.original_title || title;
    return [shown, {
      title: originalTitle, text: withoutHeading(originalTitle, p.original_text || p.text || ""),
      highlights: p.original_highlights || p.highlights,
    }];
  }

  /* The label of the button that turns a card back into the answer's script. */
  function scriptLabel(script) {
    return script === "traditional" ? "繁體" : "简体";
  }

  function card(p, host, opts) {
    const kind = kindOf(p);
    const forms = views(p);
    let view = forms[0];
    const titleNode = el("h3", { class: "card-title", text: view.title || "（无标题）" });
    const textNode = renderHighlighted(el("p", { class: "passage-text" }), view.text, view.highlights);
    const detail = el("div", { class: "source-detail", hidden: true });
    const srcBtn = el("button", { type: "button", class: "source", "aria-expanded": "false", title: "展开查看完整段落和出处" }, [
      icon("doc", "doc-icon"),
      el("span", { class: "src-text", text: sourceLine(p) }),
      el("span", { class: "caret", "aria-hidden": "true", text: "▾" }),
    ]);
    srcBtn.addEventListener("click", () => toggleSource(p, host, srcBtn, detail, () => view));
    const copyBtn = el("button", { type: "button", class: "icon-btn", title: "复制这段（含出处）" }, [icon("copy"), "复制"]);
    copyBtn.addEventListener("click", () =>
      copyWithNotice(host, kindLabel(kind) + "｜" + view.title + "\n" + view.text + "\n——出处：" + sourceLine(p), "已复制"));
    let scriptBtn = null;
    if (forms.length > 1) {
      scriptBtn = el("button", {
        type: "button", class: "icon-btn script-toggle", "aria-pressed": "false", title: "显示文档原文（原来的字形）",
      }, ["原文"]);
      scriptBtn.addEventListener("click", () => {
        const original = view === forms[0];
        view = forms[original ? 1 : 0];
        scriptBtn.setAttribute("aria-pressed", String(original));
        scriptBtn.textContent = original ? scriptLabel(opts.script) : "原文";
        scriptBtn.title = original ? "显示为" + scriptLabel(opts.script) : "显示文档原文（原来的字形）";
        titleNode.textContent = view.title || "（无标题）";
        renderHighlighted(textNode, view.text, view.highlights);
        const quote = detail.querySelector(".full-text");
        if (quote) renderHighlighted(quote, view.text, view.highlights);
      });
    }
    const more = el("button", { type: "button", class: "more", text: "展开全文" });
    more.addEventListener("click", () => {
      const open = textNode.classList.toggle("expanded");
      more.textContent = open ? "收起" : "展开全文";
    });
    const head = el("header", { class: "card-head" }, [
      el("span", { class: "tag " + kind, text: kindLabel(kind) }),
      titleNode,
      opts.num ? el("span", { class: "num", text: "[" + opts.num + "]" }) : null,
    ]);
    const node = el("article", { class: "card " + kind + (opts.muted ? " muted" : ""), dataset: { pid: p.id || "" } }, [
      head, textNode, more,
      el("footer", { class: "card-foot" }, [srcBtn, scriptBtn, copyBtn]),
      detail,
    ]);
    requestAnimationFrame(() => {
      if (textNode.scrollHeight <= textNode.clientHeight + 4) more.hidden = true;
    });
    return node;
  }

  /* The full passage as the card shows it (`current()`: its text and highlights) and every place it
     occurs, fetched the first time the source line is opened. */
  async function toggleSource(p, host, btn, detail, current) {
    const open = btn.getAttribute("aria-expanded") !== "true";
    btn.setAttribute("aria-expanded", String(open));
    detail.hidden = !open;
    if (!open || detail.dataset.loaded) return;
    detail.textContent = "正在加载出处…";
    let full = p;
    try {
      if (p.id) full = await host.passage(p.id);
    } catch (e) {
      full = p;
    }
    detail.textContent = "";
    detail.dataset.loaded = "1";
    const seen = new Set();
    const list = el("ul", { class: "sources" });
    for (const s of full.sources && full.sources.length ? full.sources : [full]) {
      const line = sourceLine(s);
      if (seen.has(line)) continue;
      seen.add(line);
      list.appendChild(el("li", { text: line }));
    }
    const view = current();
    detail.append(
      el("div", { class: "detail-label", text: "完整段落" }),
      renderHighlighted(el("blockquote", { class: "full-text" }), view.text, view.highlights),
      el("div", { class: "detail-label", text: seen.size > 1 ? "出处（多处出现）" : "出处" }),
      list,
    );
  }

  function group(title, kind, items, host, startNum, script) {
    const g = el("section", { class: "group " + kind }, [
      el("h2", { class: "group-title" }, [el("span", { class: "dot " + kind }), title + "（" + items.length + "）"]),
    ]);
    items.forEach((p, i) => g.appendChild(card(p, host, startNum ? { num: startNum + i, script } : { muted: true, script })));
    return g;
  }

  function feedbackBar(ans, host) {
    const top = (ans.principles && ans.principles[0]) || (ans.cases && ans.cases[0]) || (ans.passages && ans.passages[0]);
    const label = el("span", { class: "fb-label", text: "这个回答有帮助吗？" });
    const up = el("button", { type: "button", class: "icon-btn fb up" }, [icon("up"), "有用"]);
    const down = el("button", { type: "button", class: "icon-btn fb down" }, [icon("down"), "没用"]);
    const copyAll = el("button", { type: "button", class: "icon-btn", title: "复制整个回答（含出处）" }, [icon("copy"), "复制回答"]);
    copyAll.addEventListener("click", () => copyWithNotice(host, ans.answer || "", "已复制回答"));
    const comment = el("input", {
      type: "text", maxlength: "500", "aria-label": "没帮助的原因（可选）", placeholder: "哪里不对或缺了什么？（可选）",
    });
    const box = el("form", { class: "fb-comment", hidden: true }, [
      comment, el("button", { type: "submit", class: "fb-submit", text: "提交" }),
    ]);
    async function send(helpful, text) {
      try {
        await host.feedback({
          question: ans.question, passage_id: top ? top.id : null, helpful, comment: text || null,
          session_id: ans.session_id || null,
        });
        up.disabled = down.disabled = true;
        (helpful ? up : down).classList.add("chosen");
        box.hidden = true;
        label.textContent = helpful ? "感谢反馈！" : "已记录，编辑会跟进补充资料。";
      } catch (e) {
        host.notify(e.message);
      }
    }
    up.addEventListener("click", () => send(true));
    down.addEventListener("click", () => { box.hidden = false; down.classList.add("chosen"); comment.focus(); });
    box.addEventListener("submit", (ev) => { ev.preventDefault(); send(false, comment.value.trim()); });
    comment.addEventListener("keydown", (ev) => {
      if (ev.key !== "Escape") return;
      ev.stopPropagation();
      box.hidden = true;
      down.classList.remove("chosen");
      down.focus();
    });
    return el("div", {}, [el("div", { class: "feedback" }, [label, up, down, el("span", { class: "spacer" }), copyAll]), box]);
  }

  function suggestionChips(list, host) {
    const chips = el("div", { class: "chips" });
    for (const s of list) {
      const c = el("button", { type: "button", class: "chip", text: s });
      c.addEventListener("click", () => host.ask(s));
      chips.appendChild(c);
    }
    return el("div", { class: "suggestions" }, [el("div", { class: "sugg-label", text: "你可能还想问" }), chips]);
  }

  function notFound(ans, host) {
    const parts = [el("div", { class: "notfound", role: "note" }, [
      el("div", { class: "nf-title" }, [el("span", { class: "nf-icon", "aria-hidden": "true", text: "?" }), "没有找到：知识库里没有相关内容"]),
      el("p", { text: "培训资料中没有能直接回答这个问题的原则或案例。可以换个说法再问，或按公司规定上报。下面是最接近的内容，仅供参考，请勿直接引用给客户。" }),
    ])];
    const near = (ans.passages || []).slice(0, NEAREST_SHOWN);
    if (near.length) parts.push(group("最接近的内容", "nearest", near, host, 0, ans.script));
    return parts;
  }

  function found(ans, host) {
    const principles = ans.principles || [], cases = ans.cases || [];
    const conf = Math.round((ans.confidence || 0) * 100);
    return [
      el("div", { class: "status ok" }, [
        el("span", { class: "status-icon", "aria-hidden": "true", text: "✓" }),
        el("span", { text: "找到 " + principles.length + " 条原则" + (cases.length ? "、" + cases.length + " 个案例" : "") }),
        el("span", { class: "conf", title: "匹配置信度", text: "置信度 " + conf + "%" }),
      ]),
      principles.length ? group("处理原则", "principle", principles, host, 1, ans.script) : null,
      cases.length ? group("参考案例", "case", cases, host, principles.length + 1, ans.script) : null,
    ];
  }

  function renderAnswer(ans, host) {
    return el("div", { class: "answer" }, [
      ...(ans.matched ? found(ans, host) : notFound(ans, host)),
      ans.suggestions && ans.suggestions.length ? suggestionChips(ans.suggestions, host) : null,
      feedbackBar(ans, host),
    ]);
  }

  /* A failed question, in place of its answer. */
  function renderError(message) {
    return el("div", { class: "answer" }, [el("div", { class: "error", role: "alert", text: message })]);
  }

  return { renderAnswer, renderError };
})(KBDom);
