// Notification clocks count down live: every [data-due] element is rewritten each 30 seconds from its ISO due
// time ("due in 5 h 12 min", "overdue by 2 h"); the server-rendered text stays for readers without JavaScript.
(function () {
  function span(ms) {
    var s = Math.floor(Math.abs(ms) / 1000);
    var days = Math.floor(s / 86400), hours = Math.floor((s % 86400) / 3600), minutes = Math.floor((s % 3600) / 60);
    if (days) return days + (days === 1 ? " day" : " days") + (hours ? " " + hours + " h" : "");
    if (hours) return hours + " h" + (minutes ? " " + minutes + " min" : "");
    if (minutes) return minutes + " min";
    return "under a minute";
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-due]").forEach(function (el) {
      var due = Date.parse(el.getAttribute("data-due"));
      if (isNaN(due)) return;
      var left = due - now;
      el.textContent = left > 0 ? "due in " + span(left) : "overdue by " + span(left);
      if (left <= 0) el.classList.add("sev-critical");
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    tick();
    window.setInterval(tick, 30000);
  });
})();
