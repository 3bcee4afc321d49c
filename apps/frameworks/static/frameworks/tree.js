// Framework tree: expand or collapse every group at once.
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-tree]");
  if (!button) return;
  var open = button.getAttribute("data-tree") === "open";
  document.querySelectorAll("[data-tree-root] details").forEach(function (details) {
    details.open = open;
  });
});
