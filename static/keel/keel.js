// Client switcher: jump to the chosen workspace (the form still works without JavaScript).
document.addEventListener("change", function (event) {
  if (event.target.matches("[data-switcher]")) {
    window.location.assign(event.target.value);
  }
});

// Forms marked data-confirm ask before a destructive submit.
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (form.matches("[data-confirm]") && !window.confirm(form.getAttribute("data-confirm"))) {
    event.preventDefault();
  }
});

// The bulk-action owner picker only matters for "Assign owner".
document.addEventListener("change", function (event) {
  if (event.target.matches("#bulk-action")) {
    var owner = document.querySelector("#bulk select[name=owner_email]");
    if (owner) owner.hidden = event.target.value !== "assign_owner";
  }
});
