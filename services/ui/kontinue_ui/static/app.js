// Progressive enhancement on top of htmx: the pages work without it (plain links and forms).
(function () {
  "use strict";
  var token = document.querySelector('meta[name="csrf-token"]');
  document.addEventListener("htmx:configRequest", function (event) {
    if (token) { event.detail.headers["X-CSRFToken"] = token.content; }
  });
  // A live region is replaced as a whole: keep the <details> the reader opened or closed.
  var openState = {};
  document.addEventListener("htmx:beforeSwap", function (event) {
    event.detail.target.querySelectorAll("details[id]").forEach(function (d) {
      openState[d.id] = d.open;
    });
  });
  document.addEventListener("htmx:afterSettle", function () {
    document.querySelectorAll("details[id]").forEach(function (d) {
      if (Object.prototype.hasOwnProperty.call(openState, d.id)) { d.open = openState[d.id]; }
    });
  });
  // A JSON editor says at once whether its text parses.
  document.addEventListener("input", function (event) {
    var area = event.target;
    if (!area.matches || !area.matches("textarea.code, textarea[name=data]")) { return; }
    var text = area.value.trim();
    var ok = true;
    if (text) { try { JSON.parse(text); } catch (e) { ok = false; } }
    area.classList.toggle("invalid-json", !ok);
    area.setCustomValidity(ok ? "" : "not valid JSON");
  });
})();
