// Cost explorer: the shared static/keel/charts.js draws the figure (and makes its bars drill down to the
// ledger rows), on load and after every HTMX swap. This only dims the explorer while it reloads, so a
// person sees the figures are being recomputed. Without JavaScript the page still has the table.
(function () {
  "use strict";

  document.addEventListener("htmx:beforeRequest", function (event) {
    var explorer = document.getElementById("explorer");
    if (explorer && explorer.contains(event.target)) explorer.classList.add("is-loading");
  });
  document.addEventListener("htmx:afterRequest", function () {
    var explorer = document.getElementById("explorer");
    if (explorer) explorer.classList.remove("is-loading");
  });
})();
