// Behaviour every page shares, kept out of the markup so the pages run under a
// Content-Security-Policy without inline scripts.
(function () {
  "use strict";
  // Print buttons (receipts, slips, labels, certificates).
  document.addEventListener("click", function (e) {
    const b = e.target.closest("[data-print]");
    if (b) {
      e.preventDefault();
      window.print();
    }
  });
  // The critical-value banner's acknowledge forms return to the page they were sent from.
  document.addEventListener("htmx:afterSwap", function (e) {
    if (e.target.id !== "lab-alerts") return;
    e.target.querySelectorAll("[data-back]").forEach(function (i) {
      i.value = location.pathname + location.search;
    });
  });
})();
