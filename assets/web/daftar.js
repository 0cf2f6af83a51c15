// Daftar web inbox: small progressive enhancements; every page works without them.
(function () {
  "use strict";
  // A visible warning shortly before the session would end for idleness.
  var idle = parseInt(document.body.getAttribute("data-idle-seconds") || "0", 10);
  var warning = document.getElementById("idle-warning");
  if (idle > 0 && warning) {
    var warnAfter = Math.max(idle - 120, Math.floor(idle / 2)) * 1000;
    var timer = null;
    var arm = function () {
      warning.hidden = true;
      if (timer) { clearTimeout(timer); }
      timer = setTimeout(function () { warning.hidden = false; }, warnAfter);
    };
    ["keydown", "mousedown", "input"].forEach(function (e) { document.addEventListener(e, arm, { passive: true }); });
    arm();
  }
  // Nothing typed is lost: a note being written is saved on the server as a
  // draft while it is typed (and kept in this browser until then).
  var csrf = (document.cookie.match(/(?:^|; )daftar_csrf=([^;]*)/) || [])[1] || "";
  Array.prototype.forEach.call(document.querySelectorAll("textarea[data-draft-key]"), function (area) {
    var key = "daftar:" + area.getAttribute("data-draft-key");
    var file = area.getAttribute("data-file");
    var draftId = null, timer = null, sending = false;
    var keep = function (v) { try { if (v) { window.localStorage.setItem(key, v); } else { window.localStorage.removeItem(key); } } catch (e) { /* no storage */ } };
    try { var kept = window.localStorage.getItem(key); if (kept && !area.value) { area.value = kept; } } catch (e) { /* no storage */ }
    var save = function () {
      if (!file || !csrf || sending || !area.value.trim()) { return Promise.resolve(); }
      sending = true;
      var url = "/api/v1/files/" + file + "/notes" + (draftId ? "/" + draftId : "");
      return fetch(url, {
        method: draftId ? "PATCH" : "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify({ body: area.value })
      }).then(function (r) { return r.ok ? r.json() : null; }).then(function (note) {
        sending = false;
        if (note && note.id) { draftId = note.id; keep(""); area.setAttribute("data-saved", "yes"); }
      }, function () { sending = false; });
    };
    area.addEventListener("input", function () {
      keep(area.value);
      area.removeAttribute("data-saved");
      if (timer) { clearTimeout(timer); }
      timer = setTimeout(save, 1500);
    });
    if (area.form) {
      area.form.addEventListener("submit", function (ev) {
        if (!draftId) { keep(""); return; }
        // Already a draft on the server: bring it up to date and show it.
        ev.preventDefault();
        if (timer) { clearTimeout(timer); }
        save().then(function () { window.location.reload(); });
      });
    }
  });
})();
