// The console's only script: live refresh of the overview, confirmations. No framework.
"use strict";
(function () {
  // Ask before destructive actions (forms marked data-confirm).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { event.preventDefault(); }
  });
  // Filters apply as they change.
  var filters = document.getElementById("filters");
  if (filters) {
    filters.addEventListener("change", function () { filters.submit(); });
  }
  // The overview's rows are rendered by the server; poll for them and swap the table body.
  var table = document.getElementById("overview");
  if (!table) { return; }
  // The summary counts what the rows show (only when no filter hides some).
  function countStatuses() {
    if (new URLSearchParams(window.location.search).get("q") ||
        new URLSearchParams(window.location.search).get("status")) { return; }
    ["ok", "warning", "error"].forEach(function (status) {
      var badge = document.getElementById("count-" + status);
      if (badge) { badge.textContent = document.querySelectorAll('#rows tr[data-status="' + status + '"]').length; }
    });
  }
  var every = parseInt(table.getAttribute("data-refresh"), 10) || 5000;
  function refresh() {
    var params = new URLSearchParams(window.location.search);
    params.set("partial", "rows");
    fetch("/?" + params.toString(), { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) {
        if (response.redirected || response.status === 401) { window.location.reload(); return null; }
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        if (html === null) { return; }
        var body = document.getElementById("rows");
        var focused = document.activeElement && document.activeElement.closest("#rows");
        if (body && !focused) {
          body.innerHTML = html;
          table.setAttribute("data-updated", Date.now());
          countStatuses();
        }
      })
      .catch(function () { /* the next poll tries again */ })
      .finally(function () { window.setTimeout(refresh, every); });
  }
  window.setTimeout(refresh, every);
})();
