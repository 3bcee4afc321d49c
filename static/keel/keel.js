// Client switcher: jump to the chosen workspace (the form still works without JavaScript).
document.addEventListener("change", function (event) {
  if (event.target.matches("[data-switcher]")) {
    window.location.assign(event.target.value);
  }
});
