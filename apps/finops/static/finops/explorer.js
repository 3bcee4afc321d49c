// Cost explorer: draw the plotly figure the server built (JSON in a <script type="application/json">), on
// page load and after every HTMX swap of the explorer. Without JavaScript the page still has the table.
(function () {
  "use strict";

  function draw(root) {
    if (!window.Plotly) return;
    (root || document).querySelectorAll("[data-plotly-figure]").forEach(function (el) {
      if (el.getAttribute("data-drawn")) return;
      var source = document.getElementById(el.getAttribute("data-plotly-figure"));
      if (!source) return;
      var figure = JSON.parse(source.textContent);
      el.setAttribute("data-drawn", "1");
      window.Plotly.newPlot(el, figure.data, figure.layout, {
        responsive: true,
        displaylogo: false,
        modeBarButtonsToRemove: ["select2d", "lasso2d", "autoScale2d"],
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    draw(document);
  });
  document.addEventListener("htmx:load", function (event) {
    draw(event.target && event.target.querySelectorAll ? event.target : document);
  });
  // While the explorer reloads, dim it so a person sees the figures are being recomputed.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var explorer = document.getElementById("explorer");
    if (explorer && explorer.contains(event.target)) explorer.classList.add("is-loading");
  });
  document.addEventListener("htmx:afterRequest", function () {
    var explorer = document.getElementById("explorer");
    if (explorer) explorer.classList.remove("is-loading");
  });
})();
