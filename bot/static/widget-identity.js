/* Who is asking, for the widget (bundled into /widget.js before widget-main.js): a short-lived token that the
   embedding site's own backend signs (docs/deploying.md), sent with every question in X-KB-Token.
   The site gives it one of two ways:
     data-token-url="/kb-token"   the widget fetches it there (the site's own origin, with its cookies) before
                                  the first question, again shortly before it expires, and once more when the
                                  service refuses it; the answer is {"token": "..."} or the token as text
     window.kefuKB.setToken(t)    the page hands it over itself (and again before it expires)
   Without either, the widget is anonymous. */
var KBWidgetIdentity = (function () {
  "use strict";
  const RENEW_BEFORE_SECONDS = 30;

  /* The token's exp claim (seconds), read without checking it: only to know when to fetch a new one. */
  function expiry(token) {
    try {
      const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      const claims = JSON.parse(atob(part + "===".slice((part.length + 3) % 4)));
      return typeof claims.exp === "number" ? claims.exp : null;
    } catch (e) {
      return null;
    }
  }

  function create(tokenUrl) {
    let token = null, pending = null;

    async function fetchToken() {
      const res = await fetch(tokenUrl, { credentials: "include", headers: { Accept: "application/json, text/plain" } });
      if (!res.ok) throw new Error("token url answered " + res.status);
      const text = (await res.text()).trim();
      let value = text;
      try { const data = JSON.parse(text); if (data && typeof data.token === "string") value = data.token; } catch (e) { /* plain text */ }
      token = value;
      return token;
    }

    /* The token's freshest copy (fetched once at a time). */
    function renew() {
      if (!tokenUrl) return Promise.resolve(token);
      if (!pending) pending = fetchToken().finally(() => { pending = null; });
      return pending;
    }

    /* The headers to send: with `renewIfDue`, a token about to expire is fetched anew first. */
    async function headers(renewIfDue) {
      const exp = token ? expiry(token) : null;
      if (renewIfDue !== false && tokenUrl && (!token || (exp !== null && exp - Date.now() / 1000 < RENEW_BEFORE_SECONDS))) {
        try { await renew(); } catch (e) { console.error("坐席知识库助手：无法获取身份令牌（data-token-url=" + tokenUrl + "）：" + e.message); }
      }
      return token ? { "X-KB-Token": token } : {};
    }

    return {
      headers,
      renewable: () => !!tokenUrl,
      renew,
      setToken: (t) => { token = typeof t === "string" && t ? t : null; },
    };
  }

  return { create };
})();
