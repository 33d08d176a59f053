// The portal's one script, served by the app (the CSP allows no inline script and no CDN).
// Pages work without it; it adds the reader's local time and shows cut values in full.
(function () {
  "use strict";
  function localTimes(root) {
    var zone = "";
    try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { zone = ""; }
    root.querySelectorAll("time[data-local]").forEach(function (el) {
      if (el.querySelector(".local")) { return; }
      var when = new Date(el.getAttribute("datetime"));
      if (isNaN(when.getTime())) { return; }
      var span = document.createElement("span");
      span.className = "local";
      span.textContent = when.toLocaleString(undefined, {
        year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit",
        minute: "2-digit", second: "2-digit", hour12: false, timeZoneName: "short"
      });
      el.appendChild(span);
    });
    root.querySelectorAll("[data-browser-zone]").forEach(function (el) { el.textContent = zone; });
  }
  function toggle(el) {
    var full = el.getAttribute("data-full");
    if (el.classList.contains("open")) {
      el.textContent = el.getAttribute("data-short");
      el.classList.remove("open");
    } else {
      el.setAttribute("data-short", el.textContent);
      el.textContent = full;
      el.classList.add("open");
    }
  }
  document.addEventListener("click", function (event) {
    var el = event.target.closest(".cut");
    if (el) { event.preventDefault(); toggle(el); }
  });
  document.addEventListener("keydown", function (event) {
    var el = event.target.closest && event.target.closest(".cut");
    if (el && (event.key === "Enter" || event.key === " ")) { event.preventDefault(); toggle(el); }
  });
  // A search form leaves its empty fields out of the URL: shorter bookmarks, same search.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches("form[method=get]")) { return; }
    form.querySelectorAll("input[name], select[name]").forEach(function (field) {
      if (field.value === "") { field.disabled = true; }
    });
  });
  document.addEventListener("DOMContentLoaded", function () { localTimes(document); });
})();
