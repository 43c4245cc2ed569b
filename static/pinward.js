// pinward: optional niceties only; every page works without this script.
"use strict";
// Forms marked data-confirm ask before submitting (rotate, release, out-of-band,
// deactivate, removing a recovery recipient).
document.addEventListener("submit", (event) => {
  const message = event.target.getAttribute("data-confirm");
  if (message && !window.confirm(message)) {
    event.preventDefault();
    return;
  }
  // A second click while the first submission is on its way would send the form twice.
  if (event.target.dataset.sent) {
    event.preventDefault();
    return;
  }
  event.target.dataset.sent = "yes";
});
// Back from the browser's page cache, a form may be sent again.
window.addEventListener("pageshow", () => {
  document.querySelectorAll("form[data-sent]").forEach((form) => delete form.dataset.sent);
});
