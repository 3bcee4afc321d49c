// Cost explorer: the shared static/keel/charts.js draws the figure (and makes its bars drill down to the
// ledger rows), on load and after every HTMX swap. This only dims the explorer while it reloads, so a
// person sees the figures are being recomputed, and marks it data-ready once HTMX has wired up the new
// controls (a change made before that would be lost). Without JavaScript the page still has the table.
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
  // htmx:load fires on new content after HTMX has processed it: on start-up and after each swap.
  document.addEventListener("htmx:load", function (event) {
    var explorer = document.getElementById("explorer");
    if (explorer && (event.target === explorer || event.target.contains(explorer))) explorer.dataset.ready = "1";
  });
})();
