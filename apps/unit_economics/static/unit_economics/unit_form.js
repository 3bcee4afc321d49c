// The business unit form: show only the field its "measured against" choice needs (all stay in the page, so
// the form works the same without JavaScript).
(function () {
  "use strict";
  function update(form) {
    var checked = form.querySelector('input[name="scope_kind"]:checked');
    var kind = checked ? checked.value : "client";
    form.querySelectorAll("[data-scope-target]").forEach(function (el) {
      el.hidden = el.getAttribute("data-scope-target") !== kind;
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-unit-form]").forEach(function (form) {
      update(form);
      form.addEventListener("change", function (event) {
        if (event.target && event.target.name === "scope_kind") update(form);
      });
    });
  });
})();
