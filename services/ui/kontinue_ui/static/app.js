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
  // The executions list's checkboxes live in its live region: keep what the reader checked
  // when a refresh replaces the rows.
  var picked = {};
  document.addEventListener("htmx:beforeSwap", function (event) {
    picked = {};
    event.detail.target.querySelectorAll("input.pick:checked").forEach(function (box) {
      picked[box.value] = true;
    });
  });
  document.addEventListener("htmx:afterSettle", function () {
    document.querySelectorAll("input.pick").forEach(function (box) {
      if (picked[box.value]) { box.checked = true; }
    });
  });
  // Forms that ask first (Cancel): the question is in data-confirm, not in an inline handler,
  // so the Content-Security-Policy can forbid inline script.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { event.preventDefault(); }
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
