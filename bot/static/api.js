/* Calls to the service's JSON API, for the pages (same origin) and the widget (its script's origin;
   bundled into /widget.js by bot/routes/pages.py). A failure is an Error with `status` (0 = no response:
   the service is unreachable, or the browser refused the cross-origin call) and the server's `data`. */
var KBApi = (function () {
  "use strict";

  function errorMessage(status, data) {
    if (data && typeof data === "object") {
      if (data.message) return data.message;
      if (typeof data.detail === "string") return data.detail;
      if (Array.isArray(data.detail) && data.detail.length) return data.detail.map((d) => d.msg).join("；");
    }
    if (status === 0) return "无法连接知识库服务，请检查网络后重试";
    if (status === 503) return "知识库暂不可用，请稍后再试";
    if (status === 429) return "提问太频繁，请稍后再试";
    return "出错了（HTTP " + status + "）";
  }

  function failure(status, data) {
    const err = new Error(errorMessage(status, data));
    err.status = status;
    err.data = data;
    return err;
  }

  /* `base`: "" for the page's own origin, else the service's origin. */
  async function request(base, method, path, body, headers) {
    const opts = { method, headers: Object.assign({}, headers || {}), credentials: base ? "omit" : "same-origin" };
    if (body instanceof FormData) opts.body = body;
    else if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(base + path, opts);
    } catch (e) {
      throw failure(0, null);
    }
    const ctype = res.headers.get("content-type") || "";
    const data = ctype.includes("json") ? await res.json().catch(() => null) : await res.text().catch(() => null);
    if (!res.ok) throw failure(res.status, data);
    return data;
  }

  return { request, errorMessage };
})();
