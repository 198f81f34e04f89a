/* Helpers of the pages served by this service (chat, admin, API docs): same-origin API calls, the toast,
   number and time formats. DOM building is in dom.js, API calls in api.js. */
var KBUI = (function () {
  "use strict";

  function api(method, path, body, headers) {
    return KBApi.request("", method, path, body, headers);
  }

  function toast(msg) {
    KBDom.showToast(document.getElementById("toast"), msg);
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

  return { api, toast, formatBytes, formatTime };
})();
