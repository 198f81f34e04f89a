/* The 统计 tab: GET /v1/admin/analytics drawn as SVG built here (no chart library, no other host):
   questions per day (answered / not), the answered and helpful (👍) rates per day, the teams, the unanswered questions
   grouped by similarity, the passages cited most and those never cited; CSV export of each table. */
(function () {
  "use strict";
  const { el } = KBDom;
  const $ = (id) => document.getElementById(id);
  const NS = "http://www.w3.org/2000/svg";
  const W = 720, H = 220, PAD = { l: 40, r: 12, t: 12, b: 28 };
  const pct = (x) => (x === null || x === undefined ? "—" : Math.round(x * 100) + "%");

  function svg(tag, attrs, children) {
    const node = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    for (const c of children || []) node.appendChild(c);
    return node;
  }

  function frame(caption, max, ticks) {
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": caption, class: "chart-svg" });
    const y = (v) => PAD.t + (H - PAD.t - PAD.b) * (1 - v / max);
    for (const t of ticks) {
      root.append(svg("line", { x1: PAD.l, x2: W - PAD.r, y1: y(t.v), y2: y(t.v), class: "grid-line" }),
        svg("text", { x: PAD.l - 6, y: y(t.v) + 4, "text-anchor": "end", class: "tick" }, [document.createTextNode(t.label)]));
    }
    return { root, y };
  }

  function xLabels(root, days, x) {
    const every = Math.max(1, Math.ceil(days.length / 8));
    days.forEach((d, i) => {
      if (i % every === 0 || i === days.length - 1) {
        root.append(svg("text", { x: x(i), y: H - 8, "text-anchor": "middle", class: "tick" }, [document.createTextNode(d.date.slice(5))]));
      }
    });
  }

  function legend(items) {
    return el("figcaption", { class: "legend" }, items.map(([cls, text]) => el("span", {}, [el("i", { class: "swatch " + cls }), text])));
  }

  /* A round top for the axis whose half is round too: 2, 4, 6, 10, 20, 50, 100, ... */
  function niceMax(n) {
    if (n <= 10) return Math.max(2, Math.ceil(n / 2) * 2);
    const step = Math.pow(10, Math.floor(Math.log10(n))) / 2;
    return Math.ceil(n / step) * step;
  }

  function asksChart(days) {
    const max = niceMax(Math.max(...days.map((d) => d.asks)));
    const { root, y } = frame("每天的提问数：已回答与未回答", max, [0, 0.5, 1].map((f) => ({ v: max * f, label: String(max * f) })));
    const slot = (W - PAD.l - PAD.r) / days.length;
    const x = (i) => PAD.l + slot * (i + 0.5);
    const bw = Math.max(2, slot * 0.7);
    days.forEach((d, i) => {
      const title = svg("title", {}, [document.createTextNode(`${d.date}：提问 ${d.asks}，已回答 ${d.answered}`)]);
      root.append(svg("g", { class: "bar" }, [
        title,
        svg("rect", { x: x(i) - bw / 2, y: y(d.asks), width: bw, height: y(0) - y(d.asks), class: "bar-missed" }),
        svg("rect", { x: x(i) - bw / 2, y: y(d.answered), width: bw, height: y(0) - y(d.answered), class: "bar-answered" }),
      ]));
    });
    xLabels(root, days, x);
    return [el("h3", { text: "每天的提问" }), root, legend([["answered", "已回答"], ["missed", "未回答"]])];
  }

  function ratesChart(days) {
    const { root, y } = frame("每天的回答率与有帮助比例", 1, [0, 0.5, 1].map((v) => ({ v, label: pct(v) })));
    const slot = (W - PAD.l - PAD.r) / days.length;
    const x = (i) => PAD.l + slot * (i + 0.5);
    const line = (key, cls, value) => {
      const pts = days.map((d, i) => [i, value(d)]).filter(([, v]) => v !== null);
      if (!pts.length) return;
      root.append(svg("polyline", { points: pts.map(([i, v]) => `${x(i)},${y(v)}`).join(" "), class: "line " + cls }));
      for (const [i, v] of pts) {
        root.append(svg("circle", { cx: x(i), cy: y(v), r: 3, class: "dot " + cls }, [svg("title", {}, [document.createTextNode(`${days[i].date}：${key} ${pct(v)}`)])]));
      }
    };
    line("回答率", "answered", (d) => d.answered_rate);
    line("有帮助比例", "helpful", (d) => (d.helpful + d.unhelpful ? d.helpful / (d.helpful + d.unhelpful) : null));
    xLabels(root, days, x);
    return [el("h3", { text: "回答率与有帮助比例" }), root, legend([["answered", "回答率"], ["helpful", "有帮助比例（有帮助 / 坐席反馈）"]])];
  }

  function stat(k, v) {
    return el("div", { class: "stat" }, [el("div", { class: "v", text: String(v) }), el("div", { class: "k", text: k })]);
  }

  function query(extra) {
    const params = new URLSearchParams({ days: $("an-days").value });
    if ($("an-team").value !== "") params.set("team", $("an-team").value === "(anonymous)" ? "" : $("an-team").value);
    for (const [k, v] of Object.entries(extra || {})) params.set(k, v);
    return "/v1/admin/analytics?" + params.toString();
  }

  function render(data) {
    const t = data.totals;
    $("an-totals").replaceChildren(stat("提问", t.asks), stat("回答率", pct(t.answered_rate)), stat("有帮助", t.helpful),
      stat("没帮助", t.unhelpful), stat("有帮助比例", pct(t.helpful_rate)));
    $("an-chart-asks").replaceChildren(...asksChart(data.per_day));
    $("an-chart-rates").replaceChildren(...ratesChart(data.per_day));
    const teamSel = $("an-team"), chosen = teamSel.value;
    teamSel.replaceChildren(el("option", { value: "", text: "全部团队" }),
      ...data.teams.map((team) => el("option", { value: team || "(anonymous)", text: team || "（匿名）" })));
    teamSel.value = chosen;
    $("an-teams").replaceChildren(
      el("thead", {}, [el("tr", {}, ["团队", "提问", "回答率", "有帮助", "没帮助"].map((h) => el("th", { scope: "col", text: h })))]),
      el("tbody", {}, data.per_team.map((r) => el("tr", {}, [r.team || "（匿名）", r.asks, pct(r.answered_rate), r.helpful, r.unhelpful].map((v) => el("td", { text: String(v) }))))));
    $("an-unanswered").replaceChildren(...(data.top_unanswered.length ? data.top_unanswered.map((g) => el("li", {}, [
      el("span", { class: "an-q", text: g.question }), el("span", { class: "an-n", text: g.count + " 次" }),
      g.variants.length ? el("div", { class: "muted small", text: "类似问法：" + g.variants.join("；") }) : null,
    ])) : [el("li", { class: "empty", text: "这段时间没有未回答的问题。" })]));
    $("an-cited").replaceChildren(...(data.most_cited.length ? data.most_cited.map((p) => el("li", {}, [
      el("span", { class: "an-q", text: (p.title || p.id) + (p.doc ? " · " + p.doc : "") }), el("span", { class: "an-n", text: p.count + " 次" }),
    ])) : [el("li", { class: "empty", text: "这段时间没有引用。" })]));
    const never = data.never_cited;
    $("an-never-summary").textContent = never.count === null ? "知识库未加载。" : "当前版本 " + never.of + " 段中有 " + never.count + " 段在这段时间里从未被引用" + (never.count > never.passages.length ? "（列出前 " + never.passages.length + " 段）" : "") + "。";
    $("an-never").replaceChildren(...never.passages.map((p) => el("li", { text: (p.title || p.id) + " · " + p.doc })));
    $("an-csv").href = query({ format: "csv", table: "per_day" });
  }

  async function load() {
    try { render(await KBAdmin.api("GET", query())); } catch (e) { KBUI.toast(e.message); }
  }

  $("an-days").addEventListener("change", load);
  $("an-team").addEventListener("change", load);
  KBAdmin.onTab("analytics", load);
})();
