/* A small offline API reference rendered from /openapi.json (used when Swagger UI files are not installed). */
(function () {
  "use strict";
  const { el } = KBDom;
  const { api } = KBUI;
  const root = document.getElementById("docs");

  function resolve(spec, schema) {
    if (schema && schema.$ref) return resolve(spec, schema.$ref.split("/").slice(1).reduce((o, k) => o[k], spec));
    return schema;
  }

  api("GET", "/openapi.json").then((spec) => {
    document.getElementById("title").textContent = spec.info.title + " " + spec.info.version;
    root.textContent = "";
    root.appendChild(el("p", { class: "desc", text: (spec.info.description || "").trim() }));
    const byTag = {};
    for (const [path, ops] of Object.entries(spec.paths || {})) {
      for (const [method, op] of Object.entries(ops)) {
        const tag = (op.tags && op.tags[0]) || "other";
        (byTag[tag] = byTag[tag] || []).push({ path, method, op });
      }
    }
    for (const [tag, ops] of Object.entries(byTag)) {
      root.appendChild(el("h2", { class: "tag-title", text: tag }));
      for (const { path, method, op } of ops) {
        const body = el("div", { class: "op-body" });
        if (op.description) body.appendChild(el("p", { class: "desc", text: op.description }));
        const params = (op.parameters || []).map((p) => p.name + " (" + p.in + (p.required ? ", required" : "") + ")");
        if (params.length) body.appendChild(el("p", { text: "Parameters: " + params.join(", ") }));
        const rb = op.requestBody && op.requestBody.content;
        if (rb) {
          for (const [ctype, c] of Object.entries(rb)) {
            body.appendChild(el("p", { text: "Request body: " + ctype }));
            body.appendChild(el("pre", { text: JSON.stringify(resolve(spec, c.schema), null, 2) }));
          }
        }
        body.appendChild(el("p", { text: "Responses: " + Object.keys(op.responses || {}).join(", ") }));
        root.appendChild(el("details", { class: "op" }, [
          el("summary", {}, [el("span", { class: "method " + method, text: method.toUpperCase() }), el("span", { class: "path", text: path }), el("span", { class: "summary", text: op.summary || "" })]),
          body,
        ]));
      }
    }
  }).catch((e) => { root.textContent = e.message; });
})();
