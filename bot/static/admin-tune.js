/* The admin page's tune job (editors): the 微调模型 button starts POST /v1/admin/tune, whose progress shows in
   the same job panel as a re-index (admin.js polls it); this file names the tune's stages and shows its
   result: the held-out figures of the gate, and the version published, or why the tuned model was refused.
   Registered as KBAdmin.jobViews.tune, which admin.js asks for a job of that kind. */
(function () {
  "use strict";
  const { el } = KBDom;
  const { toast } = KBUI;
  const $ = (id) => document.getElementById(id);

  const REGIMES = { "zero-shot": "基础模型，不用标注", labels: "基础模型 + 标注（当前）", tuned: "微调模型，不用标注", both: "微调模型 + 标注（候选）" };
  const COLUMNS = ["R@1", "R@5", "MRR@10", "answered", "oos_reject"];
  const BUILD_STAGES = { train: "训练微调模型", export: "导出模型", load: "读取文档", embed: "用微调模型计算向量",
    "embed-sentences": "用微调模型计算句子向量", index: "建立索引", publish: "发布新版本", swap: "切换到新版本" };

  function stage(name) {
    const m = /^gate fold (\d+)\/(\d+)( embed)?$/.exec(name || "");
    if (m) return "留出评估：第 " + m[1] + "/" + m[2] + " 折" + (m[3] ? "（计算向量）" : "（训练）");
    return BUILD_STAGES[name] || name;
  }

  const num = (v) => (typeof v === "number" ? v.toFixed(3) : "-");
  const signed = (v) => (v >= 0 ? "+" : "") + v.toFixed(3);

  function figures(gate) {
    const head = el("tr", {}, [el("th", { text: "留出的问题" }), ...COLUMNS.map((c) => el("th", { text: c }))]);
    const rows = Object.keys(REGIMES).filter((r) => gate.figures[r]).map((r) =>
      el("tr", {}, [el("td", { text: REGIMES[r] }), ...COLUMNS.map((c) => el("td", { text: num(gate.figures[r][c]) }))]));
    const g = gate.gain;
    return [
      el("div", { class: "muted small", text: gate.folds + " 折交叉验证：" + gate.questions + " 个范围内、" + gate.out_of_scope + " 个范围外问题，每折的模型只用其余折的标注训练" }),
      el("table", { class: "tune-figures" }, [el("thead", {}, [head]), el("tbody", {}, rows)]),
      el("div", { text: "微调带来的 MRR@10 变化 " + signed(g.mrr_gain) + "（95% 区间 " + signed(g.ci95[0]) + " ~ " + signed(g.ci95[1]) + "，没有提高的概率 " + g.p_no_gain.toFixed(3) + "）" }),
    ];
  }

  function result(job, box) {
    if (job.state === "succeeded" && job.report) {
      const r = job.report;
      box.appendChild(el("div", { text: "微调模型已通过留出评估并上线：新版本 " + (r.version_id || "") + "，模型 " + (r.model || "") + "。" }));
      if (r.gate) box.append(...figures(r.gate));
    } else if (job.state === "failed") {
      box.appendChild(el("div", { class: "err", text: job.error || "失败" }));
      const tune = job.details && job.details.tune;
      if (tune && tune.gate) box.append(...figures(tune.gate));
    }
  }

  KBAdmin.jobViews = KBAdmin.jobViews || {};
  KBAdmin.jobViews.tune = { stage, result, running: "微调中", done: "微调完成，新版本已上线", failed: "微调未发布" };

  $("tune").addEventListener("click", async () => {
    if (!window.confirm("用标注问题微调向量模型？需要约 10 分钟，期间服务照常回答。只有在留出的问题上胜过当前模型才会上线。")) return;
    try {
      KBAdmin.watchJob(await KBAdmin.api("POST", "/v1/admin/tune", {}));
    } catch (e) {
      if (e.status === 409 && e.data && e.data.job_id) { toast("已有任务在运行"); KBAdmin.watchJob({ id: e.data.job_id }); }
      else toast(e.message);
    }
  });
})();
