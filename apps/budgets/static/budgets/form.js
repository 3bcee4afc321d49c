// The budget form shows only the target field of the chosen scope (without JavaScript all of them show).
(function () {
  "use strict";
  function sync(select) {
    document.querySelectorAll("[data-scope-target]").forEach(function (block) {
      block.hidden = block.getAttribute("data-scope-target") !== select.value;
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var select = document.getElementById("id_scope");
    if (!select) return;
    sync(select);
    select.addEventListener("change", function () { sync(select); });
  });
})();
