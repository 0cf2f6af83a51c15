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
  // Nothing typed is lost: a note being written is kept in this browser until it is saved.
  Array.prototype.forEach.call(document.querySelectorAll("textarea[data-draft-key]"), function (area) {
    var key = "daftar:" + area.getAttribute("data-draft-key");
    try {
      var kept = window.localStorage.getItem(key);
      if (kept && !area.value) { area.value = kept; }
      area.addEventListener("input", function () { window.localStorage.setItem(key, area.value); });
      if (area.form) { area.form.addEventListener("submit", function () { window.localStorage.removeItem(key); }); }
    } catch (e) { /* storage unavailable: the form still works */ }
  });
})();
