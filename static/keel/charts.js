// Draw every plotly figure a page embeds (<div data-plotly-figure="id"> + <script type="application/json"
// id="id">), on load and after HTMX swaps. Clicking a point whose customdata is a URL path drills down to it.
(function () {
  "use strict";

  function drillTarget(point) {
    var data = point && point.customdata;
    if (Array.isArray(data)) data = data[0];
    return typeof data === "string" && (data.charAt(0) === "/" || data.charAt(0) === "?") ? data : null;
  }

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
      }).then(function () {
        el.on("plotly_click", function (event) {
          var target = event && event.points && drillTarget(event.points[0]);
          if (target) window.location.assign(target);
        });
      });
    });
  }

  window.KeelCharts = { draw: draw };
  document.addEventListener("DOMContentLoaded", function () {
    draw(document);
  });
  document.addEventListener("htmx:load", function (event) {
    draw(event.target && event.target.querySelectorAll ? event.target : document);
  });
})();
